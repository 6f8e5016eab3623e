"""What the collection and user operations share on the store's side: Face shapes, the
similarity scale, matches, and the record a new face is stored as. (The faces of a request
image, to index or to search with, come from `handlers.analysis.faces`.)

The similarity scale is the face analyzer's calibrated cosine -> Similarity mapping
(`handlers.analysis.faces.similarity`), the one CompareFaces uses, so that a pair of photos
scores the same in CompareFaces, SearchFaces, SearchFacesByImage and the user operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from rekognition_emulator.emulator.store import (
    BoundingBox,
    Collection,
    Face,
    NewFace,
    RegionBackend,
)
from rekognition_emulator.handlers.analysis.faces import FrameFace, similarity

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
    values = np.asarray(cosines, dtype=np.float64)
    return np.array([similarity(float(c)) for c in values.ravel()]).reshape(values.shape)


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


def new_face(face: FrameFace) -> NewFace:
    """What the store keeps of a face IndexFaces indexes: its FaceDetail's box and
    confidence, and its embedding."""
    box = face.face_detail["BoundingBox"]
    return NewFace(
        bounding_box=BoundingBox(
            left=box["Left"], top=box["Top"], width=box["Width"], height=box["Height"]
        ),
        confidence=face.face_detail["Confidence"],
        embedding=face.embedding,
    )
