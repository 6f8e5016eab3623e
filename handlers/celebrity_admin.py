"""Seeding the celebrity gallery: the admin endpoints of a running server and the CLI command
that works on a stopped server's data dir.

    POST   /_emulator/celebrities          JSON {"Name", "Photos": [base64 ...], "Urls", "KnownGender"}
                                           or one photo as the body: ?name=...&url=...&gender=...
    GET    /_emulator/celebrities          every celebrity, with its photo count
    GET    /_emulator/celebrities/{id}     one
    DELETE /_emulator/celebrities/{id}     remove it and its photos

    rekognition-emulator celebrities add NAME PHOTO... [--url URL]... [--gender GENDER]
    rekognition-emulator celebrities list | remove NAME_OR_ID     [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rekognition_emulator.emulator.server.registry import admin_route, cli_command
from rekognition_emulator.emulator.store.celebrities import Celebrity
from rekognition_emulator.handlers.celebrities import (
    GENDERS,
    Gallery,
    GalleryError,
    Photo,
    entry,
    gallery,
    json_object,
)

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

ADMIN_PATH = "/_emulator/celebrities"


def listing(celebrity: Celebrity) -> dict[str, Any]:
    """A celebrity as the admin pages and the CLI show it."""
    return {
        **entry(celebrity),
        "Photos": celebrity.photos,
        "KnownGenderFrom": "given" if celebrity.gender_given else "photos",
    }


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _from_json(body: bytes) -> tuple[str, list[Photo], list[str] | None, str | None]:
    doc = json_object(body, "the body")
    encoded = doc.get("Photos")
    if not isinstance(encoded, list) or not all(isinstance(p, str) for p in encoded):
        raise GalleryError('"Photos" must be a list of base64-encoded JPEG or PNG photos')
    photos = []
    for n, text in enumerate(encoded, 1):
        try:
            photos.append(Photo(f"photo {n}", base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError):
            raise GalleryError(f"photo {n} is not valid base64") from None
    name = doc.get("Name")
    if not isinstance(name, str):
        raise GalleryError('"Name" must be a string')
    return name, photos, doc.get("Urls"), doc.get("KnownGender")


@admin_route(ADMIN_PATH, methods=["POST"])
async def add_celebrity(request: Request, state: AppState) -> Response:
    body = await request.body()
    query = request.query_params
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            name, photos, urls, gender = _from_json(body)
        else:
            name = query.get("name", "")
            photos = [Photo("the request body", body)] if body else []
            urls = query.getlist("url") or None
            gender = query.get("gender")
        added = await run_in_threadpool(gallery(state).add, name, photos, urls=urls, gender=gender)
    except GalleryError as exc:
        return _error(str(exc))
    return JSONResponse(listing(added), status_code=201)


@admin_route(ADMIN_PATH, methods=["GET"])
def list_celebrities(request: Request, state: AppState) -> Response:
    return JSONResponse({"Celebrities": [listing(c) for c in gallery(state).store.list()]})


@admin_route(ADMIN_PATH + "/{celebrity_id}", methods=["GET"])
def one_celebrity(request: Request, state: AppState) -> Response:
    found = gallery(state).store.get(request.path_params["celebrity_id"])
    if found is None:
        return _error(f"no celebrity {request.path_params['celebrity_id']}", 404)
    return JSONResponse(listing(found))


@admin_route(ADMIN_PATH + "/{celebrity_id}", methods=["DELETE"])
def remove_celebrity(request: Request, state: AppState) -> Response:
    cid = request.path_params["celebrity_id"]
    if not gallery(state).store.delete(cid):
        return _error(f"no celebrity {cid}", 404)
    return JSONResponse({"Deleted": cid})


# -- the CLI ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rekognition-emulator celebrities",
        description="Seed the celebrity gallery in a data dir no server is using (with a "
        f"server running, use its POST {ADMIN_PATH} instead).",
    )
    where = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a flag not given leaves REKOGNITION_EMULATOR_DATA_DIR / _MODELS_DIR in charge.
    where.add_argument("--data-dir", default=argparse.SUPPRESS, help="the server's data dir")
    where.add_argument("--models-dir", default=argparse.SUPPRESS, help="the model cache")
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", parents=[where], help="add a celebrity, or photos to one")
    add.add_argument("name", metavar="NAME")
    add.add_argument("photos", metavar="PHOTO", nargs="+", type=Path, help="JPEG or PNG")
    add.add_argument("--url", action="append", dest="urls", help="repeatable")
    add.add_argument("--gender", choices=GENDERS, help="default: read from the photos")
    sub.add_parser("list", parents=[where], help="every celebrity")
    remove = sub.add_parser("remove", parents=[where], help="remove a celebrity")
    remove.add_argument("celebrity", metavar="NAME_OR_ID")
    return p


def _line(celebrity: Celebrity) -> str:
    told = "given" if celebrity.gender_given else "read from the photos"
    urls = f", {', '.join(celebrity.urls)}" if celebrity.urls else ""
    return (
        f"{celebrity.name} (Id {celebrity.celebrity_id}): {celebrity.photos} photo"
        f"{'' if celebrity.photos == 1 else 's'}, KnownGender {celebrity.gender} ({told}){urls}"
    )


@cli_command("celebrities", help="add | list | remove celebrities of the gallery")
def celebrities_command(argv: list[str]) -> int:
    from rekognition_emulator.emulator.server.config import Config
    from rekognition_emulator.emulator.store.db import Database, DataDirInUse
    from rekognition_emulator.emulator.store.migrations import SchemaTooNewError

    args = _parser().parse_args(argv)
    flags = {k: getattr(args, k) for k in ("data_dir", "models_dir") if hasattr(args, k)}
    try:
        config = Config.resolve(flags)
    except ValueError as exc:
        print(f"rekognition-emulator: {exc}", file=sys.stderr)
        return 2
    photos: list[Photo] = []
    for path in getattr(args, "photos", []):
        try:
            photos.append(Photo(str(path), path.read_bytes()))
        except OSError as exc:
            print(f"rekognition-emulator: cannot read {path}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        db = Database.open(config.data_dir)
    except DataDirInUse:
        print(
            f"rekognition-emulator: the data dir {config.data_dir} is in use by a running "
            "server; add celebrities through it instead:\n"
            f"  curl -X POST --data-binary @photo.jpg "
            f"'http://127.0.0.1:<port>{ADMIN_PATH}?name=<Name>'",
            file=sys.stderr,
        )
        return 3
    except SchemaTooNewError as exc:
        print(f"rekognition-emulator: {exc}", file=sys.stderr)
        return 3
    try:
        return _run(args, Gallery(db), config, photos)
    finally:
        db.close()


def _run(args: argparse.Namespace, found: Gallery, config: Any, photos: list[Photo]) -> int:
    if args.action == "list":
        for celebrity in found.store.list():
            print(_line(celebrity))
        return 0
    if args.action == "remove":
        celebrity = found.find(args.celebrity)
        if celebrity is None or not found.store.delete(celebrity.celebrity_id):
            print(f"rekognition-emulator: no celebrity {args.celebrity!r}", file=sys.stderr)
            return 1
        print(f"removed {celebrity.name} (Id {celebrity.celebrity_id})")
        return 0
    from rekognition_emulator.models import runtime
    from rekognition_emulator.models import store as model_store

    model_store.configure(config.models_dir)
    runtime.configure(config.threads)
    try:
        added = found.add(args.name, photos, urls=args.urls, gender=args.gender)
    except GalleryError as exc:
        print(f"rekognition-emulator: nothing added: {exc}", file=sys.stderr)
        return 1
    print(_line(added))
    return 0
