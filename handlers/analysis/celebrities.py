"""Celebrities on one frame, in Rekognition's shapes: RecognizeCelebrities (and, per sampled
frame, celebrity recognition in a stored video).

    from rekognition_emulator.handlers.analysis import celebrities

    gallery = celebrities.Gallery.build(entries, owners, embeddings)   # the seeded gallery
    celebrities.recognize_celebrities(rgb, gallery)
        # {"CelebrityFaces": [Celebrity], "UnrecognizedFaces": [ComparedFace]}
    celebrities.enrol(rgb)       # Enrolment: the largest face's embedding, to seed a gallery

AWS's gallery cannot be shipped; the user seeds one (handlers/celebrities.py keeps it). A
face is a celebrity when its Similarity to one of the celebrity's photos, on the scale every
face operation shares (`faces.similarity`, calibrated for CompareFaces), reaches CompareFaces'
default threshold; MatchConfidence is that Similarity. Each celebrity is given to one face of
a frame at most (the best-matching one); an empty gallery recognizes nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rekognition_emulator.handlers.analysis import faces

MAX_FACES = 64  # RecognizeCelebrities looks at the 64 largest faces
MATCH_THRESHOLD = faces.DEFAULT_SIMILARITY_THRESHOLD
CANDIDATES = 3  # best celebrities weighed per face
# ComparedFace as RecognizeCelebrities fills it: the default members plus Emotions and Smile.
FACE_ATTRIBUTES = faces.AttributeRequest(frozenset({"Emotions", "Smile"}), all_landmarks=False)


@dataclass(frozen=True)
class Gallery:
    """The celebrities a frame is matched against: each one's public entry (Id, Name, Urls,
    KnownGender, as GetCelebrityInfo and a Celebrity carry them) and one embedding per photo."""

    entries: dict[str, dict[str, Any]]  # Id -> {"Id", "Name", "Urls", "KnownGender"}
    owners: np.ndarray  # per photo: index into `ids`
    ids: tuple[str, ...]
    embeddings: np.ndarray  # photos x D, unit rows

    @classmethod
    def build(
        cls,
        entries: Sequence[dict[str, Any]],
        owners: Sequence[str],
        embeddings: Sequence[np.ndarray],
    ) -> Gallery:
        ids = tuple(e["Id"] for e in entries)
        index = {cid: i for i, cid in enumerate(ids)}
        rows = [(index[o], e) for o, e in zip(owners, embeddings, strict=True) if o in index]
        matrix = (
            np.stack([np.asarray(e, dtype=np.float32) for _, e in rows])
            if rows
            else np.zeros((0, 0), np.float32)
        )
        return cls(
            {e["Id"]: dict(e) for e in entries},
            np.array([i for i, _ in rows], dtype=np.int64),
            ids,
            matrix,
        )

    @classmethod
    def empty(cls) -> Gallery:
        return cls.build([], [], [])

    def __len__(self) -> int:
        return len(self.ids)

    def best_matches(self, embedding: np.ndarray, count: int = CANDIDATES) -> list[tuple[int, float]]:  # fmt: skip
        """(celebrity index, Similarity) of the `count` celebrities closest to a face, best
        first; a celebrity with several photos counts its closest one."""
        if not len(self.owners):
            return []
        cosines = self.embeddings @ np.asarray(embedding, dtype=np.float32)
        best = np.full(len(self.ids), -np.inf, dtype=np.float32)
        np.maximum.at(best, self.owners, cosines)
        order = np.argsort(-best, kind="stable")[:count]
        return [(int(i), faces.similarity(float(best[i]))) for i in order if np.isfinite(best[i])]


def celebrity_face(rgb: np.ndarray, face: Any) -> dict[str, Any]:
    """A face as a Celebrity's Face or an UnrecognizedFaces entry (ComparedFace)."""
    return faces.face_detail(rgb, face, FACE_ATTRIBUTES)


def recognize_celebrities(
    rgb: np.ndarray, gallery: Gallery, *, max_faces: int = MAX_FACES
) -> dict[str, list[dict[str, Any]]]:
    """RecognizeCelebrities' CelebrityFaces and UnrecognizedFaces for one frame: the 64
    largest faces, each either a seeded celebrity or unrecognized, largest face first."""
    found = faces.detect(rgb, max_faces=max_faces)
    details = faces.face_details(rgb, found, FACE_ATTRIBUTES)
    pairs = []  # (Similarity, face index, celebrity index) above the threshold
    if len(gallery):
        for i, face in enumerate(found):
            for k, score in gallery.best_matches(face.embedding):
                if score >= MATCH_THRESHOLD:
                    pairs.append((score, i, k))
    # Best pairs first; a celebrity is one face of the frame at most, a face one celebrity.
    assigned: dict[int, tuple[int, float]] = {}
    taken: set[int] = set()
    for score, i, k in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if i not in assigned and k not in taken:
            assigned[i] = (k, score)
            taken.add(k)
    recognized, unrecognized = [], []
    for i, detail in enumerate(details):
        if i not in assigned:
            unrecognized.append(detail)
            continue
        k, score = assigned[i]
        entry = gallery.entries[gallery.ids[k]]
        recognized.append({**entry, "Face": detail, "MatchConfidence": score})
    return {"CelebrityFaces": recognized, "UnrecognizedFaces": unrecognized}


@dataclass(frozen=True)
class Enrolment:
    """The face a gallery photo contributes: its largest face."""

    embedding: np.ndarray
    female: float  # the gender model's probability of a woman's face
    faces: int  # faces found in the photo (the largest is used)


def enrol(rgb: np.ndarray) -> Enrolment | None:
    """The largest face of a photo to seed a gallery with, or None when it has no face."""
    found = faces.detect(rgb, max_faces=MAX_FACES)
    if not found:
        return None
    face = found[0]
    female = 1.0 / (1.0 + np.exp(-float(face.age_gender.female_logit)))
    return Enrolment(np.asarray(face.embedding, dtype=np.float32), float(female), len(found))
