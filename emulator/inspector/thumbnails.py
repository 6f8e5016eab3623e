"""Face thumbnails for the inspector, cropped from the image when IndexFaces stores a face.

The image itself is never stored (as AWS does not); a small JPEG of each indexed face is, in
`<data dir>/thumbnails/<first 2 characters of the FaceId>/<FaceId>.jpg`, so the inspector can
show a collection's faces. The folder is capped (Config.thumbnails_mb): past the cap the
oldest thumbnails are removed. A thumbnail is a convenience: failing to write one never fails
the request, and a face without one is shown without a picture.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

log = logging.getLogger("rekognition_emulator.inspector")

SERVICE_KEY = "inspector-thumbnails"
SIDE = 112  # pixels of the longer side
MARGIN = 0.25  # of the face box, on each side
_FACE_ID = re.compile(r"^[0-9a-zA-Z-]{8,64}$")


class Thumbnails:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._used: int | None = None  # bytes on disk, counted on first write

    def path(self, face_id: str) -> Path | None:
        if not _FACE_ID.match(face_id):
            return None
        return self.root / face_id[:2] / f"{face_id}.jpg"

    def keep(self, face_id: str, rgb: np.ndarray, box: dict[str, float]) -> None:
        """Crop the face `box` (ratios, as BoundingBox) out of `rgb` and store it."""
        path = self.path(face_id)
        data = crop_jpeg(rgb, box)
        if path is None or data is None or self.max_bytes <= 0:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with self._lock:
            if self._used is None:
                self._used = self._count()
            else:
                self._used += len(data)
            if self._used > self.max_bytes:
                self._evict()

    def read(self, face_id: str) -> bytes | None:
        path = self.path(face_id)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def _files(self) -> list[os.DirEntry[str]]:
        found: list[os.DirEntry[str]] = []
        if not self.root.is_dir():
            return found
        for folder in os.scandir(self.root):
            if folder.is_dir():
                found.extend(f for f in os.scandir(folder.path) if f.name.endswith(".jpg"))
        return found

    def _count(self) -> int:
        return sum(f.stat().st_size for f in self._files())

    def _evict(self) -> None:
        """Oldest first, down to 90 % of the cap (so the next write does not evict again)."""
        files = sorted(self._files(), key=lambda f: f.stat().st_mtime)
        used = sum(f.stat().st_size for f in files)
        for f in files:
            if used <= self.max_bytes * 0.9:
                break
            size = f.stat().st_size
            try:
                os.unlink(f.path)
                used -= size
            except OSError:
                pass
        self._used = used

    def reset(self) -> None:
        with self._lock:
            shutil.rmtree(self.root, ignore_errors=True)
            self._used = 0


def crop_jpeg(rgb: np.ndarray, box: dict[str, float]) -> bytes | None:
    """The face box with a margin, its longer side SIDE pixels, as JPEG."""
    h, w = rgb.shape[:2]
    left, top = box["Left"] * w, box["Top"] * h
    bw, bh = box["Width"] * w, box["Height"] * h
    x0 = int(max(0, left - bw * MARGIN))
    y0 = int(max(0, top - bh * MARGIN))
    x1 = int(min(w, left + bw * (1 + MARGIN)))
    y1 = int(min(h, top + bh * (1 + MARGIN)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = rgb[y0:y1, x0:x1]
    scale = SIDE / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(
            crop,
            (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    return buf.tobytes() if ok else None


def thumbnails(state: AppState) -> Thumbnails:
    config = state.config
    return state.singleton(
        SERVICE_KEY,
        lambda: Thumbnails(config.data_dir / "thumbnails", int(config.thumbnails_mb * 1024 * 1024)),
    )


def keep_faces(state: AppState, rgb: np.ndarray, faces: Iterable[tuple[str, Any]]) -> None:
    """Thumbnails of (FaceId, BoundingBox) pairs just indexed; nothing when the inspector is
    off. Never raises: a thumbnail is not worth failing an IndexFaces for."""
    if not state.config.inspector:
        return
    try:
        store = thumbnails(state)
        for face_id, box in faces:
            store.keep(face_id, rgb, box)
    except Exception:
        log.exception("could not write a face thumbnail")
