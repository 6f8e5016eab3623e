"""YuNet face detector (OpenCV Zoo, 2023mar int8) through cv2.FaceDetectorYN.

Returns a box, five points and a score per face. Large photos are shrunk before detection:
YuNet's cost grows with the pixel count (14 ms at 640x480, 160 ms at 2000x1428 on 2 cores)
and a face that is still 20 px wide after shrinking is found reliably, which covers the
smallest face Rekognition promises to find (40 px in a 1920x1080 photo).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Detection:
    """One detected face, in pixels of the analysed image."""

    box: tuple[float, float, float, float]  # x, y, width, height
    # 5 x 2: subject's right eye, left eye, nose tip, right mouth corner, left mouth corner
    # (subject's right = image left for a face that looks at the camera).
    points: np.ndarray
    score: float  # YuNet's score, 0..1 (clear faces about 0.9)

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


class FaceDetector:
    """`detect(rgb)` -> faces sorted by score, highest first."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        max_side: int = 1024,
    ) -> None:
        # 0.6: on the 9 annotated group photos it keeps every annotated face (lowest true face
        # 0.86) and leaves 1 false face in 9 photos; 0.5 leaves 3, 0.3 leaves 10.
        self.score_threshold = score_threshold
        self.max_side = max_side
        self._model = cv2.FaceDetectorYN.create(
            str(model_path), "", (320, 320), score_threshold, nms_threshold, 5000
        )
        # FaceDetectorYN keeps the input size as state: one caller at a time.
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        else:
            size, small = (w, h), rgb
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)  # YuNet was trained on BGR input
        with self._lock:
            self._model.setInputSize(size)
            _, raw = self._model.detect(bgr)
        if raw is None:
            return []
        sx, sy = w / size[0], h / size[1]
        faces = []
        for row in raw:
            x, y, bw, bh = (float(v) for v in row[:4])
            points = row[4:14].reshape(5, 2).astype(np.float64) * (sx, sy)
            faces.append(Detection((x * sx, y * sy, bw * sx, bh * sy), points, float(row[14])))
        faces.sort(key=lambda f: -f.score)
        return faces
