"""The threshold report's figures: every photo's face, every pair's Similarity, and the false
match and false non-match rates at each threshold, overall and per subgroup.

A pair's Similarity is CompareFaces' own: each photo is decoded as the operations decode
images (EXIF orientation applied), its largest face is the one CompareFaces takes as the
source face (`handlers.analysis.faces.detect`, largest first, QualityFilter NONE), and the
score is `handlers.analysis.faces.face_similarity`, the function CompareFaces, SearchFaces and
the user searches all call.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rekognition_emulator.emulator.media.images import decode
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.handlers.analysis import faces

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
STANDARD_THRESHOLDS = (80.0, 90.0, 95.0, 99.0)
# Photos of any size are read (CompareFaces itself refuses bytes over 5 MB).
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass
class Photo:
    person: str
    path: Path
    rgb: np.ndarray | None = None  # kept only while the report is written (thumbnails)
    face: Any = None  # models' Face: the largest face, or None
    box: dict[str, float] | None = None  # its BoundingBox (ratios)
    why_not: str | None = None  # why no face is used

    @property
    def name(self) -> str:
        return f"{self.person}/{self.path.name}"


@dataclass(frozen=True)
class Pair:
    a: int  # indexes into the photo list, a < b
    b: int
    same: bool
    similarity: float


@dataclass
class Rates:
    """False match and false non-match counts at one threshold."""

    threshold: float
    false_matches: int
    different_pairs: int
    false_non_matches: int
    same_pairs: int

    @property
    def fmr(self) -> float | None:
        return self.false_matches / self.different_pairs if self.different_pairs else None

    @property
    def fnmr(self) -> float | None:
        return self.false_non_matches / self.same_pairs if self.same_pairs else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "false_matches": self.false_matches,
            "different_pairs": self.different_pairs,
            "fmr": self.fmr,
            "false_non_matches": self.false_non_matches,
            "same_pairs": self.same_pairs,
            "fnmr": self.fnmr,
        }


@dataclass
class Calibration:
    photos: list[Photo]
    pairs: list[Pair]
    thresholds: list[float]
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # person -> column -> value
    columns: list[str] = field(default_factory=list)

    @property
    def people(self) -> list[str]:
        return sorted({p.person for p in self.photos})

    def rates(self, pairs: Iterable[Pair] | None = None) -> list[Rates]:
        chosen = list(self.pairs if pairs is None else pairs)
        same = np.array([p.similarity for p in chosen if p.same], dtype=np.float64)
        different = np.array([p.similarity for p in chosen if not p.same], dtype=np.float64)
        return [
            Rates(
                threshold=t,
                # CompareFaces matches at or above its SimilarityThreshold
                false_matches=int((different >= t).sum()),
                different_pairs=len(different),
                false_non_matches=int((same < t).sum()),
                same_pairs=len(same),
            )
            for t in self.thresholds
        ]

    def subgroups(self) -> dict[str, dict[str, list[Rates]]]:
        """column -> value -> rates over the pairs whose people both have that value (same-
        person pairs of the group's people; different-person pairs within the group, as
        demographic evaluations count impostors)."""
        out: dict[str, dict[str, list[Rates]]] = {}
        for column in self.columns:
            values = sorted({row.get(column, "") for row in self.attributes.values()} - {""})
            out[column] = {}
            for value in values:
                members = {p for p, row in self.attributes.items() if row.get(column) == value}
                chosen = [
                    pair
                    for pair in self.pairs
                    if self.photos[pair.a].person in members
                    and self.photos[pair.b].person in members
                ]
                out[column][value] = self.rates(chosen)
        return out

    def group_people(self, column: str, value: str) -> int:
        return sum(
            1 for person in self.people if self.attributes.get(person, {}).get(column) == value
        )


class CalibrationError(ValueError):
    """Input the report cannot be made from (said to the user as is)."""


def find_photos(root: Path) -> list[Photo]:
    """One folder per person, the photos inside it (sub-folders are not searched)."""
    if not root.is_dir():
        raise CalibrationError(f"{root} is not a folder (it should hold one folder per person)")
    photos = [
        Photo(person=folder.name, path=path)
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]
    if len({p.person for p in photos}) < 2:
        raise CalibrationError(
            f"{root} needs at least two person folders with photos (.jpg, .jpeg, .png) in them"
        )
    return photos


def read_attributes(
    path: Path, people: Sequence[str]
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """A CSV with a `person` column (the folder names) and any attribute columns."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        if "person" not in fields:
            raise CalibrationError(f"{path} needs a 'person' column naming each person's folder")
        rows = {}
        for row in reader:
            person = (row.get("person") or "").strip()
            if person:
                rows[person] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
    columns = [f for f in fields if f != "person"]
    unknown = sorted(set(rows) - set(people))
    if unknown:
        raise CalibrationError(
            f"{path} names people with no photo folder: {', '.join(unknown[:5])}"
            + (" ..." if len(unknown) > 5 else "")
        )
    return rows, columns


def find_face(photo: Photo) -> None:
    """The photo's largest face, as CompareFaces takes its source face."""
    try:
        data = photo.path.read_bytes()
        image = decode(data, max_bytes=MAX_FILE_BYTES)
    except errors.AWSError as exc:
        photo.why_not = exc.message
        return
    except OSError as exc:
        photo.why_not = f"cannot be read: {exc}"
        return
    found = faces.detect(image.rgb)
    if not found:
        photo.why_not = "no face was detected"
        return
    photo.rgb = image.rgb
    photo.face = found[0]
    photo.box = faces.bounding_box(image.rgb, found[0])


def score_pairs(photos: Sequence[Photo]) -> list[Pair]:
    """Every pair of photos with a face, scored as CompareFaces scores it."""
    usable = [i for i, p in enumerate(photos) if p.face is not None]
    return [
        Pair(
            a,
            b,
            photos[a].person == photos[b].person,
            float(faces.face_similarity(photos[a].face, photos[b].face)),
        )
        for a, b in itertools.combinations(usable, 2)
    ]


def thresholds(extra: Iterable[float]) -> list[float]:
    return sorted(set(STANDARD_THRESHOLDS) | {float(t) for t in extra})
