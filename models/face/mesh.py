"""MediaPipe face mesh (468 points) and iris (5 points an eye), TFLite through OpenCV's dnn.

Both run on crops made as MediaPipe makes them: the face crop is a square 1.5x the detector
box, rotated so the eyes are level; the eye crop is a square 2.3x the eye-corner distance,
rotated along the eye line. Outputs are mapped back to image pixels.

OpenCV's classic dnn engine is used on purpose: the new engine of OpenCV 5 exposes only the
landmark output of face_landmark.tflite and drops the face-presence score, which we need
(it tells a face from a face-like false detection and measures occlusion).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rekognition_emulator.models.face import align

MESH_INPUT = 192
IRIS_INPUT = 64
FACE_CROP_SCALE = 1.5
EYE_CROP_SCALE = 2.3

# Mesh indices (MediaPipe canonical topology). "R"/"L" are the subject's right/left, which
# is the image left/right for a face looking at the camera.
R_EYE_OUTER, R_EYE_INNER, L_EYE_INNER, L_EYE_OUTER = 33, 133, 362, 263
NOSE_BASE = 2  # subnasale: dlib's 5-point "nose" point


@dataclass(frozen=True)
class Mesh:
    """468 mesh points in image pixels; z is depth in the same pixel scale (smaller = nearer)."""

    points: np.ndarray  # 468 x 3
    presence: float  # probability (0..1) that the crop holds a face, from the model's own head


@dataclass(frozen=True)
class Iris:
    """Per eye: iris centre and 4 contour points, plus the model's 71 eye/brow contour points."""

    center: np.ndarray  # (x, y) in image pixels
    contour: np.ndarray  # 4 x 2
    radius: float  # mean distance of the contour to the centre, pixels
    eye_contour: np.ndarray  # 71 x 2 (eyelids and brow), image pixels


def mesh_eye_line(points: np.ndarray) -> float:
    """Tilt (radians) of the line from the subject's right eye centre to the left one."""
    right = points[[R_EYE_OUTER, R_EYE_INNER], :2].mean(axis=0)
    left = points[[L_EYE_INNER, L_EYE_OUTER], :2].mean(axis=0)
    return float(np.arctan2(left[1] - right[1], left[0] - right[0]))


def _nchw(crop_rgb: np.ndarray) -> np.ndarray:
    # OpenCV's TFLite reader wants NCHW; the models take RGB scaled to [0, 1].
    return (crop_rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()


class FaceMesh:
    def __init__(self, model_path: str | Path) -> None:
        self._net = cv2.dnn.readNetFromTFLite(str(model_path), cv2.dnn.ENGINE_CLASSIC)
        self._lock = threading.Lock()  # a cv2.dnn.Net keeps its input as state

    def run(self, rgb: np.ndarray, box: tuple[float, float, float, float], roll: float) -> Mesh:
        """Mesh of the face in `box` (x, y, w, h), whose eye line is tilted by `roll` radians."""
        x, y, w, h = box
        center = (x + w / 2.0, y + h / 2.0)
        size = max(w, h) * FACE_CROP_SCALE
        m = align.rotated_square(center, size, roll, MESH_INPUT)
        crop = align.warp(rgb, m, MESH_INPUT)
        with self._lock:
            self._net.setInput(_nchw(crop))
            flag, landmarks = self._net.forward(["conv2d_31", "conv2d_21"])
        pts = landmarks.reshape(468, 3).astype(np.float64)
        inv = align.invert(m)
        xy = align.apply(inv, pts[:, :2])
        z = pts[:, 2:3] * (size / MESH_INPUT)
        presence = float(1.0 / (1.0 + np.exp(-float(flag.ravel()[0]))))
        return Mesh(np.hstack([xy, z]), presence)


class IrisModel:
    def __init__(self, model_path: str | Path) -> None:
        self._net = cv2.dnn.readNetFromTFLite(str(model_path), cv2.dnn.ENGINE_CLASSIC)
        self._lock = threading.Lock()

    def run(self, rgb: np.ndarray, mesh: Mesh) -> tuple[Iris, Iris]:
        """(subject's right eye, subject's left eye), both eyes in one batch."""
        crops, mats = [], []
        for outer, inner, flip in (
            (R_EYE_OUTER, R_EYE_INNER, False),
            (L_EYE_OUTER, L_EYE_INNER, True),
        ):
            a, b = mesh.points[outer, :2], mesh.points[inner, :2]
            # Orient the crop from the image-left corner to the image-right corner.
            left, right = (a, b) if a[0] <= b[0] else (b, a)
            angle = float(np.arctan2(right[1] - left[1], right[0] - left[0]))
            center = (a + b) / 2.0
            size = max(float(np.linalg.norm(b - a)) * EYE_CROP_SCALE, 4.0)
            m = align.rotated_square((center[0], center[1]), size, angle, IRIS_INPUT)
            if flip:
                # The model was trained on one eye's orientation (MediaPipe mirrors the other
                # eye): flip the crop so both eyes have the inner corner on the same side.
                m = np.array([[-1, 0, IRIS_INPUT], [0, 1, 0]], dtype=np.float64) @ np.vstack(
                    [m, [0, 0, 1]]
                )
            crops.append(_nchw(align.warp(rgb, m, IRIS_INPUT))[0])
            mats.append(m)
        with self._lock:
            self._net.setInput(np.stack(crops))
            contours, irises = self._net.forward(["output_eyes_contours_and_brows", "output_iris"])
        contours = contours.reshape(2, 71, 3)
        irises = irises.reshape(2, 5, 3)
        out = []
        for i in range(2):
            inv = align.invert(mats[i])
            iris = align.apply(inv, irises[i, :, :2])
            eye = align.apply(inv, contours[i, :, :2])
            radius = float(np.linalg.norm(iris[1:] - iris[0], axis=1).mean())
            out.append(Iris(iris[0], iris[1:], radius, eye))
        return out[0], out[1]
