"""Face embeddings, compared by cosine.

SFace (OpenCV Zoo, 2021dec int8): 128 numbers per face, the emulator's face-match embedding.

The face is first aligned to the 112x112 ArcFace template from YuNet's five points (the
crop SFace was trained on), then the network runs on RGB 0..255 without normalisation
(OpenCV's FaceRecognizerSF, which the model was published for). The vector is L2-normalised, so the
cosine similarity of two faces is their dot product.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from rekognition_emulator.models.face import align
from rekognition_emulator.models.face.age_gender import chip_points

INPUT = 112
DLIB_CHIP, DLIB_PADDING = 150, 0.25  # dlib's compute_face_descriptor chip


def aligned_crop(rgb: np.ndarray, points5: np.ndarray) -> np.ndarray:
    """The 112x112 RGB crop SFace expects, from YuNet's five points."""
    m = align.similarity_transform(points5, align.ARCFACE_112)
    return align.warp(rgb, m, INPUT)


class FaceEmbedder:
    """SFace through OpenCV's FaceRecognizerSF: 12 ms a face on 2 cores, where onnxruntime
    takes 30+ ms on the block-quantized graph (it re-dequantizes the weights on every run)."""

    def __init__(self, model_path: str | Path) -> None:
        self._model = cv2.FaceRecognizerSF.create(str(model_path), "")
        self._lock = threading.Lock()  # keeps per-call state: one caller at a time

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """N x 128 unit vectors for N aligned 112x112 RGB crops."""
        out = np.zeros((len(crops), 128), dtype=np.float32)
        with self._lock:
            for i, crop in enumerate(crops):
                # FaceRecognizerSF takes BGR and swaps to RGB itself, as SFace was trained.
                out[i] = self._model.feature(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)).ravel()
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


class DlibEmbedder:
    """dlib's face recognition ResNet (converted by models.convert.dlib_dnn): 128 numbers per
    face on dlib's 150x150 chip (padding 0.25) from its five points, which the face mesh gives
    (eye corners and nose base, as for the age and gender networks). The descriptor is the
    mean of the chip's and its mirror image's (test-time flip: 3 ms more a face), unit length.
    Measured beside SFace in scripts/fit_face_similarity.py (--embedding fused)."""

    def __init__(self, session) -> None:  # an onnxruntime.InferenceSession
        self._session = session

    def embed(self, rgb: np.ndarray, mesh_points: list[np.ndarray]) -> np.ndarray:
        if not mesh_points:
            return np.zeros((0, 128), np.float32)
        chips = []
        for pts in mesh_points:
            m = align.dlib_chip_matrix(chip_points(pts), DLIB_CHIP, DLIB_PADDING)
            chip = align.warp(rgb, m, DLIB_CHIP)
            chips += [chip, chip[:, ::-1]]
        batch = np.ascontiguousarray(np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2))
        out = self._session.run(None, {"image": batch})[0]
        out = out[0::2] + out[1::2]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
