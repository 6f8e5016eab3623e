"""DetectCustomLabels: a RUNNING model's labels (and boxes, for a detection model) on one image.

Without MinConfidence each label is kept at or above its own threshold (the one training
chose on the test images, its "assumed threshold"); with it, only that value counts (0:
every label). Labels come most confident first, MaxResults of them at most. Images as
CONTRACT.md has them for this operation: JPEG or PNG, 4 MB at most (bytes or S3 object),
and (unconfirmed: the Custom Labels guide states these for training images) 64 to 4096 px
a side.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.handlers.analysis.numbers import f32
from rekognition_emulator.handlers.custom_labels import lifecycle
from rekognition_emulator.handlers.custom_labels.projects import CUSTOM_LABELS, scope
from rekognition_emulator.handlers.custom_labels.service import service
from rekognition_emulator.models.custom.model import ModelFileError, Prediction

MAX_BYTES = 4 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 64, 4096


def _label(p: Prediction, width: int, height: int) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": p.label, "Confidence": f32(100.0 * p.score)}
    if p.box is not None:
        x0, y0, x1, y1 = (float(v) for v in p.box)
        x0, x1 = max(0.0, x0), min(float(width), x1)
        y0, y1 = max(0.0, y0), min(float(height), y1)
        out["Geometry"] = {
            "BoundingBox": {
                "Width": f32((x1 - x0) / width),
                "Height": f32((y1 - y0) / height),
                "Left": f32(x0 / width),
                "Top": f32(y0 / height),
            }
        }
    return out


@operation("DetectCustomLabels")
def detect_custom_labels(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    arn = params["ProjectVersionArn"]
    version = projects.version(arn)
    project = projects.project_by_pk(version.project_pk)
    if project.feature != CUSTOM_LABELS:
        raise errors.InvalidParameterException(
            f"{arn} is an adapter ({project.feature}): use it with DetectModerationLabels."
        )
    lifecycle.require("DetectCustomLabels", version.status, arn)
    image = load_image(
        ctx, params.get("Image"), min_side=MIN_SIDE, max_side=MAX_SIDE, max_bytes=MAX_BYTES
    )
    svc = service(ctx.state)
    try:
        model = svc.model(version)
    except ModelFileError as exc:
        raise errors.InternalServerError(f"The model of {arn} cannot be loaded: {exc}") from None
    predictions = model.predict(svc.extractor, image.rgb)
    min_confidence = params.get("MinConfidence")
    if min_confidence is None:
        kept = [p for p in predictions if p.score >= model.thresholds.get(p.label, 0.5)]
    else:
        kept = [p for p in predictions if 100.0 * p.score >= float(min_confidence)]
    limit = params.get("MaxResults")
    if limit is not None:
        kept = kept[:limit]
    return {"CustomLabels": [_label(p, image.width, image.height) for p in kept]}
