"""Bodies and hands, in no AWS vocabulary: MediaPipe pose landmarks on a person crop, palm
detection and hand landmarks with the gestures read from them, and skin-colour evidence.

The networks are TFLite files run by OpenCV's dnn (classic engine). A cv2.dnn.Net keeps
per-call state, so each is shared through `models.runtime.shared`, one caller at a time:

    with palm_detector().use() as palms:
        found = palms.detect(rgb)
"""

from __future__ import annotations

from rekognition_emulator.models import runtime
from rekognition_emulator.models.body.hands import HandLandmarker, PalmDetector
from rekognition_emulator.models.body.pose import PoseLandmarker


def palm_detector() -> runtime.Shared[PalmDetector]:
    return runtime.shared("palm_detection", PalmDetector)


def hand_landmarker() -> runtime.Shared[HandLandmarker]:
    return runtime.shared("hand_landmark", HandLandmarker)


def pose_landmarker() -> runtime.Shared[PoseLandmarker]:
    return runtime.shared("pose_landmark", PoseLandmarker)


__all__ = ["hand_landmarker", "palm_detector", "pose_landmarker"]
