"""StartFaceDetection / GetFaceDetection: DetectFaces on the sampled frames.

FaceAttributes DEFAULT (BoundingBox, Confidence, Pose, Quality, five Landmarks) or ALL
(every attribute and the 30 landmarks, except FaceOccluded and EyeDirection, which AWS
documents as always null in video). Faces are listed by time, each frame's largest first.
"""

from __future__ import annotations

from rekognition_emulator.handlers.analysis import faces
from rekognition_emulator.handlers.video.framework import VideoAnalysis, VideoRun, register

# AWS: "the returned values for FaceOccluded and EyeDirection will always be null".
VIDEO_ALL = faces.AttributeRequest(
    faces.ALL_ATTRIBUTES.members - {"FaceOccluded", "EyeDirection"}, all_landmarks=True
)


class FaceDetection(VideoAnalysis):
    name = "FaceDetection"
    items = "Faces"

    def analyse(self, run: VideoRun) -> None:
        attributes = (
            VIDEO_ALL if run.params.get("FaceAttributes") == "ALL" else faces.DEFAULT_ATTRIBUTES
        )
        for frame in run.frames():
            found = faces.detect_faces(frame.rgb, attributes=attributes)
            run.store({"Timestamp": frame.timestamp, "Face": detail} for detail in found)


register(FaceDetection())
