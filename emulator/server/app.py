"""The Starlette app: Rekognition on `POST /`, the embedded S3 elsewhere, admin on /_emulator/."""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rekognition_emulator.emulator import __version__
from rekognition_emulator.emulator.server import auth, errors, protocol
from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from rekognition_emulator.emulator.server.registry import (
    IMPORT_ERRORS,
    handler_for,
    implemented,
    load_handlers,
)
from rekognition_emulator.emulator.server.validation import validate_input

log = logging.getLogger("rekognition_emulator")


def _error_response(error: errors.AWSError, request_id: str) -> Response:
    return Response(
        protocol.error_body(error),
        status_code=error.status,
        media_type=protocol.CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code},
    )


def _lower_headers(request: Request) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]}


async def _rekognition(request: Request, state: AppState) -> Response:
    request_id = str(uuid.uuid4())
    started = time.perf_counter()
    operation = "-"
    try:
        body = await request.body()
        headers = _lower_headers(request)
        caller = auth.identify(state.config, request.method, str(request.url), headers, body)
        operation = protocol.operation_from_target(headers.get("x-amz-target"))
        # The body is read and checked before dispatch, as AWS's front end does: a malformed
        # or invalid request earns its SerializationException / ValidationException even for
        # an operation the emulator does not implement yet.
        params = validate_input(operation, protocol.parse_body(body))
        handler = handler_for(operation)
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
            protocol.serialize(result if result is not None else {}),
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
            return _error_response(errors.InternalServerError(message), request_id)
        log.exception("%s failed with an unexpected error (request %s)", operation, request_id)
        response = _error_response(
            errors.InternalServerError(
                f"Internal server error in {operation}; the emulator's log has the details "
                f"(request id {request_id})."
            ),
            request_id,
        )
    log.info(
        "%s %d %.1fms", operation, response.status_code, (time.perf_counter() - started) * 1000
    )
    return response


def _is_missing_model(exc: Exception) -> bool:
    try:
        from rekognition_emulator.models.store import ModelStoreError
    except ImportError:
        return False
    return isinstance(exc, ModelStoreError)


async def _s3(request: Request, state: AppState) -> Response:
    from rekognition_emulator.emulator.aws.s3 import EmbeddedS3

    started = time.perf_counter()
    if state.config.s3_endpoint_url:
        return Response(
            b"The embedded S3 is off: this emulator reads S3 objects from "
            + state.config.s3_endpoint_url.encode(),
            status_code=404,
        )
    s3 = state.singleton("s3", lambda: EmbeddedS3(state.config.data_dir / "s3"))
    body = await request.body()
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
    result = await run_in_threadpool(
        s3.handle,
        request.method,
        request.headers.get("host", "localhost"),
        request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?")[0],
        request.url.query,
        headers,
        body,
    )
    log.info(
        "S3 %s %s %d %.1fms",
        request.method,
        request.url.path,
        result.status,
        (time.perf_counter() - started) * 1000,
    )
    return Response(result.body, status_code=result.status, headers=dict(result.headers))


def create_app(config: Config) -> Starlette:
    state = AppState(config)

    async def root(request: Request) -> Response:
        # Rekognition speaks JSON 1.1 on POST / with X-Amz-Target; everything else is S3.
        if (
            request.method == "POST"
            and request.url.path == "/"
            and (
                "x-amz-target" in request.headers
                or request.headers.get("content-type", "").startswith("application/x-amz-json")
            )
        ):
            return await _rekognition(request, state)
        return await _s3(request, state)

    async def health(request: Request) -> Response:
        return JSONResponse(health_report(state))

    async def reset(request: Request) -> Response:
        await run_in_threadpool(state.reset)
        log.info("state reset")
        return JSONResponse({"reset": True})

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        load_handlers()
        # Open the face store now, so saved indexes load while the server is idle and a second
        # server on the same data dir is refused at start, not at its first request.
        from rekognition_emulator.emulator.store import warm

        warm(state)
        # The job engine too: jobs a previous run left unfinished are queued again now.
        from rekognition_emulator.emulator.jobs import engine

        engine(state)
        log.info(
            "rekognition-emulator %s: %d operations implemented, data in %s, auth %s",
            __version__,
            len(implemented()),
            config.data_dir,
            config.auth,
        )
        yield
        state.close()

    from rekognition_emulator.emulator.jobs import admin as jobs_admin

    methods = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/_emulator/health", health, methods=["GET"]),
            Route("/_emulator/reset", reset, methods=["POST"]),
            # Until the registry's @admin_route exists (the lead moves these two there).
            Route("/_emulator/jobs", jobs_admin.route(jobs_admin.list_jobs, state)),
            Route("/_emulator/jobs/{job_id}", jobs_admin.route(jobs_admin.get_job, state)),
            Route("/{path:path}", root, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.emulator = state
    return app


def health_report(state: AppState) -> dict[str, Any]:
    config = state.config
    report: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "data_dir": str(config.data_dir),
        "auth": config.auth,
        "s3": config.s3_endpoint_url or "embedded",
        "operations_implemented": implemented(),
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
