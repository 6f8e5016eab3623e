"""The photos the scenarios send: scikit-image's samples, plus ../shared/testdata when present.

Small on purpose (the whole run must stay within a few minutes on two cores): model-backed
operations cost time per pixel, and the conformance suite checks contracts, not accuracy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent


def testdata_dir() -> Path | None:
    """../shared/testdata beside the checkout (or $REKOGNITION_TESTDATA), if present."""
    for candidate in (os.environ.get("REKOGNITION_TESTDATA"), REPO.parent / "shared" / "testdata"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return buf.tobytes()


def _png(image: np.ndarray) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def _shrink(rgb: np.ndarray, longest: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = longest / max(h, w)
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass
class Photos:
    """Encoded images by role; `source` says where each came from (shown in the report)."""

    face: bytes  # one clear frontal face
    face_other: bytes  # the same person in another picture (mirrored, recropped)
    no_face: bytes  # a real photo with no face in it
    labels: bytes  # an animal photo for DetectLabels
    text: bytes  # printed text for DetectText
    tiny: bytes  # a real photo under the 80 px minimum side
    group: bytes | None = None  # several faces (testdata only)
    source: dict[str, str] = field(default_factory=dict)

    def as_files(self, folder: Path) -> dict[str, Path]:
        """Write each photo to `folder` (for the AWS CLI's fileb:// and the JS driver)."""
        folder.mkdir(parents=True, exist_ok=True)
        out: dict[str, Path] = {}
        for role in ("face", "face_other", "no_face", "labels", "text", "tiny", "group"):
            data: bytes | None = getattr(self, role)
            if data is None:
                continue
            ext = ".png" if data.startswith(b"\x89PNG") else ".jpg"
            path = folder / f"{role}{ext}"
            path.write_bytes(data)
            out[role] = path
        return out


def load_photos() -> Photos:
    from skimage import data

    astronaut = data.astronaut()  # 512x512, one face
    # The same face in another image: mirrored and recropped, so the bytes and the box differ.
    other = np.ascontiguousarray(astronaut[16:496, 40:512][:, ::-1])
    photos = Photos(
        face=_jpeg(_shrink(astronaut, 384)),
        face_other=_jpeg(_shrink(other, 360)),
        no_face=_jpeg(_shrink(data.coffee(), 320)),
        labels=_jpeg(_shrink(data.chelsea(), 320)),
        text=_png(data.page()),  # 384x191 scanned page
        tiny=_jpeg(cv2.resize(astronaut, (64, 64), interpolation=cv2.INTER_AREA)),
        source={
            "face": "skimage astronaut",
            "face_other": "skimage astronaut, mirrored",
            "no_face": "skimage coffee",
            "labels": "skimage chelsea",
            "text": "skimage page",
            "tiny": "skimage astronaut at 64x64",
        },
    )
    shared = testdata_dir()
    if shared is not None:
        group = shared / "faces" / "groups" / "dlib_pascal__2008_001322.jpg"  # 500x375, 3 faces
        if group.is_file():
            photos.group = _jpeg(_read_rgb(group))
            photos.source["group"] = f"testdata {group.relative_to(shared)}"
        phototest = shared / "text" / "tesseract__phototest.png"
        if phototest.is_file():
            page = _read_rgb(phototest)
            # The top half (three lines of 12 pt text) is enough to read and half the OCR time.
            photos.text = _png(np.ascontiguousarray(page[: page.shape[0] // 2]))
            photos.source["text"] = f"testdata {phototest.relative_to(shared)}, top half"
    return photos


def not_an_image() -> bytes:
    """Bytes that are neither JPEG nor PNG (a GIF header and text)."""
    return b"GIF89a" + b"this is not a JPEG or PNG image " * 8


def oversized_s3_object() -> bytes:
    """A JPEG-looking object over the 15 MB limit for images read from S3."""
    return b"\xff\xd8\xff\xe0" + bytes(15 * 1024 * 1024 + 1)


def zoom_frames(photo: bytes, n: int = 12) -> list[np.ndarray]:
    """The photo slowly zoomed into: a face that stays in view and moves (RGB frames)."""
    rgb = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    h, w = rgb.shape[:2]
    frames = []
    for i in range(n):
        k = 1.0 - 0.25 * i / max(1, n - 1)
        cw, ch = int(w * k), int(h * k)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        frames.append(cv2.resize(rgb[y0 : y0 + ch, x0 : x0 + cw], (w, h)))
    return frames


def face_clip(photo: bytes, n: int = 15, fps: float = 10.0) -> bytes:
    """`zoom_frames` as an MP4 (OpenCV's mp4v writer: it has no H.264 encoder)."""
    import tempfile

    frames = zoom_frames(photo, n)
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory(prefix="conformance-clip-") as folder:
        path = str(Path(folder) / "face.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        for rgb in frames:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()
        return Path(path).read_bytes()


def jpeg_frames(frames: list[np.ndarray]) -> list[bytes]:
    return [_jpeg(f) for f in frames]
