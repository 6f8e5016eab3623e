"""EfficientNet-Lite0 ImageNet classifier on onnxruntime.

The model sees 224x224 pixels. A photo usually holds several things and a single-label
classifier spreads its probability over them, so the image is looked at through a few views:
the whole frame (squashed, nothing cut off), the centre square, and, on request, the
overlapping two-thirds windows along the long side (DetectLabels leaves those out: the COCO
detector covers the small things at the sides, and each view costs a classifier run). Each view gives its own 1000-way distribution;
the caller decides how to combine them (DetectLabels takes, per label, the best view).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from rekognition_emulator.models.convert.efficientnet_lite import INPUT_MEAN, INPUT_SIZE, INPUT_STD

MODEL_NAME = "efficientnet_lite0"
# Input side of each classifier the manifest holds.
INPUT_SIZES = {"efficientnet_lite0": INPUT_SIZE, "efficientnet_lite2": 260}


@dataclass(frozen=True)
class ViewScores:
    """Per-view class probabilities: views x 1000, with the view boxes (x0, y0, x1, y1, px)."""

    probs: np.ndarray
    boxes: list[tuple[int, int, int, int]]


def _views(h: int, w: int, halves: bool) -> list[tuple[int, int, int, int]]:
    boxes = [(0, 0, w, h)]
    s = min(h, w)
    if max(h, w) > 1.15 * s:  # a square photo's centre crop is the whole photo again
        boxes.append(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if halves:
        # Two overlapping 2/3 windows along the long side: small subjects at the sides of a
        # wide scene get twice the pixels.
        if w >= h:
            cw = (2 * w) // 3
            boxes += [(0, 0, cw, h), (w - cw, 0, w, h)]
        else:
            ch = (2 * h) // 3
            boxes += [(0, 0, w, ch), (0, h - ch, w, h)]
    return boxes


class ImageClassifier:
    """`classify(rgb)` -> ViewScores. `session_factory` returns an onnxruntime session."""

    def __init__(self, session_factory: Callable[[], object], size: int = INPUT_SIZE) -> None:
        self._session_factory = session_factory
        self.size = size

    def preprocess(self, rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        side = self.size
        batch = np.empty((len(boxes), 3, side, side), np.float32)
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            crop = rgb[y0:y1, x0:x1]
            # INTER_AREA when shrinking keeps fine texture (fur, text) from aliasing.
            interp = cv2.INTER_AREA if min(crop.shape[:2]) > side else cv2.INTER_LINEAR
            small = cv2.resize(crop, (side, side), interpolation=interp)
            batch[i] = ((small.astype(np.float32) - INPUT_MEAN) / INPUT_STD).transpose(2, 0, 1)
        return batch

    def classify_regions(
        self, rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]
    ) -> np.ndarray:
        """Class probabilities (len(boxes) x 1000) of the given regions (x0, y0, x1, y1),
        one batch (e.g. each detected person on its own)."""
        if not boxes:
            return np.zeros((0, 1000))
        session = self._session_factory()
        probs = session.run(None, {"input": self.preprocess(rgb, boxes)})[0]  # type: ignore[attr-defined]
        return probs.astype(np.float64)

    def classify(self, rgb: np.ndarray, *, halves: bool = False) -> ViewScores:
        h, w = rgb.shape[:2]
        return self.classify_boxes(rgb, _views(h, w, halves))

    def classify_boxes(self, rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> ViewScores:
        """Class probabilities of the given regions (x0, y0, x1, y1 px), in one batch."""
        session = self._session_factory()
        probs = session.run(None, {"input": self.preprocess(rgb, boxes)})[0]
        return ViewScores(probs.astype(np.float64), list(boxes))
