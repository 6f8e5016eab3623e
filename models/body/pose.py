"""MediaPipe BlazePose (full) landmarks on a person crop, TFLite run by OpenCV's dnn.

MediaPipe finds the person with its own pose detector, whose TFLite file OpenCV 5 cannot load
(it needs the DENSIFY operator). The caller gives a person box instead (from the COCO
detector); the crop is the square around it, 1.25 times its longer side, as MediaPipe enlarges
its own person region, scaled to 256x256 with pixels in 0..1 (zero padding outside the photo).

The model gives 39 points (the 33 body landmarks, then 6 auxiliary ones) as x, y, z in crop
pixels with a visibility and a presence logit each, and a score that a person is in the crop.
Sides are the person's own: LEFT_WRIST is the person's left wrist (the image right for a
person facing the camera).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rekognition_emulator.models.face import align

POSE_INPUT = 256
CROP_SCALE = 1.25

NOSE = 0
LEFT_EAR, RIGHT_EAR = 7, 8
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_PINKY, RIGHT_PINKY = 17, 18
LEFT_INDEX, RIGHT_INDEX = 19, 20
LEFT_THUMB, RIGHT_THUMB = 21, 22
LEFT_HIP, RIGHT_HIP = 23, 24
# Per side: wrist, pinky, index, thumb (the hand's points in the body model).
HAND_POINTS = {
    "left": (LEFT_WRIST, LEFT_PINKY, LEFT_INDEX, LEFT_THUMB),
    "right": (RIGHT_WRIST, RIGHT_PINKY, RIGHT_INDEX, RIGHT_THUMB),
}


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


@dataclass(frozen=True)
class Pose:
    """33 landmarks in image pixels: x, y, z (z in the same pixel scale, smaller = nearer),
    and per landmark the probability that it is visible (not hidden) and inside the crop."""

    points: np.ndarray  # 33 x 3
    visibility: np.ndarray  # 33
    presence: np.ndarray  # 33
    score: float  # probability that the crop holds a person

    def seen(self, index: int) -> float:
        """Probability that landmark `index` is in the photo and not hidden."""
        return float(self.visibility[index] * self.presence[index])


class PoseLandmarker:
    """`run(rgb, box)` -> Pose of the person in box (x0, y0, x1, y1, image pixels)."""

    def __init__(self, model_path: str | Path) -> None:
        self._net = cv2.dnn.readNetFromTFLite(str(model_path), engine=cv2.dnn.ENGINE_CLASSIC)
        self._lock = threading.Lock()  # a cv2.dnn.Net keeps its input as state

    @staticmethod
    def crop_matrix(box: tuple[float, float, float, float]) -> np.ndarray:
        x0, y0, x1, y1 = box
        side = CROP_SCALE * max(x1 - x0, y1 - y0, 1.0)
        return align.rotated_square(((x0 + x1) / 2, (y0 + y1) / 2), side, 0.0, POSE_INPUT)

    def run(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> Pose:
        m = self.crop_matrix(box)
        crop = align.warp(rgb, m, POSE_INPUT)
        # MediaPipe pads with zeros outside the photo; warp() repeats the border, which for a
        # person cut by the photo's edge would draw a smeared limb. Blank what lies outside.
        h, w = rgb.shape[:2]
        inside = cv2.warpAffine(
            np.full((h, w), 255, np.uint8), m, (POSE_INPUT, POSE_INPUT), flags=cv2.INTER_NEAREST
        )
        crop[inside == 0] = 0
        blob = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
        with self._lock:
            self._net.setInput(blob)
            raw, flag = self._net.forward(["Identity", "Identity_1"])
        pts = raw.reshape(-1, 5)[:33].astype(np.float64)
        inv = align.invert(m)
        xy = align.apply(inv, pts[:, :2])
        z = pts[:, 2:3] / float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        return Pose(
            np.hstack([xy, z]),
            _sigmoid(pts[:, 3]),
            _sigmoid(pts[:, 4]),
            float(np.clip(flag.ravel()[0], 0.0, 1.0)),
        )
