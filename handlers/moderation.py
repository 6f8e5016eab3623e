"""DetectModerationLabels: the v7 moderation taxonomy from real models, on one image.

The per-frame work is handlers/analysis/moderation.py (shared with video moderation); this
module reads the request and speaks for it.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers.analysis import moderation


def check_adapter(project_version: str | None) -> None:
    """A moderation adapter named by a request (DetectModerationLabels, media analysis jobs):
    adapters are custom-labels project versions, and none can exist yet."""
    if project_version:
        raise errors.ResourceNotFoundException(
            f"The moderation adapter (project version) {project_version} does not exist."
        )


@operation("DetectModerationLabels")
def detect_moderation_labels(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    check_adapter(params.get("ProjectVersion"))
    image = load_image(ctx, params.get("Image"))
    min_conf = params.get("MinConfidence")
    min_conf = moderation.DEFAULT_MIN_CONFIDENCE if min_conf is None else float(min_conf)
    result: dict[str, Any] = moderation.detect_moderation_labels(
        image.rgb, min_confidence=min_conf, nudenet=ctx.config.nudenet
    )
    if params.get("HumanLoopConfig") is not None:
        # No human review (Amazon A2I flow) exists here, so none is ever started: AWS's answer
        # for an image that did not trigger review is an activation output without a HumanLoopArn.
        result["HumanLoopActivationOutput"] = {}
    return result
