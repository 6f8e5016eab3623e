"""Skin-colour evidence, no model: a person's own skin chroma, learnt from their face.

Skin tones differ between people far more in brightness than in chroma, and one person's
face and bare hands share their chroma closely. So the reference is fitted per person: the
mean and covariance of (Cr, Cb) over the central part of the face box (eyes to mouth,
cheek to cheek), and a pixel "looks like this person's skin" when its Mahalanobis distance
to that reference is small. A hand region where few pixels look like the face is likely
covered (a glove), or not a hand at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_DISTANCE = 3.0  # Mahalanobis radius that counts as "the same skin"
MIN_SAMPLES = 30


@dataclass(frozen=True)
class SkinModel:
    mean: np.ndarray  # (Cr, Cb)
    inv_cov: np.ndarray  # 2 x 2

    def share(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> float | None:
        """Share (0..1) of the pixels in box (x0, y0, x1, y1) that match this skin; None when
        the box holds no pixels."""
        h, w = rgb.shape[:2]
        x0, y0 = int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1])))
        x1, y1 = int(min(w, np.ceil(box[2]))), int(min(h, np.ceil(box[3])))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return self._share(_chroma(rgb[y0:y1, x0:x1]))

    def share_in_polygon(self, rgb: np.ndarray, polygon: np.ndarray) -> float | None:
        """Share of the pixels inside the convex hull of `polygon` (N x 2, image pixels) that
        match this skin; None when it covers fewer than MIN_SAMPLES pixels of the image."""
        h, w = rgb.shape[:2]
        x0, y0 = (int(max(0, np.floor(v))) for v in polygon.min(axis=0))
        x1, y1 = (
            int(min(w, np.ceil(polygon[:, 0].max()))),
            int(min(h, np.ceil(polygon[:, 1].max()))),
        )
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        hull = cv2.convexHull((polygon - [x0, y0]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
        inside = mask.ravel() > 0
        if inside.sum() < MIN_SAMPLES:
            return None
        return self._share(_chroma(rgb[y0:y1, x0:x1])[inside])

    def _share(self, chroma: np.ndarray) -> float:
        d = chroma - self.mean
        dist2 = np.einsum("ni,ij,nj->n", d, self.inv_cov, d)
        return float((dist2 <= MAX_DISTANCE**2).mean())


def _chroma(rgb: np.ndarray) -> np.ndarray:
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    return ycrcb[:, :, 1:].reshape(-1, 2).astype(np.float64)


def fit_face(rgb: np.ndarray, face_box: tuple[float, float, float, float]) -> SkinModel | None:
    """The skin model of the face in face_box (x, y, w, h); None when too few pixels."""
    x, y, w, h = face_box
    H, W = rgb.shape[:2]
    # The inner face: below the brows, above the chin, inside the cheeks (no hair, no
    # background, no beard line).
    x0, x1 = int(max(0, x + 0.2 * w)), int(min(W, x + 0.8 * w))
    y0, y1 = int(max(0, y + 0.35 * h)), int(min(H, y + 0.8 * h))
    if (x1 - x0) * (y1 - y0) < MIN_SAMPLES:
        return None
    c = _chroma(rgb[y0:y1, x0:x1])
    mean = c.mean(axis=0)
    # A floor on the spread: a flat-lit face would otherwise give a reference so narrow that
    # the same skin in another light falls outside it.
    cov = np.cov(c.T) + np.eye(2) * 4.0
    return SkinModel(mean, np.linalg.inv(cov))
