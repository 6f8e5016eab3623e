"""What the families plug into the shell: operations, admin routes and CLI subcommands.

    @operation("DetectFaces")
    def detect_faces(ctx: RequestContext, params: dict) -> dict: ...

    @admin_route("/_emulator/jobs/{job_id}", methods=["GET"])
    async def job(request: Request, state: AppState) -> Response: ...   # or a plain def

    @cli_command("calibrate", help="measure thresholds on your photos")
    def calibrate(argv: list[str]) -> int: ...

    @on_start
    def read_gallery_folder(state: AppState) -> None: ...   # before the first request

`params` arrive validated against the service model with blobs decoded to bytes; AWS
defaults are not filled in (each handler applies its own, as the docs state them).

Registration only records; the app is built from a table of operations it is given
(`create_app(config, operations)`), by default `all_operations()`, so a test serves a fake
handler without touching this module's tables. A family registers admin routes and CLI
subcommands here, so that app.py and cli.py never change when a family arrives; and work
to do when a server starts (`@on_start`), before it answers its first request.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rekognition_emulator.emulator.server.service_model import operation_names

log = logging.getLogger("rekognition_emulator")

Handler = Callable[..., dict[str, Any]]
AdminEndpoint = Callable[..., Any]  # (request, state) -> Response, async or not
Command = Callable[[list[str]], int]
StartHook = Callable[[Any], None]  # (AppState) -> None

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


def all_operations() -> dict[str, Handler]:
    """Every operation the handler modules register (a copy: the caller may extend it)."""
    load_handlers()
    return dict(_HANDLERS)


def implemented() -> list[str]:
    return sorted(all_operations())


# -- admin routes -------------------------------------------------------------------------
ADMIN_PREFIX = "/_emulator/"


@dataclass(frozen=True)
class AdminRoute:
    path: str
    methods: tuple[str, ...]
    endpoint: AdminEndpoint


_ADMIN: list[AdminRoute] = []


def admin_route(
    path: str, methods: Sequence[str] = ("GET",)
) -> Callable[[AdminEndpoint], AdminEndpoint]:
    """An endpoint under /_emulator/ (Starlette path syntax: `/_emulator/jobs/{job_id}`)."""
    if not path.startswith(ADMIN_PREFIX):
        raise ValueError(f"admin routes live under {ADMIN_PREFIX}, not {path!r}")
    wanted = tuple(m.upper() for m in methods)

    def register(fn: AdminEndpoint) -> AdminEndpoint:
        for route in _ADMIN:
            if route.path == path and set(route.methods) & set(wanted):
                if route.endpoint is fn:
                    return fn
                raise ValueError(f"admin route {path} {sorted(wanted)} registered twice")
        _ADMIN.append(AdminRoute(path, wanted, fn))
        return fn

    return register


def admin_routes() -> list[AdminRoute]:
    load_handlers()
    return list(_ADMIN)


# -- CLI subcommands ----------------------------------------------------------------------
@dataclass(frozen=True)
class CliCommand:
    name: str
    help: str
    run: Command


_COMMANDS: dict[str, CliCommand] = {}


def cli_command(name: str, help: str = "") -> Callable[[Command], Command]:
    """A `rekognition-emulator <name> ...` subcommand: `run(argv) -> exit status`."""

    def register(fn: Command) -> Command:
        known = _COMMANDS.get(name)
        if known is not None and known.run is not fn:
            raise ValueError(f"command {name} registered twice")
        _COMMANDS[name] = CliCommand(name, help, fn)
        return fn

    return register


def cli_commands() -> Mapping[str, CliCommand]:
    return dict(_COMMANDS)


# -- start-up work ------------------------------------------------------------------------
_ON_START: list[StartHook] = []


def on_start(fn: StartHook) -> StartHook:
    """Run `fn(state)` when a server starts, after its store and job engine are open and
    before it answers a request (e.g. reading a folder the configuration names)."""
    if fn not in _ON_START:
        _ON_START.append(fn)
    return fn


def start_hooks() -> list[StartHook]:
    load_handlers()
    return list(_ON_START)


# -- discovery ----------------------------------------------------------------------------
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
