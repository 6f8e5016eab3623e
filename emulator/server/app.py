"""The Starlette app: every request on "/" goes to the service it is for (router.py):
Rekognition to the handler table the app was given, S3, SNS, SQS, IAM and Kinesis to moto's
embedded backends, any other service to its own protocol's error; admin on /_emulator/."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from rekognition_emulator.emulator import __version__, inspector
from rekognition_emulator.emulator.server import (
    auth,
    errors,
    faults,
    ids,
    protocol,
    router,
    serializer,
)
from rekognition_emulator.emulator.server.config import Config, account_for_access_key
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from rekognition_emulator.emulator.server.registry import (
    ADMIN_PREFIX,
    IMPORT_ERRORS,
    AdminEndpoint,
    Handler,
    admin_route,
    admin_routes,
    all_operations,
    load_handlers,
    start_hooks,
)
from rekognition_emulator.emulator.server.validation import validate_input

log = logging.getLogger("rekognition_emulator")

# SQS long polls hold a thread for up to 20 s each; they get threads of their own so that
# waiting polls never take the threads every other request runs on.
LONG_POLL_THREADS = 64


def _error_response(error: errors.AWSError, request_id: str) -> Response:
    return Response(
        protocol.error_body(error),
        status_code=error.status,
        media_type=protocol.CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code},
    )


def _lower_headers(request: Request) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]}


async def _rekognition(
    request: Request, state: AppState, headers: dict[str, str], body: bytes
) -> Response:
    request_id = ids.request_id()
    arrived = time.time()
    started = time.perf_counter()
    operation = "-"
    caller: auth.Caller | None = None
    params: dict[str, Any] | None = None
    fault: faults.Fault | None = None
    try:
        caller = auth.identify(state.config, request.method, str(request.url), headers, body)
        operation = protocol.operation_from_target(headers.get("x-amz-target"))
        # The body is read and checked before dispatch, as AWS's front end does: a malformed
        # or invalid request earns its SerializationException / ValidationException even for
        # an operation the emulator does not implement yet.
        params = validate_input(operation, protocol.parse_body(body))
        # A test's fault rule (POST /_emulator/faults) answers in place of the handler.
        fault = faults.faults(state).match(operation, caller.account, caller.region)
        if fault is not None:
            await fault.apply()
        handler = state.operations.get(operation)
        if handler is None:
            raise errors.NotImplementedException(
                f"The operation {operation} is not implemented by rekognition-emulator yet."
            )
        ctx = RequestContext(
            account=caller.account,
            region=caller.region,
            request_id=request_id,
            operation=operation,
            state=state,
            access_key=caller.access_key,
        )
        result = await run_in_threadpool(handler, ctx, params)
        response = Response(
            serializer.serialize_output(operation, result if result is not None else {}),
            media_type=protocol.CONTENT_TYPE,
            headers={"x-amzn-RequestId": request_id},
        )
    except errors.AWSError as exc:
        response = _error_response(exc, request_id)
    except Exception as exc:
        if _is_missing_model(exc):
            # Not a bug: the model cache is empty and cannot be filled from here. Say what to do.
            log.error("%s needs a model that is not available: %s", operation, exc)
            message = f"{operation} needs a model file that is not available here: {exc}"
            response = _error_response(errors.InternalServerError(message), request_id)
        else:
            log.exception("%s failed with an unexpected error (request %s)", operation, request_id)
            response = _error_response(
                errors.InternalServerError(
                    f"Internal server error in {operation}; the emulator's log has the details "
                    f"(request id {request_id})."
                ),
                request_id,
            )
    elapsed = (time.perf_counter() - started) * 1000
    log.info("%s %d %.1fms", operation, response.status_code, elapsed)
    journal = inspector.journal(state)
    if journal is not None:
        journal.record(
            service="Rekognition",
            operation=operation,
            status=response.status_code,
            ms=elapsed,
            account=caller.account if caller else "-",
            region=caller.region if caller else "-",
            request_id=request_id,
            started=arrived,
            error=response.headers.get("x-amzn-ErrorType"),
            fault=fault.rule_id if fault else None,
            params=params,
            response=response.body,
        )
    return response


def _record_other(
    state: AppState,
    service: str,
    action: str,
    status: int,
    started: float,
    access_key: str | None,
    region: str | None,
) -> None:
    """The journal's line for a request to S3, SNS, SQS, IAM or Kinesis (no bodies kept)."""
    journal = inspector.journal(state)
    if journal is not None:
        elapsed = time.perf_counter() - started
        journal.record(
            service=service,
            operation=action,
            status=status,
            ms=elapsed * 1000,
            account=account_for_access_key(access_key),
            region=region or "-",
            request_id="",
            started=time.time() - elapsed,
        )


