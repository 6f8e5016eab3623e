"""`GET /_emulator/jobs` and `GET /_emulator/jobs/{id}`: what the job engine is doing.

    /_emulator/jobs?account=&region=&kind=&status=&limit=   newest first
    /_emulator/jobs/{job_id}[?account=&region=]              one job

Status filters: QUEUED, IN_PROGRESS (queued or running, as AWS reports it), SUCCEEDED,
FAILED, STOPPED. Endpoints take (request, state) as the registry's admin routes do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rekognition_emulator.emulator.jobs import engine
from rekognition_emulator.emulator.server.registry import admin_route

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

STATUSES = ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "STOPPED")


@admin_route("/_emulator/jobs", methods=["GET"])
async def list_jobs(request: Request, state: AppState) -> Response:
    query = request.query_params
    status = query.get("status")
    if status and status.upper() not in STATUSES:
        return JSONResponse(
            {"error": f"status must be one of {', '.join(STATUSES)}, not {status!r}"},
            status_code=400,
        )
    try:
        limit = int(query.get("limit", "1000"))
    except ValueError:
        return JSONResponse({"error": "limit must be a whole number"}, status_code=400)
    jobs = await run_in_threadpool(
        engine(state).list,
        account=query.get("account"),
        region=query.get("region"),
        kind=query.get("kind"),
        status=status.upper() if status else None,
        limit=max(1, min(limit, 10_000)),
    )
    return JSONResponse({"jobs": [job.admin() for job in jobs]})


@admin_route("/_emulator/jobs/{job_id}", methods=["GET"])
async def get_job(request: Request, state: AppState) -> Response:
    job_id = request.path_params["job_id"]
    account = request.query_params.get("account")
    region = request.query_params.get("region")
    found = [
        job
        for job in await run_in_threadpool(engine(state).find, job_id)
        if (not account or job.account == account) and (not region or job.region == region)
    ]
    if not found:
        return JSONResponse({"error": f"no job {job_id}"}, status_code=404)
    if len(found) > 1:
        return JSONResponse(
            {
                "error": f"{len(found)} jobs have the id {job_id}: add ?account=&region=",
                "jobs": [job.admin() for job in found],
            },
            status_code=409,
        )
    return JSONResponse(found[0].admin())
