"""Two nudity classifiers, each on the whole picture.

- nsfwjs' MobileNetV2 (MIT): five classes, Drawing, Hentai, Neutral, Porn, Sexy. Input: the
  picture squashed to 224x224, RGB in 0..1 (as nsfwjs feeds it).
- Yahoo's open_nsfw (BSD-2): one not-safe-for-work probability. Input: the picture squashed
  to 256x256, the centre 224x224, JPEG round-tripped (the reference scores were made on
  JPEG-decoded crops; the round trip moves scores by up to a few hundredths), BGR minus the
  Caffe means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

NSFWJS_CLASSES = ("drawing", "hentai", "neutral", "porn", "sexy")
NSFWJS_INPUT = 224
OPEN_NSFW_RESIZE = 256
OPEN_NSFW_CROP = 224
OPEN_NSFW_MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
OPEN_NSFW_JPEG_QUALITY = 75  # what the reference pipeline's re-encode uses (PIL's default)


@dataclass(frozen=True)
class NsfwjsScores:
    """nsfwjs' five class probabilities (they sum to 1)."""

    drawing: float
    hentai: float
    neutral: float
    porn: float
    sexy: float


def _shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if min(h, w) > side else cv2.INTER_LINEAR
    return cv2.resize(rgb, (side, side), interpolation=interp)


class NsfwjsClassifier:
    """`classify(rgb)` -> NsfwjsScores. `session_factory` returns the onnxruntime session."""

    def __init__(self, session_factory: Callable[[], object]) -> None:
        self._session_factory = session_factory

    @staticmethod
    def preprocess(rgb: np.ndarray) -> np.ndarray:
        return (_shrink(rgb, NSFWJS_INPUT).astype(np.float32) / 255.0)[None]

    def classify(self, rgb: np.ndarray) -> NsfwjsScores:
        session = self._session_factory()
        probs = session.run(None, {"input_1": self.preprocess(rgb)})[0][0]  # type: ignore[attr-defined]
        return NsfwjsScores(*(float(p) for p in probs))


class OpenNsfw:
    """`score(rgb)` -> probability (0..1) that the picture is not safe for work."""

    def __init__(self, session_factory: Callable[[], object]) -> None:
        self._session_factory = session_factory

    @staticmethod
    def preprocess(rgb: np.ndarray) -> np.ndarray:
        big = _shrink(rgb, OPEN_NSFW_RESIZE)
        o = (OPEN_NSFW_RESIZE - OPEN_NSFW_CROP) // 2
        crop = np.ascontiguousarray(big[o : o + OPEN_NSFW_CROP, o : o + OPEN_NSFW_CROP, ::-1])
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, OPEN_NSFW_JPEG_QUALITY])
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else crop
        return (bgr.astype(np.float32) - OPEN_NSFW_MEAN_BGR)[None]

    def score(self, rgb: np.ndarray) -> float:
        session = self._session_factory()
        name = session.get_inputs()[0].name  # type: ignore[attr-defined]
        out = session.run(None, {name: self.preprocess(rgb)})[0][0]  # type: ignore[attr-defined]
        return float(out[1])
