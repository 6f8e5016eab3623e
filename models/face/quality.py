"""Image quality of a face: brightness and sharpness, 0..100, from the face's own pixels.

Both are measured on the aligned chip (eyes 48 px apart) over the face area between the
brows, the chin and the cheeks, so the background and the hair do not count.
- Brightness: mean luma (Rec. 601) of that area, as a percentage of white.
- Sharpness: variance of the Laplacian there, on a saturating scale. Measuring on the
  fixed-size chip (not in image pixels) makes a small face that had to be enlarged score low,
  as it should: it carries little detail. On the shared test photos faces under 50 px read
  a median 37, faces of 100-200 px 80, larger ones 93 or more (the README's Sharpness row,
  recomputed by tests/test_face_fidelity.py::test_sharpness_grows_with_the_faces_size).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rekognition_emulator.models.face.attributes import Chip

SHARPNESS_HALF = 400.0  # Laplacian variance that scores 50
SHARPNESS_SLOPE = 1.2


@dataclass(frozen=True)
class Quality:
    brightness: float  # 0..100
    sharpness: float  # 0..100


def measure(chip: Chip) -> Quality:
    q = chip.points
    grey = cv2.cvtColor(chip.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = grey.shape
    x0, x1 = int(np.clip(q[234, 0], 0, w - 2)), int(np.clip(q[454, 0], 1, w - 1))
    y0, y1 = int(np.clip(q[105, 1], 0, h - 2)), int(np.clip(q[152, 1], 1, h - 1))
    if x1 <= x0 + 1 or y1 <= y0 + 1:
        x0, x1, y0, y1 = 0, w, 0, h
    region = grey[y0:y1, x0:x1]
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)[y0:y1, x0:x1]
    variance = float(lap.var())
    sharpness = 100.0 / (1.0 + (SHARPNESS_HALF / max(variance, 1e-6)) ** SHARPNESS_SLOPE)
    brightness = float(region.mean()) / 255.0 * 100.0
    return Quality(float(np.clip(brightness, 0, 100)), float(np.clip(sharpness, 0, 100)))