def _is_missing_model(exc: Exception) -> bool:
    try:
        from rekognition_emulator.models.store import ModelStoreError
    except ImportError:
        return False
    return isinstance(exc, ModelStoreError)


def _wire_request(request: Request, body: bytes) -> Any:
    from rekognition_emulator.emulator.aws.wire import WireRequest

    return WireRequest(
        method=request.method,
        host=request.headers.get("host", "localhost"),
        path=request.scope.get("raw_path", request.url.path.encode())
        .decode("latin-1")
        .split("?")[0],
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
        body=body,
    )


def _reply(wire: Any) -> Response:
    return Response(wire.body, status_code=wire.status, headers=dict(wire.headers))


async def _s3(request: Request, state: AppState, headers: dict[str, str], body: bytes) -> Response:
    from rekognition_emulator.emulator.aws.s3 import s3_for
    from rekognition_emulator.emulator.aws.wire import error_reply

    started = time.perf_counter()
    if state.config.s3_endpoint_url:
        result = error_reply(
            "rest-xml",
            "The embedded S3 is off: this emulator uses the S3 at "
            f"{state.config.s3_endpoint_url} (--s3-endpoint-url); send S3 requests there.",
            ids.request_id(),
        )
    else:
        wire = _wire_request(request, body)
        s3 = s3_for(state)
        result = await run_in_threadpool(
            s3.handle, wire.method, wire.host, wire.path, wire.query, wire.headers, wire.body
        )
    log.info(
        "S3 %s %s %d %.1fms",
        request.method,
        request.url.path,
        result.status,
        (time.perf_counter() - started) * 1000,
    )
    return _reply(result)


async def _aws(
    request: Request,
    state: AppState,
    dest: router.Destination,
    headers: dict[str, str],
    body: bytes,
    long_polls: anyio.CapacityLimiter,
) -> Response:
    """SNS, SQS, IAM, Kinesis (embedded or external), or another service's error."""
    from rekognition_emulator.emulator.aws.services import SPECS, aws_services
    from rekognition_emulator.emulator.aws.wire import error_reply, reply_protocol, service_title

    started = time.perf_counter()
    spec = SPECS.get(dest.service or "")
    external = aws_services(state).external_url(spec.name) if spec else None
    if spec is not None and not external:
        service = aws_services(state).embedded(spec.name)
        account = account_for_access_key(dest.access_key)
        result = await anyio.to_thread.run_sync(
            service.handle,
            _wire_request(request, body),
            dest.action,
            account,
            limiter=long_polls if dest.action in spec.unlocked else None,
        )
        title = spec.title
    else:
        title = service_title(dest.service)
        if spec is not None:
            message = (
                f"{title} is not served on this port: this emulator uses the {title} at "
                f"{external} (--{spec.name}-endpoint-url); send {title} requests there."
            )
        elif dest.service is None:
            message = (
                f"No service on this port has the action {dest.action!r}. This port serves "
                f"{router.SERVED}."
            )
        else:
            message = (
                f"rekognition-emulator does not serve {title}: this port serves "
                f"{router.SERVED}. Send {title} requests to AWS or to another emulator."
            )
        protocol_name = reply_protocol(dest.service, headers, dest.action is not None)
        result = error_reply(
            protocol_name, message, ids.request_id(), content_type=headers.get("content-type")
        )
    log.info(
        "%s %s %d %.1fms",
        title,
        dest.action or request.method,
        result.status,
        (time.perf_counter() - started) * 1000,
    )
    return _reply(result)


def _service_title(service: str | None) -> str:
    from rekognition_emulator.emulator.aws.wire import service_title

    return service_title(service)


def _admin_endpoint(fn: AdminEndpoint, state: AppState) -> Any:
    if inspect.iscoroutinefunction(fn):

        async def run_async(request: Request) -> Response:
            return await fn(request, state)

        return run_async

    async def run_sync(request: Request) -> Response:
        return await run_in_threadpool(fn, request, state)

    return run_sync


@admin_route("/_emulator/health", methods=["GET"])
async def health(request: Request, state: AppState) -> Response:
    return JSONResponse(health_report(state))


@admin_route("/_emulator/reset", methods=["POST"])
def reset(request: Request, state: AppState) -> Response:
    state.reset()
    log.info("state reset")
    return JSONResponse({"reset": True})


