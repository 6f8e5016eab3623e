"""DetectText: the request's image through `handlers.analysis.text`."""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers.analysis import text


@operation("DetectText")
def detect_text(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    image = load_image(ctx, params.get("Image"))
    return {
        "TextDetections": text.detect_text(image.rgb, **text.filter_options(params.get("Filters"))),
        "TextModelVersion": text.TEXT_MODEL_VERSION,
    }
