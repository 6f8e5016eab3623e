"""The ground truth the reliability figures rest on, and how it is split.

Shared by the tests that recompute the README's figures and by the scripts in scripts/ that
fit the constants (so a fitted number and its check read the same photos the same way):

- `../shared/testdata` (or $REKOGNITION_TESTDATA): the photos and their MANIFEST.tsv;
- `tests/data/face_labels.tsv`: per-face labels made by looking at the photos (identity where
  known, gender, eyeglasses, sunglasses, beard, mustache, a clear smile or a neutral face),
  by photo and face box;
- the identity split: constants are fitted on FIT_IDENTITIES only; the tests assert on the
  HELD_OUT_IDENTITIES, the group photos and rotated copies, none of which any constant saw.
  The split was fixed before any fitting (alternate names in sorted order) and is not tuned.

When the data is absent a test skips with the reason, except in CI, which sets
REKOGNITION_REQUIRE_TESTDATA=1 to turn those skips into failures (the data is always there).
"""

from __future__ import annotations

import csv
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
LABELS_TSV = REPO / "tests" / "data" / "face_labels.tsv"
ENV_REQUIRE = "REKOGNITION_REQUIRE_TESTDATA"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

FIT_IDENTITIES = ("Alex_Lacamoire", "Joe_Biden", "John_Savage", "John_Shimkus", "Kit_Harington")
HELD_OUT_IDENTITIES = ("Barack_Obama", "John_Salley", "John_Schneider", "John_Simm", "Rose_Leslie")
ROTATIONS = (15, 45, 90, 180)  # degrees, clockwise: the rotated copies every figure is given for


def measurement_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module: a test and the script that prints a README figure share
    the code that measures it."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def testdata_dir() -> Path | None:
    """$REKOGNITION_TESTDATA when set, else ../shared/testdata beside the checkout; None when
    that folder is absent."""
    chosen = os.environ.get("REKOGNITION_TESTDATA") or REPO.parent / "shared" / "testdata"
    return Path(chosen) if Path(chosen).is_dir() else None


