"""MediaPipe hands: palm detection (192x192) and 21 hand landmarks (224x224), MediaPipe's
TFLite files converted to ONNX (models/convert/tflite.py) and run in onnxruntime: OpenCV's
classic dnn engine ran them on one thread (palm detection 26 ms there, 8 ms here on 2 cores).

Both are used as MediaPipe's own hand pipeline uses them:
- the palm detector sees the whole photo letterboxed into a square (zero padding), pixels
  scaled to 0..1; it predicts, for each of 2016 fixed SSD anchors, a score and a palm box with
  7 points (0: wrist, 2: middle-finger knuckle ...), as offsets in input pixels;
- the hand crop is the palm box rotated so that the wrist -> middle-knuckle line points up,
  moved half a palm towards the fingers and enlarged 2.6 times (square);
- the landmark model gives 21 points (x, y in crop pixels, z), a hand-presence score and a
  handedness score, both already probabilities.

Handedness: the model's handedness output is the probability of the person's right hand on an
ordinary (unmirrored) photo (checked on the test photos: a man's hand on his hip and the other
on a shoulder, two raised hands). `Hand.is_left` is the person's own side.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from rekognition_emulator.models.face import align
from rekognition_emulator.models.labels.detector import iou

PALM_INPUT = 192
HAND_INPUT = 224
PALM_STRIDES = (8, 16, 16, 16)
PALM_SCORE = 0.5  # MediaPipe's own threshold
PALM_NMS = 0.3
HAND_CROP_SCALE = 2.6
HAND_CROP_SHIFT = 0.5  # palm sizes towards the fingers

# Landmark indices (MediaPipe hand topology).
WRIST = 0
THUMB = (1, 2, 3, 4)
INDEX = (5, 6, 7, 8)
MIDDLE = (9, 10, 11, 12)
RING = (13, 14, 15, 16)
PINKY = (17, 18, 19, 20)
FINGERS = {"index": INDEX, "middle": MIDDLE, "ring": RING, "pinky": PINKY}
PALM = (WRIST, 1, 5, 9, 13, 17)  # wrist, thumb base and the four knuckles


def palm_anchors() -> np.ndarray:
    """Centres (x, y in 0..1) of the detector's 2016 anchors, in its output order.

    SSD anchors with a fixed size: layers of equal stride share one grid, two anchors per
    layer per cell (24x24x2 at stride 8, then 12x12x6 for the three stride-16 layers).
    """
    centres = []
    i = 0
    while i < len(PALM_STRIDES):
        stride = PALM_STRIDES[i]
        per_cell = 0
        while i < len(PALM_STRIDES) and PALM_STRIDES[i] == stride:
            per_cell += 2
            i += 1
        grid = PALM_INPUT // stride
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres)


@dataclass(frozen=True)
class Palm:
    """One palm, in image pixels: box (x0, y0, x1, y1), the 7 points, the detector's score."""

    box: tuple[float, float, float, float]
    points: np.ndarray  # 7 x 2
    score: float

    @property
    def size(self) -> float:
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])


@dataclass(frozen=True)
class Hand:
    """21 landmarks in image pixels (x, y) with depth z (same scale), and the model's scores."""

    landmarks: np.ndarray  # 21 x 3
    presence: float  # probability that the crop holds a hand
    left: float  # probability that it is the person's left hand

    @property
    def is_left(self) -> bool:
        return self.left >= 0.5

    @cached_property
    def box(self) -> tuple[float, float, float, float]:
        """The box round the 21 points, 10 % larger each side (fingertips are points)."""
        xy = self.landmarks[:, :2]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        pad = 0.1 * max(x1 - x0, y1 - y0)
        return (float(x0 - pad), float(y0 - pad), float(x1 + pad), float(y1 + pad))


