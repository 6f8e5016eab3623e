"""Frozen EfficientNet-Lite0 features for the trainable heads.

The pinned classifier graph (models/convert/efficientnet_lite.py) already computes what a
small head needs: the 1280-d pooled `features` (one vector an image) and the last
convolution's activations `head.act` (1280 x H/32 x W/32, a map of what is where). The
session variant used here lists both as outputs and leaves the input's height and width
free: the converter wrote TF's SAME padding as explicit pads for 224 px, and those pads are
the same for any side that is a multiple of 32, so the graph runs unchanged at 320, 416 or
512 px. The stride-16 activations of the fifth stage (`b10.out`, 112 channels) are exposed
too: objects of 30-60 px cover one cell of the stride-32 map, two of this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from rekognition_emulator.models.convert.efficientnet_lite import INPUT_MEAN, INPUT_SIZE, INPUT_STD

MODEL_NAME = "efficientnet_lite0"
VARIANT = "features"
POOLED = "features"
MAP32 = "head.act"
MAP16 = "b10.out"
POOLED_DIM = 1280


def expose_features(model_bytes: bytes) -> bytes:
    """The classifier graph with the pooled features and both maps as outputs, any H x W."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load_from_string(model_bytes)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "H", "W"
    have = {o.name for o in model.graph.output}
    wanted = [
        (POOLED, ["N", POOLED_DIM]),
        (MAP32, ["N", POOLED_DIM, "h32", "w32"]),
        (MAP16, ["N", 112, "h16", "w16"]),
    ]
    for name, shape in wanted:
        if name not in have:
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    return model.SerializeToString()


def _normalise(rgb: np.ndarray) -> np.ndarray:
    return ((rgb.astype(np.float32) - INPUT_MEAN) / INPUT_STD).transpose(2, 0, 1)


def resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    # INTER_AREA when shrinking keeps fine texture from aliasing (as the label classifier does).
    shrink = width < rgb.shape[1] or height < rgb.shape[0]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interp)


@dataclass(frozen=True)
class FeatureMaps:
    """Activation maps of one image seen at `scale` (map px = image px * scale / stride)."""

    map32: np.ndarray  # (1280, h/32, w/32)
    map16: np.ndarray  # (112, h/16, w/16)
    scale: float  # analysed px per image px
    pooled: np.ndarray  # (1280,) over the analysed canvas


class FeatureExtractor:
    """`pooled(images)` -> (N, 1280); `maps(rgb, side)` -> FeatureMaps. Deterministic."""

    def __init__(self, session_factory: Callable[[], object]) -> None:
        self._session_factory = session_factory

    def pooled(self, crops: list[np.ndarray], batch: int = 16) -> np.ndarray:
        """One 1280-d vector per RGB image, each squashed to 224 x 224 (nothing cut off)."""
        out = np.zeros((len(crops), POOLED_DIM), np.float32)
        session = self._session_factory()
        for start in range(0, len(crops), batch):
            chunk = crops[start : start + batch]
            x = np.stack([_normalise(resize(c, INPUT_SIZE, INPUT_SIZE)) for c in chunk])
            out[start : start + len(chunk)] = session.run([POOLED], {"input": x})[0]
        return out

    def maps(self, rgb: np.ndarray, side: int) -> FeatureMaps:
        """The maps of `rgb` scaled to `side` px on its long side, padded to multiples of 32."""
        h, w = rgb.shape[:2]
        scale = side / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        ch, cw = -(-nh // 32) * 32, -(-nw // 32) * 32
        canvas = np.zeros((3, ch, cw), np.float32)  # zero = the mean colour after normalising
        canvas[:, :nh, :nw] = _normalise(resize(rgb, nw, nh))
        pooled, m32, m16 = self._session_factory().run(
            [POOLED, MAP32, MAP16], {"input": canvas[None]}
        )
        return FeatureMaps(m32[0], m16[0], scale, pooled[0])


def default_extractor() -> FeatureExtractor:
    from rekognition_emulator.models.runtime import onnx_session

    return FeatureExtractor(
        lambda: onnx_session(MODEL_NAME, variant=VARIANT, transform=expose_features)
    )
