"""Celebrities on one frame, in Rekognition's shapes: RecognizeCelebrities (and, per sampled
frame, celebrity recognition in a stored video).

    from rekognition_emulator.handlers.analysis import celebrities

    gallery = celebrities.Gallery.build(entries, owners, embeddings)   # the seeded gallery
    celebrities.recognize_celebrities(rgb, gallery)
        # {"CelebrityFaces": [Celebrity], "UnrecognizedFaces": [ComparedFace]}
    celebrities.celebrity_details(rgb, gallery)  # [CelebrityDetail] of one video frame
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
from rekognition_emulator.handlers.analysis.numbers import ratio_box

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


@dataclass
class FrameMatch:
    """The faces of a frame (largest first), their Face members, and which are celebrities."""

    faces: list[Any]
    details: list[dict[str, Any]]
    celebrities: dict[int, tuple[dict[str, Any], float]]  # face index -> (entry, Similarity)


def match_faces(rgb: np.ndarray, gallery: Gallery, *, max_faces: int = MAX_FACES) -> FrameMatch:
    """Each of the largest faces of a frame, matched against the gallery: best pairs first,
    a celebrity given to one face of the frame at most and a face to one celebrity."""
    found = faces.detect(rgb, max_faces=max_faces)
    details = faces.face_details(rgb, found, FACE_ATTRIBUTES)
    pairs = []  # (Similarity, face index, celebrity index) at or above the threshold
    if len(gallery):
        for i, face in enumerate(found):
            for k, score in gallery.best_matches(face.embedding):
                if score >= MATCH_THRESHOLD:
                    pairs.append((score, i, k))
    assigned: dict[int, tuple[dict[str, Any], float]] = {}
    taken: set[int] = set()
    for score, i, k in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if i not in assigned and k not in taken:
            assigned[i] = (gallery.entries[gallery.ids[k]], score)
            taken.add(k)
    return FrameMatch(found, details, assigned)


def recognize_celebrities(
    rgb: np.ndarray, gallery: Gallery, *, max_faces: int = MAX_FACES
) -> dict[str, list[dict[str, Any]]]:
    """RecognizeCelebrities' CelebrityFaces and UnrecognizedFaces for one frame: the 64
    largest faces, each either a seeded celebrity or unrecognized, largest face first."""
    match = match_faces(rgb, gallery, max_faces=max_faces)
    recognized, unrecognized = [], []
    for i, detail in enumerate(match.details):
        if i in match.celebrities:
            entry, score = match.celebrities[i]
            recognized.append({**entry, "Face": detail, "MatchConfidence": score})
        else:
            unrecognized.append(detail)
    return {"CelebrityFaces": recognized, "UnrecognizedFaces": unrecognized}


def _body_box(rgb: np.ndarray, face_box: tuple[float, ...], persons: list[Any]) -> dict[str, float]:
    """The box of the person whose detection holds most of the face (the face box when no
    person holds at least half of it), as ratios of the frame."""
    x, y, w, h = face_box
    best, share = None, 0.5
    for person in persons:
        x0, y0, x1, y1 = person.box
        inside = max(0.0, min(x + w, x1) - max(x, x0)) * max(0.0, min(y + h, y1) - max(y, y0))
        if inside / max(w * h, 1e-9) >= share:
            best, share = person, inside / max(w * h, 1e-9)
    if best is None:
        x0, y0, x1, y1 = x, y, x + w, y + h
    else:
        x0, y0, x1, y1 = best.box
    height, width = rgb.shape[:2]
    return ratio_box(x0, y0, x1, y1, width, height)


def celebrity_details(
    rgb: np.ndarray, gallery: Gallery, *, max_faces: int = MAX_FACES
) -> list[dict[str, Any]]:
    """Celebrity recognition in a stored video, per sampled frame: a CelebrityDetail for each
    celebrity seen (Id, Name, Urls, KnownGender, Confidence = the match's Similarity, Face,
    and BoundingBox = the body: the person detector's box that holds the face). The video
    job adds each one's Timestamp."""
    from rekognition_emulator.models import labels as scene

    match = match_faces(rgb, gallery, max_faces=max_faces)
    if not match.celebrities:
        return []
    detector = scene.default_detector()
    persons = [d for d in detector.detect(rgb) if d.class_index == 0] if detector else []
    out = []
    for i, (entry, score) in sorted(match.celebrities.items()):
        out.append(
            {
                **entry,
                "Confidence": score,
                "BoundingBox": _body_box(rgb, match.faces[i].box, persons),
                "Face": match.details[i],
            }
        )
    return out


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
