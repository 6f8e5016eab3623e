"""Operation registry: one plain function per operation, found by name.

    @operation("DetectFaces")
    def detect_faces(ctx: RequestContext, params: dict) -> dict: ...

`params` arrive validated against the service model with blobs decoded to bytes; AWS
defaults are not filled in (each handler applies its own, as the docs state them).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable
from typing import Any

from rekognition_emulator.emulator.server.service_model import operation_names

log = logging.getLogger("rekognition_emulator")

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
_load_lock = threading.Lock()
# module -> error text, for modules that failed to import (shown by /_emulator/health)
IMPORT_ERRORS: dict[str, str] = {}


def load_handlers() -> None:
    """Import every module of the `handlers` package so their decorators run.

    A module that fails to import is logged and reported, and its operations answer
    NotImplementedException: one broken family must not take the whole service down.
    """
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        from rekognition_emulator import handlers

        for info in pkgutil.iter_modules(handlers.__path__):
            if info.name.startswith("_"):
                continue
            try:
                importlib.import_module(f"{handlers.__name__}.{info.name}")
            except Exception as exc:
                log.exception("handlers.%s failed to import", info.name)
                IMPORT_ERRORS[info.name] = f"{type(exc).__name__}: {exc}"
        _loaded = True
