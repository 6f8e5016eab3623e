"""What the collection and user operations share: Face shapes, the similarity scale,
and turning an image into the faces to index or to search with.

The similarity scale is the face analyzer's calibrated cosine -> Similarity mapping
(`handlers.face_common`), the one CompareFaces uses, so that a pair of photos scores the
same in CompareFaces, SearchFaces, SearchFacesByImage and the user operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.store import (
    BoundingBox,
    Collection,
    Face,
    NewFace,
    RegionBackend,
)

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import RequestContext

# AWS: FaceMatchThreshold "The default value is 80%".
DEFAULT_FACE_MATCH_THRESHOLD = 80.0
# MaxFaces when absent (unconfirmed: undocumented). The model's maximum, i.e. every face
# above the threshold; the store widens its HNSW search only as far as matches go.
DEFAULT_MAX_FACES = 4096


def face_shape(face: Face, *, with_version: bool = True) -> dict[str, Any]:
    """A stored face as AWS's Face structure."""
    box = face.bounding_box
    shape: dict[str, Any] = {
        "FaceId": face.face_id,
        "BoundingBox": {
            "Width": box.width,
            "Height": box.height,
            "Left": box.left,
            "Top": box.top,
        },
        "ImageId": face.image_id,
        "Confidence": face.confidence,
    }
    if face.external_image_id is not None:
        shape["ExternalImageId"] = face.external_image_id
    if with_version:
        shape["IndexFacesModelVersion"] = face.model_version
    if face.user_id is not None:
        shape["UserId"] = face.user_id
    return shape


# -- the similarity scale -------------------------------------------------------------------
def similarity_array(cosines: np.ndarray) -> np.ndarray:
    """Cosines -> Similarity (0..100) through the analyzer's calibration."""
    from rekognition_emulator.handlers import face_common

    values = np.asarray(cosines, dtype=np.float64)
    return np.array([face_common.similarity(float(c)) for c in values.ravel()]).reshape(
        values.shape
    )


def similarities(cosines: Sequence[float]) -> list[float]:
    return [float(s) for s in similarity_array(np.asarray(cosines, dtype=np.float64))]


@lru_cache(maxsize=4096)
def cosine_for(threshold: float) -> float:
    """The smallest cosine whose Similarity reaches `threshold` (the mapping is monotonic).

    Searching in cosines lets the store stop widening an HNSW search as soon as the last
    neighbour falls below the threshold, without mapping every candidate.
    """
    if threshold <= float(similarity_array(np.array([-1.0]))[0]):
        return -1.0
    if threshold > float(similarity_array(np.array([1.0]))[0]):
        return 1.0 + 1e-6  # unreachable: nothing matches
    low, high = -1.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if float(similarity_array(np.array([mid]))[0]) >= threshold:
            high = mid
        else:
            low = mid
    return high


def face_matches(
    store: RegionBackend,
    collection: Collection,
    vector: np.ndarray,
    max_faces: int | None,
    threshold: float | None,
    exclude_label: int | None = None,
) -> list[dict[str, Any]]:
    """FaceMatches: faces at or above the threshold, most similar first."""
    threshold = DEFAULT_FACE_MATCH_THRESHOLD if threshold is None else threshold
    matches = store.search_faces(
        collection,
        vector,
        max_faces or DEFAULT_MAX_FACES,
        cosine_for(float(threshold)),
        exclude_label=exclude_label,
    )
    scores = similarities([m.cosine for m in matches])
    return [
        {"Similarity": s, "Face": face_shape(m.face)}
        for m, s in zip(matches, scores, strict=True)
        if s >= threshold  # the cosine bound is exact up to float rounding; be strict here
    ]


# -- faces of a request image -----------------------------------------------------------------
@dataclass
class Candidate:
    """One detected face of a request image, with what the operations answer about it."""

    face_detail: dict[str, Any]
    new_face: NewFace

    @property
    def embedding(self) -> np.ndarray:
        return self.new_face.embedding


@dataclass
class Skipped:
    face_detail: dict[str, Any]
    reasons: list[str]


@dataclass
class IndexPlan:
    indexed: list[Candidate]  # largest first, as IndexFaces returns them
    unindexed: list[Skipped]


def _candidate(fc: Any, face: Any, image: Any, wanted: Any) -> Candidate:
    detail = fc.face_detail(face, image, wanted)
    box = detail["BoundingBox"]
    return Candidate(
        face_detail=detail,
        new_face=NewFace(
            bounding_box=BoundingBox(
                left=box["Left"], top=box["Top"], width=box["Width"], height=box["Height"]
            ),
            confidence=detail["Confidence"],
            embedding=np.asarray(face.embedding, dtype=np.float32),
        ),
    )


def plan_index(
    ctx: RequestContext,
    image_member: dict[str, Any],
    *,
    attributes: list[str],
    max_faces: int | None,
    quality_filter: str,
) -> IndexPlan:
    """Which faces of the image IndexFaces stores, and why it leaves the others out.

    AWS: faces failing the quality bar are filtered out first; if more than MaxFaces remain,
    the smallest are left out with EXCEEDS_MAX_FACES. At most the 100 largest faces count.
    """
    from rekognition_emulator.handlers import face_common as fc

    image = load_image(ctx, image_member)
    wanted = fc.parse_attributes(attributes)
    indexed: list[Candidate] = []
    unindexed: list[Skipped] = []
    for face in fc.detect_faces(image):  # largest first
        reasons = fc.quality_filter_reasons(face, quality_filter)
        if not reasons and max_faces is not None and len(indexed) >= max_faces:
            reasons = ["EXCEEDS_MAX_FACES"]
        if reasons:
            unindexed.append(Skipped(fc.face_detail(face, image, wanted), reasons))
        else:
            indexed.append(_candidate(fc, face, image, wanted))
    return IndexPlan(indexed, unindexed)


@dataclass
class Probe:
    searched: Candidate | None  # the largest face that passes the quality filter
    unsearched: list[Skipped]
    why_none: str


def probe_face(ctx: RequestContext, image_member: dict[str, Any], quality_filter: str) -> Probe:
    """The face SearchFacesByImage / SearchUsersByImage search with, and the others."""
    from rekognition_emulator.handlers import face_common as fc

    image = load_image(ctx, image_member)
    faces = fc.detect_faces(image)
    searched: Candidate | None = None
    unsearched: list[Skipped] = []
    for face in faces:  # largest first
        reasons = fc.quality_filter_reasons(face, quality_filter)
        if not reasons and searched is None:
            searched = _candidate(fc, face, image, None)
            continue
        unsearched.append(
            Skipped(fc.face_detail(face, image, None), reasons or ["FACE_NOT_LARGEST"])
        )
    if not faces:
        why = "no face was detected in the image"
    else:
        why = f"no face of the image passes QualityFilter {quality_filter}"
    return Probe(searched, unsearched, why)