def create_app(config: Config, operations: Mapping[str, Handler] | None = None) -> Starlette:
    """The app serving `operations` (None: every operation the handler modules register).

    A test serves fakes with `create_app(config, {"DetectFaces": fake})`: nothing global is
    patched. Admin routes come from `@admin_route` registrations."""
    load_handlers()  # families register admin routes (and operations) as they are imported
    from rekognition_emulator.emulator.inspector import pages  # noqa: F401 - /_emulator/ui
    from rekognition_emulator.emulator.jobs import admin  # noqa: F401 - /_emulator/jobs pages

    ids.configure(config.seed, config.data_dir)
    state = AppState(config)
    state.operations = dict(all_operations() if operations is None else operations)
    _configure_models(config)
    long_polls = anyio.CapacityLimiter(LONG_POLL_THREADS)

    async def root(request: Request) -> Response:
        headers = _lower_headers(request)
        body = await request.body()
        query = request.scope.get("query_string", b"").decode("latin-1")
        dest = router.route(request.method, request.url.path, query, headers, body)
        if dest.service == router.REKOGNITION:
            return await _rekognition(request, state, headers, body)
        started = time.perf_counter()
        if dest.service == router.S3:
            response = await _s3(request, state, headers, body)
            action = f"{request.method} {request.url.path}"
        else:
            response = await _aws(request, state, dest, headers, body, long_polls)
            action = dest.action or request.method
        _record_other(
            state,
            _service_title(dest.service),
            action,
            response.status_code,
            started,
            dest.access_key,
            dest.region,
        )
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        # Open the face store now, so saved indexes load while the server is idle and a second
        # server on the same data dir is refused at start, not at its first request.
        from rekognition_emulator.emulator.aws.services import aws_services
        from rekognition_emulator.emulator.store import warm

        warm(state)
        aws_services(state).warm()
        # The job engine too: jobs a previous run left unfinished are queued again now.
        from rekognition_emulator.emulator.jobs import engine

        engine(state)
        for hook in start_hooks():  # the families' start-up work (e.g. a folder to read)
            await run_in_threadpool(hook, state)
        log.info(
            "rekognition-emulator %s: %d operations implemented, data in %s, auth %s",
            __version__,
            len(state.operations),
            config.data_dir,
            config.auth,
        )
        yield
        state.close()

    methods = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"]
    # The admin routes sit behind one prefix, so that a request to "/" (every AWS call) is
    # matched against one Mount rather than against each admin route in turn.
    prefix = ADMIN_PREFIX.rstrip("/")
    admin_pages = [
        Route(
            r.path.removeprefix(prefix), _admin_endpoint(r.endpoint, state), methods=list(r.methods)
        )
        for r in admin_routes()
    ]
    app = Starlette(
        routes=[Mount(prefix, routes=admin_pages), Route("/{path:path}", root, methods=methods)],
        lifespan=lifespan,
    )
    app.state.emulator = state
    return app


def _configure_models(config: Config) -> None:
    """Hand the models library its settings explicitly (it never reads the server's Config)."""
    try:
        from rekognition_emulator.models import runtime, store
    except ImportError:
        return
    store.configure(config.models_dir)
    runtime.configure(config.threads)


def health_report(state: AppState) -> dict[str, Any]:
    from rekognition_emulator.emulator.aws.services import aws_services

    config = state.config
    report: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "data_dir": str(config.data_dir),
        "auth": config.auth,
        "s3": config.s3_endpoint_url or "embedded",
        "services": {"s3": config.s3_endpoint_url or "embedded", **aws_services(state).health()},
        "operations_implemented": sorted(state.operations),
        "handler_import_errors": dict(IMPORT_ERRORS),
    }
    report["models"] = _models_report(config)
    return report


def _models_report(config: Config) -> dict[str, Any]:
    try:
        from rekognition_emulator.models import runtime, store
    except ImportError:
        return {"available": False, "loaded": [], "present": []}
    report: dict[str, Any] = {"loaded": runtime.loaded()}
    try:
        report["dir"] = str(store.default_store().root)
        report["present"] = [
            row["name"] if isinstance(row, dict) else getattr(row, "name", str(row))
            for row in store.default_store().list()
            if (row.get("present") if isinstance(row, dict) else getattr(row, "present", False))
        ]
    except Exception as exc:  # the health check must answer even when the store cannot
        report["error"] = str(exc)
    return report
