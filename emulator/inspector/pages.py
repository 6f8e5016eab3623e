"""The inspector's page and the JSON it reads (admin routes, never on "/").

    GET    /_emulator/ui                                   the page (static/index.html)
    GET    /_emulator/ui/static/{name}                     its script and style sheet
    GET    /_emulator/ui/api/requests?after=SEQ&limit=N    the journal, newest first
    DELETE /_emulator/ui/api/requests                      empty the journal
    GET    /_emulator/ui/api/requests/{seq}                one request: params, response, images
    GET    /_emulator/ui/api/requests/{seq}/image?member=Image   that image's bytes
    GET    /_emulator/ui/api/collections?q=                every account's and region's collections
    GET    /_emulator/ui/api/collections/{account}/{region}/{id}?q=   faces and users
    GET    /_emulator/ui/api/faces/{face_id}/thumbnail     the face as IndexFaces cropped it
    GET    /_emulator/ui/api/jobs/{job_id}/results?account=&region=   a job and its result items

The jobs list itself is the job engine's own `GET /_emulator/jobs`.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from rekognition_emulator.emulator.inspector import browse, journal
from rekognition_emulator.emulator.inspector.thumbnails import thumbnails
from rekognition_emulator.emulator.media.images import image_format
from rekognition_emulator.emulator.server.registry import admin_route

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

STATIC = resources.files("rekognition_emulator.emulator.inspector") / "static"
MEDIA_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(html|js|css)$")
RESULT_ITEMS = 5000  # a job's result items shown at most


def _error(message: str, status: int = 404) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        return default


@admin_route("/_emulator/ui", methods=["GET"])
async def page(request: Request, state: AppState) -> Response:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


@admin_route("/_emulator/ui/static/{name}", methods=["GET"])
async def static(request: Request, state: AppState) -> Response:
    name = request.path_params["name"]
    source = STATIC / name
    if not _STATIC_NAME.match(name) or not source.is_file():
        return _error(f"no file {name}")
    suffix = "." + name.rsplit(".", 1)[1]
    return Response(
        source.read_bytes(),
        media_type=MEDIA_TYPES[suffix],
        headers={"Cache-Control": "no-cache"},
    )


# -- the request journal --------------------------------------------------------------------
@admin_route("/_emulator/ui/api/requests", methods=["GET"])
async def requests(request: Request, state: AppState) -> Response:
    found = journal(state)
    if found is None:
        return JSONResponse({"enabled": False, "requests": []})
    entries = found.entries(after=_int(request, "after", 0), limit=_int(request, "limit", 0))
    return JSONResponse(
        {
            "enabled": True,
            "requests": [e.summary() for e in entries],
            "size": found.size,
            "image_bytes_held": found.held(),
        }
    )


@admin_route("/_emulator/ui/api/requests", methods=["DELETE"])
async def clear_requests(request: Request, state: AppState) -> Response:
    found = journal(state)
    if found is not None:
        found.clear()
    return JSONResponse({"requests": []})


@admin_route("/_emulator/ui/api/requests/{seq:int}", methods=["GET"])
async def request_detail(request: Request, state: AppState) -> Response:
    found = journal(state)
    entry = found.get(request.path_params["seq"]) if found is not None else None
    if entry is None:
        return _error(f"request {request.path_params['seq']} is no longer in the journal")
    return JSONResponse(entry.detail())


@admin_route("/_emulator/ui/api/requests/{seq:int}/image", methods=["GET"])
def request_image(request: Request, state: AppState) -> Response:
    found = journal(state)
    entry = found.get(request.path_params["seq"]) if found is not None else None
    if entry is None:
        return _error(f"request {request.path_params['seq']} is no longer in the journal")
    member = request.query_params.get("member", "Image")
    data = entry.images.get(member)
    if data is None:
        s3 = _s3_object(entry.params, member)
        if s3 is None:
            why = entry.omitted.get(member, "the request has no such image")
            return _error(f"{member}: {why}")
        data = _read_s3(state, entry.account, s3)
        if data is None:
            return _error(f"{member}: s3://{s3.get('Bucket')}/{s3.get('Name')} cannot be read now")
    fmt = image_format(data)
    return Response(data, media_type=f"image/{fmt}" if fmt else "application/octet-stream")


def _s3_object(params: Any, member: str) -> dict[str, Any] | None:
    value = params
    for key in member.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    s3 = value.get("S3Object") if isinstance(value, dict) else None
    return s3 if isinstance(s3, dict) else None


def _read_s3(state: AppState, account: str, s3: dict[str, Any]) -> bytes | None:
    """The object as it is now (the journal keeps a reference, not the bytes)."""
    from rekognition_emulator.emulator.aws.s3 import s3_for

    try:
        return s3_for(state).get_object(account, s3["Bucket"], s3["Name"], s3.get("Version"))
    except Exception:
        return None


# -- collections and faces ------------------------------------------------------------------
@admin_route("/_emulator/ui/api/collections", methods=["GET"])
def collections(request: Request, state: AppState) -> Response:
    return JSONResponse(
        {"collections": browse.collections(state, request.query_params.get("q", ""))}
    )


@admin_route("/_emulator/ui/api/collections/{account}/{region}/{collection_id}", methods=["GET"])
def collection(request: Request, state: AppState) -> Response:
    p = request.path_params
    found = browse.collection(
        state,
        p["account"],
        p["region"],
        p["collection_id"],
        q=request.query_params.get("q", ""),
        limit=max(1, min(_int(request, "limit", 500), 5000)),
    )
    if found is None:
        return _error(f"no collection {p['collection_id']} in {p['account']} {p['region']}")
    return JSONResponse(found)


@admin_route("/_emulator/ui/api/faces/{face_id}/thumbnail", methods=["GET"])
def face_thumbnail(request: Request, state: AppState) -> Response:
    data = thumbnails(state).read(request.path_params["face_id"])
    if data is None:
        return _error("no thumbnail for this face (indexed with the inspector off, or evicted)")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


# -- jobs ---------------------------------------------------------------------------------------
@admin_route("/_emulator/ui/api/jobs/{job_id}/results", methods=["GET"])
async def job_results(request: Request, state: AppState) -> Response:
    from rekognition_emulator.emulator.jobs import engine

    jobs = engine(state)
    query = request.query_params
    found = [
        job
        for job in await run_in_threadpool(jobs.find, request.path_params["job_id"])
        if query.get("account") in (None, job.account) and query.get("region") in (None, job.region)
    ]
    if len(found) != 1:
        return _error(f"{len(found)} jobs have the id {request.path_params['job_id']}")
    job = found[0]
    items, more = await run_in_threadpool(
        jobs.results, job, purpose="inspector", max_results=RESULT_ITEMS
    )
    return JSONResponse(
        {"job": job.admin(), "result": job.result, "items": items, "more_items": more is not None}
    )
