"""Numbers as Rekognition writes them: single-precision floats and 0..100 percentages."""

from __future__ import annotations

import numpy as np


def f32(x: float) -> float:
    """A float at the precision AWS serialises (float32, e.g. 99.99961853027344), as a plain
    Python float (never a numpy type)."""
    return float(np.float32(x))


def percent(p: float) -> float:
    """A 0..1 probability as a Confidence (0..100, clipped), at float32 precision."""
    return f32(float(np.clip(p * 100.0, 0.0, 100.0)))


def ratio_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> dict[str, float]:  # fmt: skip
    """A box in pixels (corners) as Rekognition's BoundingBox: ratios of the frame's width and
    height, float32."""
    return {
        "Width": f32((x1 - x0) / width),
        "Height": f32((y1 - y0) / height),
        "Left": f32(x0 / width),
        "Top": f32(y0 / height),
    }
