"""DetectModerationLabels: the v7 moderation taxonomy from real models, on one image.

The per-frame work is handlers/analysis/moderation.py (shared with video moderation); this
module reads the request and speaks for it.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers.analysis import moderation
from rekognition_emulator.handlers.custom_labels import adapter_for


@operation("DetectModerationLabels")
def detect_moderation_labels(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    # A moderation adapter (a Custom Labels project version) re-scores the labels: looked up
    # before the image is read, so a missing or untrained adapter is the error.
    adapter = adapter_for(ctx, params["ProjectVersion"]) if params.get("ProjectVersion") else None
    image = load_image(ctx, params.get("Image"))
    min_conf = params.get("MinConfidence")
    min_conf = moderation.DEFAULT_MIN_CONFIDENCE if min_conf is None else float(min_conf)
    if adapter is not None:
        result: dict[str, Any] = adapter.detect(image.rgb, min_conf, nudenet=ctx.config.nudenet)
    else:
        result = moderation.detect_moderation_labels(
            image.rgb, min_confidence=min_conf, nudenet=ctx.config.nudenet
        )
    if params.get("HumanLoopConfig") is not None:
        # No human review (Amazon A2I flow) exists here, so none is ever started: AWS's answer
        # for an image that did not trigger review is an activation output without a HumanLoopArn.
        result["HumanLoopActivationOutput"] = {}
    return result
