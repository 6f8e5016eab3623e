"""DetectLabels: the request's image through `handlers.analysis.labels`."""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers.analysis import labels


@operation("DetectLabels")
def detect_labels(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    image = load_image(ctx, params.get("Image"))
    min_conf = params.get("MinConfidence")
    settings = params.get("Settings") or {}
    max_colors = (settings.get("ImageProperties") or {}).get("MaxDominantColors")
    max_colors = labels.DEFAULT_MAX_DOMINANT_COLORS if max_colors is None else int(max_colors)
    if not 0 <= max_colors <= 20:  # also in the model; said here in AWS's words
        raise errors.InvalidParameterException(
            "Request has invalid parameters: MaxDominantColors must be between 0 and 20."
        )
    found = labels.detect_labels(
        image.rgb,
        features=params.get("Features") or ["GENERAL_LABELS"],  # AWS's default when absent
        min_confidence=labels.DEFAULT_MIN_CONFIDENCE if min_conf is None else float(min_conf),
        max_labels=params.get("MaxLabels"),
        general_labels=settings.get("GeneralLabels"),
        max_dominant_colors=max_colors,
    )
    return {**found, "LabelModelVersion": labels.LABEL_MODEL_VERSION}
