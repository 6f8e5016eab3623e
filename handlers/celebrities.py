"""RecognizeCelebrities and GetCelebrityInfo, against a gallery the user seeds.

AWS's celebrity gallery cannot be shipped, so a test author seeds their own, three ways:

    rekognition-emulator celebrities add "Jane Doe" jane1.jpg jane2.jpg --url www.example.com/jane
    POST /_emulator/celebrities          (a running server; GET lists, DELETE .../{id} removes)
    --celebrities-dir FOLDER             (FOLDER/<Name>/*.jpg, read again at every start)

Each photo gives the embedding of its largest face; the gallery lives in the data dir's
database (emulator/store/celebrities.py), one for every account and region as AWS's is. A
celebrity's Id is stable: 8 base62 characters of the SHA-256 of its name. The per-frame work
is handlers/analysis/celebrities.py; the admin endpoints and the CLI command are in
handlers/celebrity_admin.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.media.images import MAX_S3_BYTES, decode, load_image
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import on_start, operation
from rekognition_emulator.emulator.store.celebrities import (
    API,
    FOLDER,
    Celebrity,
    CelebrityStore,
    NewPhoto,
)
from rekognition_emulator.handlers.analysis import celebrities as analysis

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState
    from rekognition_emulator.emulator.store.db import Database

log = logging.getLogger("rekognition_emulator.celebrities")

SERVICE_KEY = "celebrities"
GENDERS = ("Male", "Female", "Nonbinary", "Unlisted")  # the service model's KnownGenderType
MAX_URLS = 255  # Celebrity.Urls holds at most 255
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
INFO_FILE = "info.json"  # optional, in a folder's NAME/: {"Urls": [...], "KnownGender": "..."}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class GalleryError(ValueError):
    """A celebrity or photo that cannot be added; the message says which and why."""


def celebrity_id(name: str) -> str:
    """The stable Id of a celebrity: 8 base62 characters of the SHA-256 of its name (AWS's ids
    match [0-9A-Za-z]*, e.g. "3Ir0du6")."""
    n = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest(), "big")
    out = []
    for _ in range(8):
        n, r = divmod(n, 62)
        out.append(_BASE62[r])
    return "".join(out)


def entry(celebrity: Celebrity) -> dict[str, Any]:
    """The celebrity as GetCelebrityInfo and a Celebrity carry it (Id, Name, Urls, KnownGender)."""
    return {
        "Id": celebrity.celebrity_id,
        "Name": celebrity.name,
        "Urls": list(celebrity.urls),
        "KnownGender": {"Type": celebrity.gender},
    }


def check_details(name: str, urls: list[str] | None, gender: str | None) -> str:
    """The name to store, or GalleryError saying what is wrong with the details."""
    name = (name or "").strip()
    if not name:
        raise GalleryError("a celebrity needs a name")
    if gender is not None and gender not in GENDERS:
        raise GalleryError(f"gender must be one of {', '.join(GENDERS)}, not {gender!r}")
    if urls is not None:
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            raise GalleryError("urls must be a list of non-empty strings")
        if len(urls) > MAX_URLS:
            raise GalleryError(f"a celebrity has at most {MAX_URLS} urls, not {len(urls)}")
    return name


@dataclass(frozen=True)
class Photo:
    source: str  # a file name or "photo 2", for messages
    data: bytes


def read_photo(photo: Photo) -> NewPhoto:
    """The face a photo contributes, or GalleryError naming the photo."""
    try:
        image = decode(photo.data, max_bytes=MAX_S3_BYTES)
    except errors.AWSError as exc:
        raise GalleryError(f"{photo.source}: {exc.message}") from None
    enrolment = analysis.enrol(image.rgb)
    if enrolment is None:
        raise GalleryError(f"{photo.source}: no face was found in the photo")
    if enrolment.faces > 1:
        log.info("%s has %d faces: its largest is used", photo.source, enrolment.faces)
    return NewPhoto(
        hashlib.sha256(photo.data).hexdigest(),
        photo.source,
        enrolment.female,
        enrolment.embedding,
    )


class Gallery:
    """The server's celebrity gallery (`gallery(state)`): the store, the matcher built from
    it (rebuilt after each change), and the --celebrities-dir folder."""

    def __init__(self, db: Database, folder: Path | None = None) -> None:
        self.store = CelebrityStore(db)
        self.folder = folder
        self._lock = threading.Lock()
        self._matcher: tuple[int, analysis.Gallery] | None = None
        if folder is not None:
            self.read_folder(folder)

    def matcher(self) -> analysis.Gallery:
        version = self.store.version
        cached = self._matcher
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            entries = [entry(c) for c in self.store.list()]
            photos = self.store.photos()
            built = analysis.Gallery.build(
                entries, [p.celebrity_id for p in photos], [p.embedding for p in photos]
            )
            self._matcher = (version, built)
        return built

    def add(
        self,
        name: str,
        photos: list[Photo],
        *,
        urls: list[str] | None = None,
        gender: str | None = None,
        origin: str = API,
    ) -> Celebrity:
        """Add a celebrity (or photos, urls, a gender to one): all of it or, on an error in
        any photo, nothing."""
        name = check_details(name, urls, gender)
        if not photos:
            raise GalleryError(f"{name}: give at least one photo of the celebrity's face")
        faces = [read_photo(p) for p in photos]
        return self.store.put(celebrity_id(name), name, faces, origin=origin, urls=urls, gender=gender)  # fmt: skip

    def info(self, cid: str) -> dict[str, Any] | None:
        found = self.store.get(cid)
        return None if found is None else entry(found)

    def find(self, name_or_id: str) -> Celebrity | None:
        return self.store.get(name_or_id) or self.store.get(celebrity_id(name_or_id.strip()))

    def read_folder(self, folder: Path) -> None:
        """Bring the folder's celebrities into the gallery: FOLDER/<Name>/*.jpg|png, with an
        optional info.json ({"Urls": [...], "KnownGender": "..."}). A photo already read is
        not read again; photos (and celebrities) gone from the folder leave the gallery. A
        photo without a face or a bad info.json is logged and skipped."""
        if not folder.is_dir():
            log.error("--celebrities-dir %s is not a folder: no celebrity read from it", folder)
            return
        held = self.store.held(FOLDER)
        keep: set[tuple[str, str]] = set()
        added = 0
        for person in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                urls, gender = _folder_info(person)
                name = check_details(person.name, urls, gender)
            except GalleryError as exc:
                log.warning("celebrities folder %s: %s; skipped", person, exc)
                continue
            cid = celebrity_id(name)
            new: list[NewPhoto] = []
            for path in sorted(person.iterdir()):
                if path.suffix.lower() not in PHOTO_SUFFIXES or not path.is_file():
                    continue
                data = path.read_bytes()
                key = (cid, hashlib.sha256(data).hexdigest())
                if key in held:
                    keep.add(key)
                    continue
                try:
                    new.append(read_photo(Photo(str(path.relative_to(folder)), data)))
                    keep.add(key)
                except GalleryError as exc:
                    log.warning("celebrities folder: %s; skipped", exc)
            if new or any(k[0] == cid for k in keep):
                self.store.put(cid, name, new, origin=FOLDER, urls=urls, gender=gender)
                added += len(new)
        dropped = self.store.drop_photos(FOLDER, keep)
        log.info(
            "celebrities folder %s: %d photos held, %d read now, %d gone",
            folder,
            len(keep),
            added,
            dropped,
        )

    def reset(self) -> None:
        """The admin reset: an empty gallery, then the configured folder read again."""
        self.store.reset()
        if self.folder is not None:
            self.read_folder(self.folder)


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object given to the gallery (an admin request's body, an info.json), or
    GalleryError naming `what`."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise GalleryError(f"{what} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise GalleryError(f"{what} must hold a JSON object")
    return doc


def _folder_info(person: Path) -> tuple[list[str] | None, str | None]:
    path = person / INFO_FILE
    if not path.is_file():
        return None, None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise GalleryError(f"{path.name} cannot be read ({exc})") from None
    info = json_object(text, path.name)
    return info.get("Urls"), info.get("KnownGender")


def gallery(state: AppState) -> Gallery:
    """The server's gallery, opened (and its folder read) on first use."""
    from rekognition_emulator.emulator.store import database

    return state.singleton(
        SERVICE_KEY, lambda: Gallery(database(state), state.config.celebrities_dir)
    )


@on_start
def read_celebrities_folder(state: AppState) -> None:
    if state.config.celebrities_dir is not None:
        gallery(state)


# -- operations ---------------------------------------------------------------------------
@operation("RecognizeCelebrities")
def recognize_celebrities(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    image = load_image(ctx, params.get("Image"))
    return analysis.recognize_celebrities(image.rgb, gallery(ctx.state).matcher())


@operation("GetCelebrityInfo")
def get_celebrity_info(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    cid = params["Id"]
    found = gallery(ctx.state).info(cid)
    if found is None:
        raise errors.ResourceNotFoundException(
            f"The celebrity id {cid} is not in the celebrity gallery."
        )
    return {k: v for k, v in found.items() if k != "Id"}
