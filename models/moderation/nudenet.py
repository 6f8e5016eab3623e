"""NudeNet's body-part detector (YOLOv8n, 18 classes with boxes): an OPT-IN model.

The weights ship in the `nudenet` wheel, whose LICENSE file is the AGPL-3.0. They are never
part of the default install, the default `models pull` or the Docker image: a user turns
them on by name (`rekognition-emulator models pull nudenet`, and the server's `--nudenet`
setting, which is what makes the moderation code ask for this detector at all).

Input: the picture padded to a square at the bottom/right (black), scaled to 320x320, RGB in
0..1, NCHW. Output: 1 x 22 x 2100, per candidate (cx, cy, w, h) in input pixels then the 18
class scores. Post-processing: best class per candidate, score threshold, per-class NMS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

INPUT = 320
SCORE_THRESHOLD = 0.25
NMS_THRESHOLD = 0.45
CLASSES = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED",
    "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE",
    "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)  # fmt: skip


@dataclass(frozen=True)
class BodyPart:
    name: str  # one of CLASSES
    score: float  # 0..1
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


class NudeNetDetector:
    """`detect(rgb)` -> body parts, best first. `session_factory` gives the ORT session."""

    def __init__(self, session_factory: Callable[[], object]) -> None:
        self._session_factory = session_factory

    @staticmethod
    def preprocess(rgb: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = rgb.shape[:2]
        side = max(h, w)
        canvas = np.zeros((side, side, 3), np.uint8)
        canvas[:h, :w] = rgb
        interp = cv2.INTER_AREA if side > INPUT else cv2.INTER_LINEAR
        small = cv2.resize(canvas, (INPUT, INPUT), interpolation=interp)
        blob = (small.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
        return blob, side / INPUT

    def detect(self, rgb: np.ndarray) -> list[BodyPart]:
        blob, scale = self.preprocess(rgb)
        session = self._session_factory()
        name = session.get_inputs()[0].name  # type: ignore[attr-defined]
        out = session.run(None, {name: blob})[0][0].T  # type: ignore[attr-defined]
        return self.decode(out, scale, rgb.shape[1], rgb.shape[0])

    @staticmethod
    def decode(rows: np.ndarray, scale: float, width: int, height: int) -> list[BodyPart]:
        scores = rows[:, 4:]
        klass = scores.argmax(axis=1)
        best = scores[np.arange(len(rows)), klass]
        keep = np.nonzero(best >= SCORE_THRESHOLD)[0]
        found: list[BodyPart] = []
        for c in np.unique(klass[keep]):
            idx = keep[klass[keep] == c]
            cx, cy, bw, bh = (rows[idx, k] * scale for k in range(4))
            boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
            chosen = cv2.dnn.NMSBoxes(
                boxes.tolist(), best[idx].tolist(), SCORE_THRESHOLD, NMS_THRESHOLD
            )
            for k in np.asarray(chosen).ravel():
                x, y, w, h = boxes[k]
                box = (
                    float(np.clip(x, 0, width)),
                    float(np.clip(y, 0, height)),
                    float(np.clip(x + w, 0, width)),
                    float(np.clip(y + h, 0, height)),
                )
                found.append(BodyPart(CLASSES[int(c)], float(best[idx[k]]), box))
        found.sort(key=lambda p: -p.score)
        return found
