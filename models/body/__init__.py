"""Bodies and hands, in no AWS vocabulary: MediaPipe pose landmarks on a person crop, palm
detection and hand landmarks with the gestures read from them, and skin-colour evidence.

The pose network is a TFLite file run by OpenCV's dnn (classic engine), whose Net keeps
per-call state; the hand networks are MediaPipe's TFLite files converted to ONNX and run in
onnxruntime. Each is handed out through `models.runtime.shared`:

    with palm_detector().use() as palms:
        found = palms.detect(rgb)
"""

from __future__ import annotations

from rekognition_emulator.models import runtime
from rekognition_emulator.models.body.hands import HandLandmarker, PalmDetector
from rekognition_emulator.models.body.pose import PoseLandmarker


def palm_detector() -> runtime.Shared[PalmDetector]:
    # The session is thread-safe: two holders let a moderation and a PPE request overlap.
    return runtime.shared(
        "palm_detection",
        lambda path: PalmDetector(runtime.onnx_session("palm_detection")),
        pool_size=2,
    )


def hand_landmarker() -> runtime.Shared[HandLandmarker]:
    return runtime.shared(
        "hand_landmark",
        lambda path: HandLandmarker(runtime.onnx_session("hand_landmark")),
        pool_size=2,
    )


def pose_landmarker() -> runtime.Shared[PoseLandmarker]:
    return runtime.shared("pose_landmark", PoseLandmarker)


__all__ = ["hand_landmarker", "palm_detector", "pose_landmarker"]