class PalmDetector:
    """`detect(rgb)` -> palms, best first."""

    def __init__(self, session: Any, *, score_threshold: float = PALM_SCORE) -> None:
        self._session = session  # an onnxruntime session of the converted model (thread-safe)
        self._anchors = palm_anchors()
        self.score_threshold = score_threshold

    @staticmethod
    def preprocess(rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The letterboxed 1x3x192x192 blob, and (scale, pad_x, pad_y) to map back."""
        h, w = rgb.shape[:2]
        side = max(h, w)
        pad_x, pad_y = (side - w) // 2, (side - h) // 2
        canvas = np.zeros((side, side, 3), np.uint8)
        canvas[pad_y : pad_y + h, pad_x : pad_x + w] = rgb
        interp = cv2.INTER_AREA if side > PALM_INPUT else cv2.INTER_LINEAR
        small = cv2.resize(canvas, (PALM_INPUT, PALM_INPUT), interpolation=interp)
        blob = (small.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
        return blob, PALM_INPUT / side, float(pad_x), float(pad_y)

    def detect(self, rgb: np.ndarray) -> list[Palm]:
        blob, scale, pad_x, pad_y = self.preprocess(rgb)
        raw_scores, raw_boxes = self._session.run(["Identity_1", "Identity"], {"input_1": blob})
        return self.decode(raw_scores[0, :, 0], raw_boxes[0], scale, pad_x, pad_y)

    def decode(
        self, logits: np.ndarray, regress: np.ndarray, scale: float, pad_x: float, pad_y: float
    ) -> list[Palm]:
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
        keep = np.nonzero(scores >= self.score_threshold)[0]
        if not len(keep):
            return []
        anchors = self._anchors[keep] * PALM_INPUT
        reg = regress[keep]
        cx, cy = anchors[:, 0] + reg[:, 0], anchors[:, 1] + reg[:, 1]
        bw, bh = reg[:, 2], reg[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        points = reg[:, 4:18].reshape(-1, 7, 2) + anchors[:, None, :]
        # Back to image pixels: undo the letterbox.
        boxes = (boxes - [pad_x * scale, pad_y * scale] * 2) / scale
        points = (points - [pad_x * scale, pad_y * scale]) / scale
        s = scores[keep]
        # Weighted NMS, as MediaPipe: overlapping candidates are averaged by score.
        order = list(np.argsort(-s, kind="stable"))
        palms = []
        while order:
            best = order[0]
            overlap = iou(boxes[best], boxes[order])
            group = [order[k] for k in np.nonzero(overlap > PALM_NMS)[0]]
            weights = s[group][:, None]
            box = (boxes[group] * weights).sum(0) / weights.sum()
            pts = (points[group] * weights[:, :, None]).sum(0) / weights.sum()
            palms.append(Palm(tuple(float(v) for v in box), pts, float(s[best])))  # type: ignore[arg-type]
            order = [i for i in order if i not in group]
        return palms


def hand_crop(palm: Palm) -> tuple[np.ndarray, float]:
    """The 2x3 matrix from the image to the 224x224 hand crop of `palm`, and its side (px)."""
    up = palm.points[2] - palm.points[0]  # wrist -> middle-finger knuckle
    norm = float(np.hypot(*up))
    u = up / norm if norm > 1e-6 else np.array([0.0, -1.0])
    angle = float(np.arctan2(u[0], -u[1]))  # clockwise from "up"
    x0, y0, x1, y1 = palm.box
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + HAND_CROP_SHIFT * palm.size * u
    side = HAND_CROP_SCALE * palm.size
    return align.rotated_square((centre[0], centre[1]), side, angle, HAND_INPUT), side


class HandLandmarker:
    """`run(rgb, palm)` -> Hand: 21 landmarks on the crop MediaPipe makes from a palm."""

    def __init__(self, session: Any) -> None:
        self._session = session  # an onnxruntime session of the converted model (thread-safe)

    def run(self, rgb: np.ndarray, palm: Palm) -> Hand:
        m, side = hand_crop(palm)
        return self.run_crop(rgb, m, side)

    def run_crop(self, rgb: np.ndarray, m: np.ndarray, side: float) -> Hand:
        """Landmarks of the hand in the crop given by the image -> 224x224 matrix `m`."""
        crop = align.warp(rgb, m, HAND_INPUT)
        blob = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
        points, presence, handedness = self._session.run(
            ["Identity", "Identity_1", "Identity_2"], {"input_1": blob}
        )
        pts = points.reshape(21, 3).astype(np.float64)
        xy = align.apply(align.invert(m), pts[:, :2])
        z = pts[:, 2:3] * (side / HAND_INPUT)
        right = float(handedness.ravel()[0])
        return Hand(np.hstack([xy, z]), float(presence.ravel()[0]), 1.0 - right)


# --- gestures, from the 21 points ---------------------------------------------------------------


def finger_straightness(landmarks: np.ndarray, finger: tuple[int, int, int, int]) -> float:
    """How straight a finger is, 0 (folded) .. 1 (straight): the mean cosine of its two
    joint angles (knuckle -> middle -> end joint), using the 3-D points."""
    p = landmarks[list(finger)]
    bones = np.diff(p, axis=0)
    bones /= np.maximum(np.linalg.norm(bones, axis=1, keepdims=True), 1e-9)
    cos = (bones[:-1] * bones[1:]).sum(axis=1)
    return float(np.clip(cos.mean(), 0.0, 1.0))


def finger_extension(landmarks: np.ndarray, finger: tuple[int, int, int, int]) -> float:
    """How far the fingertip reaches beyond the knuckle, relative to the finger's own length
    (1: fully out along the palm's direction; <= 0: curled back into the palm)."""
    wrist = landmarks[WRIST, :2]
    knuckle, tip = landmarks[finger[0], :2], landmarks[finger[3], :2]
    length = sum(
        float(np.linalg.norm(landmarks[finger[i + 1], :2] - landmarks[finger[i], :2]))
        for i in range(3)
    )
    axis = knuckle - wrist
    axis = axis / max(float(np.linalg.norm(axis)), 1e-9)
    return float(np.dot(tip - knuckle, axis) / max(length, 1e-9))


def middle_finger_score(landmarks: np.ndarray) -> float:
    """0..1: the middle finger is straight and out while index, ring and little finger are
    folded (the thumb is free). The product of soft margins, so one doubtful finger is enough
    to bring the score down."""

    def out(finger: tuple[int, int, int, int]) -> float:
        return min(finger_straightness(landmarks, finger), 1.0) * np.clip(
            finger_extension(landmarks, finger) / 0.8, 0.0, 1.0
        )

    middle = out(MIDDLE)
    folded = [1.0 - out(FINGERS[f]) for f in ("index", "ring", "pinky")]
    return float(np.clip(middle, 0, 1) * np.prod(np.clip(folded, 0, 1)))