def required() -> bool:
    """True in CI: missing ground truth is a failure there, not a skip."""
    return os.environ.get(ENV_REQUIRE, "") not in ("", "0")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test that lacks its ground truth (a user's fresh clone), or fail it where the
    data must be there (CI sets REKOGNITION_REQUIRE_TESTDATA=1)."""
    import pytest

    if required():
        pytest.fail(f"{reason}; {ENV_REQUIRE} is set, so this is a failure", pytrace=False)
    pytest.skip(reason)


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rotate(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """The photo turned clockwise by `degrees`; the canvas grows to hold it whole, and the new
    corners repeat the border (a rotated print on a plain background, not black wedges)."""
    if degrees % 360 == 0:
        return rgb
    if degrees % 90 == 0:
        return np.ascontiguousarray(np.rot90(rgb, -(degrees // 90) % 4))
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -degrees, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(round(h * s + w * c)), int(round(h * c + w * s))
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    return cv2.warpAffine(rgb, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def manifest_rows(root: Path) -> list[dict[str, str]]:
    with open(root / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def ground_truth_fields(row: dict[str, str]) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in row["ground_truth"].split("; ") if "=" in kv)


def identities(root: Path) -> dict[str, list[Path]]:
    """Name -> that person's portraits (sorted), from faces/identities/<Name>/."""
    base = root / "faces" / "identities"
    return {
        person.name: sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for person in sorted(base.iterdir())
        if person.is_dir()
    }


def group_photos(root: Path) -> list[Path]:
    return sorted((root / "faces" / "groups").glob("*.jpg"))


def annotated_boxes(root: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """Group photo path (relative) -> its annotated face boxes (x, y, w, h px)."""
    out = {}
    for row in manifest_rows(root):
        fields = ground_truth_fields(row)
        if "boxes_xywh_px" in fields:
            boxes = [tuple(map(float, b.split(","))) for b in fields["boxes_xywh_px"].split("|")]
            out[row["local_path"]] = boxes
    return out


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / max(aw * ah + bw * bh - inter, 1e-9)


# --- per-face labels ----------------------------------------------------------------------


@dataclass(frozen=True)
class FaceLabel:
    """One face as a person labelled it by looking at the photo."""

    photo: str  # path relative to the testdata folder
    box: tuple[float, float, float, float]  # x, y, w, h in pixels (roughly: matched by IoU)
    identity: str  # a name from faces/identities, or "" when unknown
    gender: str  # "Female", "Male" or "" when it cannot be told
    eyeglasses: bool
    sunglasses: bool
    beard: bool
    mustache: bool
    emotion: str  # "HAPPY" (a clear smile), "CALM" (clearly neutral) or "" (unsure)

    @property
    def size(self) -> float:
        return min(self.box[2], self.box[3])


def face_labels(path: Path = LABELS_TSV) -> list[FaceLabel]:
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"):
            out.append(
                FaceLabel(
                    photo=row["photo"],
                    box=tuple(float(v) for v in row["box_xywh_px"].split(",")),  # type: ignore[arg-type]
                    identity=row["identity"],
                    gender=row["gender"],
                    eyeglasses=row["eyeglasses"] == "1",
                    sunglasses=row["sunglasses"] == "1",
                    beard=row["beard"] == "1",
                    mustache=row["mustache"] == "1",
                    emotion=row["emotion"],
                )
            )
    return out


def labelled_faces(root: Path, faces_of) -> Iterator[tuple[FaceLabel, object]]:
    """(label, detected face) for each labelled face the detector found (IoU >= 0.4).

    `faces_of(rgb)` returns the faces of a photo, each with a `box` (x, y, w, h px).
    """
    by_photo: dict[str, list[FaceLabel]] = {}
    for label in face_labels():
        by_photo.setdefault(label.photo, []).append(label)
    for photo, labels in sorted(by_photo.items()):
        found = faces_of(read_rgb(root / photo))
        used: set[int] = set()
        for label in labels:
            best = max(range(len(found)), key=lambda i: iou(label.box, found[i].box), default=None)
            if best is not None and best not in used and iou(label.box, found[best].box) >= 0.4:
                used.add(best)
                yield label, found[best]


# --- face pairs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """The largest face of one portrait (possibly a rotated copy), as a unit embedding."""

    identity: str
    photo: str
    rotation: int
    embedding: np.ndarray | None  # None: no face found


def _embedding(face) -> np.ndarray:
    return face.embedding


def portrait_shots(root: Path, names, rotations=(0, *ROTATIONS), vector=_embedding) -> list[Shot]:
    """Every portrait of `names` at every rotation: `vector(face)` of its largest face
    (default: the face-match embedding), or None when no face is found."""
    from rekognition_emulator.models.face.analyzer import default_analyzer

    people = identities(root)
    shots = []
    for name in names:
        for path in people[name]:
            rgb = read_rgb(path)
            for degrees in rotations:
                found = default_analyzer().detect(rotate(rgb, degrees))
                shots.append(Shot(name, str(path), degrees, vector(found[0]) if found else None))
    return shots


def portrait_pairs(shots: list[Shot], rotation: int | None = None):
    """(same-person cosines, different-person cosines) over pairs of different photos, one of
    them upright; `rotation` keeps only pairs whose other photo is turned by that much (None:
    every rotation, 0: upright pairs only). A missed face scores cosine -1."""
    same, different = [], []
    upright = [s for s in shots if s.rotation == 0]
    others = [s for s in shots if rotation is None or s.rotation == rotation]
    seen: set[tuple[str, int, str, int]] = set()
    for a in upright:
        for b in others:
            if a.photo == b.photo:
                continue
            key = tuple(sorted([(a.photo, a.rotation), (b.photo, b.rotation)]))
            if key in seen:
                continue
            seen.add(key)  # type: ignore[arg-type]
            if a.embedding is None or b.embedding is None:
                cosine = -1.0
            else:
                cosine = float(a.embedding @ b.embedding)
            (same if a.identity == b.identity else different).append(cosine)
    return np.array(same), np.array(different)


def group_shots(root: Path, vector=_embedding) -> list[tuple[str, tuple, np.ndarray]]:
    """(photo, box, `vector(face)`) of every face detected in the group photos."""
    from rekognition_emulator.models.face.analyzer import default_analyzer

    out = []
    for path in group_photos(root):
        for face in default_analyzer().detect(read_rgb(path)):
            out.append((str(path), tuple(face.box), vector(face)))
    return out


def group_negatives(groups, shots: list[Shot]) -> dict[str, np.ndarray]:
    """Cosines of pairs that are surely different people: two faces of one group photo, and a
    portrait (upright) against a face of a PASCAL group photo (strangers to every identity)."""
    within = [
        float(a[2] @ b[2]) for i, a in enumerate(groups) for b in groups[i + 1 :] if a[0] == b[0]
    ]
    strangers = [g for g in groups if "dlib_pascal__" in g[0]]
    across = [
        float(s.embedding @ g[2])
        for s in shots
        if s.rotation == 0 and s.embedding is not None
        for g in strangers
    ]
    return {"within_group": np.array(within), "portrait_vs_stranger": np.array(across)}


# --- occlusions made at test time ---------------------------------------------------------

HALF_FACE_OCCLUSIONS = ("lower_half", "upper_half", "left_half", "right_half", "hand")


def occluded_copies(rgb: np.ndarray, box, points5: np.ndarray, seed: int = 0) -> dict:
    """Copies of the photo with half of one face covered, each a different way: a dark band
    over the lower half (nose tip to chin) or the upper half (brow to nose tip), the left or
    right half blacked out, and a skin-toned hand (palm and four fingers, with texture) over
    the nose and mouth. Plus "disc": a red disc over the mouth (less than half the face)."""
    rng = np.random.default_rng(seed)
    x, y, w, h = box
    nose = points5[2]
    mouth = points5[3:].mean(axis=0)
    x0, x1, cx = int(x - 0.1 * w), int(x + 1.1 * w), int(x + w / 2)
    top, bottom = int(y - 0.1 * h), int(y + 1.1 * h)
    dark = (20, 20, 20)
    out = {}
    for kind, (a, b) in {
        "lower_half": ((x0, int(nose[1])), (x1, bottom)),
        "upper_half": ((x0, top), (x1, int(nose[1]))),
        "left_half": ((x0, top), (cx, bottom)),
        "right_half": ((cx, top), (x1, bottom)),
    }.items():
        img = rgb.copy()
        cv2.rectangle(img, a, b, dark, -1)
        out[kind] = img
    img = rgb.copy()
    palm = (mouth + nose) / 2
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(
        mask,
        (int(palm[0]), int(palm[1] + 0.1 * h)),
        (int(0.55 * w), int(0.33 * h)),
        0,
        0,
        360,
        255,
        -1,
    )
    for k in range(4):
        fx = int(x + w * (0.15 + 0.23 * k))
        cv2.ellipse(
            mask, (fx, int(palm[1] - 0.15 * h)), (int(0.09 * w), int(0.25 * h)), 0, 0, 360, 255, -1
        )
    tone = np.array([205, 160, 130]) + rng.integers(-20, 20, 3)
    skin = (tone + rng.normal(0, 6, img.shape)).clip(0, 255).astype(np.uint8)
    img[mask > 0] = skin[mask > 0]
    out["hand"] = img
    img = rgb.copy()
    cv2.circle(img, (int(mouth[0]), int(mouth[1])), int(0.35 * w), (200, 40, 40), -1)
    out["disc"] = img
    return out
