"""Content moderation signals, in no AWS vocabulary: nudity classifiers (nsfwjs, open_nsfw),
NudeNet's body parts (opt-in, AGPL), and the mask classifier for protective equipment.

`handlers/analysis/moderation.py` turns these (with the ImageNet classifier, the COCO detector
and the hand models) into Rekognition's moderation labels.
"""

from __future__ import annotations

from functools import lru_cache

from rekognition_emulator.models.moderation.mask import FaceMaskClassifier
from rekognition_emulator.models.moderation.nsfw import NsfwjsClassifier, OpenNsfw
from rekognition_emulator.models.moderation.nudenet import NudeNetDetector


@lru_cache(maxsize=1)
def nsfwjs() -> NsfwjsClassifier:
    from rekognition_emulator.models.runtime import onnx_session

    return NsfwjsClassifier(lambda: onnx_session("nsfwjs"))


@lru_cache(maxsize=1)
def open_nsfw() -> OpenNsfw:
    from rekognition_emulator.models.runtime import onnx_session

    return OpenNsfw(lambda: onnx_session("open_nsfw"))


@lru_cache(maxsize=1)
def face_mask() -> FaceMaskClassifier:
    from rekognition_emulator.models.runtime import onnx_session

    return FaceMaskClassifier(lambda: onnx_session("face_mask"))


@lru_cache(maxsize=1)
def nudenet_detector() -> NudeNetDetector:
    """NudeNet's detector (opt-in, AGPL: ask for it only when the user turned it on; its file
    is pulled on first use)."""
    from rekognition_emulator.models.runtime import onnx_session

    return NudeNetDetector(lambda: onnx_session("nudenet"))


__all__ = ["face_mask", "nsfwjs", "nudenet_detector", "open_nsfw"]
