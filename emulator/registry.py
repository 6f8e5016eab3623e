"""Operation registry: one plain function per operation, found by name.

    @operation("DetectFaces")
    def detect_faces(ctx: RequestContext, params: dict) -> dict: ...

`params` arrive validated against the service model with blobs decoded to bytes; AWS
defaults are not filled in (each handler applies its own, as the docs state them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.service_model import operation_names

Handler = Callable[..., dict[str, Any]]

_HANDLERS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    if name not in operation_names():
        raise ValueError(f"{name} is not an operation of the Rekognition service model")

    def register(fn: Handler) -> Handler:
        if name in _HANDLERS and _HANDLERS[name] is not fn:
            raise ValueError(f"operation {name} registered twice")
        _HANDLERS[name] = fn
        return fn

    return register


def handler_for(name: str) -> Handler | None:
    load_handlers()
    return _HANDLERS.get(name)


def implemented() -> list[str]:
    load_handlers()
    return sorted(_HANDLERS)


_loaded = False


def load_handlers() -> None:
    """Import every module of the `handlers` package so their decorators run."""
    global _loaded
    if _loaded:
        return
    import importlib
    import pkgutil

    import handlers

    for info in pkgutil.iter_modules(handlers.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"handlers.{info.name}")
    _loaded = True
