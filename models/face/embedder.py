"""SFace face embedding (OpenCV Zoo, 2021dec int8): 128 numbers per face, compared by cosine.

The face is first aligned to the 112x112 ArcFace template from YuNet's five points (the
crop SFace was trained on), then the network runs in onnxruntime on RGB 0..255 without
normalisation, as OpenCV's FaceRecognizerSF feeds it. The vector is L2-normalised, so the
cosine similarity of two faces is their dot product.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.face import align

if TYPE_CHECKING:
    import onnxruntime

INPUT = 112


def aligned_crop(rgb: np.ndarray, points5: np.ndarray) -> np.ndarray:
    """The 112x112 RGB crop SFace expects, from YuNet's five points."""
    m = align.similarity_transform(points5, align.ARCFACE_112)
    return align.warp(rgb, m, INPUT)


class FaceEmbedder:
    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session  # onnxruntime's run() is thread-safe: shared as is
        self._input = session.get_inputs()[0].name

    @classmethod
    def from_path(cls, path: str | Path) -> FaceEmbedder:
        import onnxruntime as ort

        return cls(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """N x 128 unit vectors for N aligned 112x112 RGB crops."""
        if not crops:
            return np.zeros((0, 128), dtype=np.float32)
        batch = np.stack(crops).astype(np.float32).transpose(0, 3, 1, 2)
        # The shipped graph has a fixed batch of 1.
        out = np.concatenate([self._session.run(None, {self._input: b[None]})[0] for b in batch])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)
