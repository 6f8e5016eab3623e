"""DetectFaces and CompareFaces: the request's images through `handlers.analysis.faces`."""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers.analysis import faces


@operation("DetectFaces")
def detect_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    image = load_image(ctx, params.get("Image"))
    attributes = faces.parse_attributes(params.get("Attributes"))
    return {"FaceDetails": faces.detect_faces(image.rgb, attributes=attributes)}


@operation("CompareFaces")
def compare_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    threshold = params.get("SimilarityThreshold")
    source = load_image(ctx, params.get("SourceImage"))
    target = load_image(ctx, params.get("TargetImage"))
    return faces.compare_faces(
        source.rgb,
        target.rgb,
        similarity_threshold=faces.DEFAULT_SIMILARITY_THRESHOLD
        if threshold is None
        else float(threshold),
        quality_filter=params.get("QualityFilter") or "NONE",
    )
