"""DetectFaces and CompareFaces, answered by the face analyzer (models/face)."""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers import face_common as fc

DEFAULT_SIMILARITY_THRESHOLD = 80.0
MAX_FACES = 100  # Rekognition analyses the 100 largest faces of an image


@operation("DetectFaces")
def detect_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    image = load_image(ctx, params.get("Image"))
    wanted = fc.parse_attributes(params.get("Attributes"))
    faces = fc.detect_faces(image, max_faces=MAX_FACES)
    return {"FaceDetails": fc.face_details(faces, image, wanted)}


@operation("CompareFaces")
def compare_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    threshold = params.get("SimilarityThreshold")
    threshold = DEFAULT_SIMILARITY_THRESHOLD if threshold is None else float(threshold)
    level = params.get("QualityFilter") or "NONE"
    source_image = load_image(ctx, params.get("SourceImage"))
    target_image = load_image(ctx, params.get("TargetImage"))

    # The largest source face that passes the quality filter is the one compared.
    source_faces = [f for f in fc.detect_faces(source_image) if fc.passes_quality_filter(f, level)]
    if not source_faces:
        raise errors.InvalidParameterException(
            "Request has invalid parameters: no face was detected in the source image"
            + ("" if level == "NONE" else f" that passes QualityFilter {level}")
            + "."
        )
    source = source_faces[0]
    targets = [
        f
        for f in fc.detect_faces(target_image, max_faces=MAX_FACES)
        if fc.passes_quality_filter(f, level)
    ]
    if not targets and level == "NONE":
        raise errors.InvalidParameterException(
            "Request has invalid parameters: no face was detected in the target image."
        )

    matches, unmatched = [], []
    for face in targets:
        score = fc.face_similarity(source, face)
        if score >= threshold:
            matches.append((score, face))
        else:
            unmatched.append(face)
    matches.sort(key=lambda m: -m[0])  # best match first
    return {
        "SourceImageFace": {
            "BoundingBox": fc.bounding_box(source, source_image),
            "Confidence": fc.detection_confidence(source),
        },
        "FaceMatches": [
            {"Similarity": score, "Face": fc.compared_face(face, target_image)}
            for score, face in matches
        ],
        "UnmatchedFaces": [fc.compared_face(face, target_image) for face in unmatched],
    }
