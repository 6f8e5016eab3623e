"""Face search stream processors: for each analysed frame, one JSON frame record on the output
Kinesis data stream, as the API reference's "Kinesis face recognition JSON frame record" has it:

    {"InputInformation": {"KinesisVideo": {"StreamArn", "FragmentNumber", "ServerTimestamp",
                                           "ProducerTimestamp", "FrameOffsetInSeconds"}},
     "StreamProcessorInformation": {"Status": "RUNNING"},
     "FaceSearchResponse": [{"DetectedFace": {BoundingBox, Confidence, Landmarks, Pose,
                                              Quality},
                             "MatchedFaces": [{"Similarity", "Face": {BoundingBox,
                                 Confidence, ExternalImageId, FaceId, ImageId}}]}]}

A frame without faces has an empty FaceSearchResponse. Faces are the image operations' own
(`analysis.faces.frame_faces`), matched in the collection exactly as SearchFacesByImage
matches (`_face_search.face_matches`: the same similarity scale and threshold semantics).
Timestamps are seconds since the epoch, as in AWS's sample record; the partition key is the
session id.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.aws import kinesis
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store import warm
from rekognition_emulator.handlers import _face_search
from rekognition_emulator.handlers.analysis import faces
from rekognition_emulator.handlers.streams.playback import StreamFrame
from rekognition_emulator.handlers.streams.settings import DEFAULT_FACE_MATCH_THRESHOLD

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState
    from rekognition_emulator.emulator.store.stream_processors import StreamProcessor

DETECTED_FACE = ("BoundingBox", "Confidence", "Landmarks", "Pose", "Quality")
MATCHED_FACE = ("BoundingBox", "Confidence", "ExternalImageId", "FaceId", "ImageId")


class SessionFailed(Exception):
    """The session cannot go on: the processor is FAILED with this StatusMessage."""


def _number(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


class FaceSearch:
    """One session's face search: frames in, records out."""

    def __init__(self, state: AppState, processor: StreamProcessor, session_id: str) -> None:
        settings = processor.settings["Settings"]["FaceSearch"]
        self.state = state
        self.processor = processor
        self.session_id = session_id
        self.collection_id = settings["CollectionId"]
        self.threshold = float(settings.get("FaceMatchThreshold", DEFAULT_FACE_MATCH_THRESHOLD))
        self.input_arn = processor.settings["Input"]["KinesisVideoStream"]["Arn"]
        self.output_arn = processor.settings["Output"]["KinesisDataStream"]["Arn"]
        self.backend = warm(state).region(processor.account, processor.region)
        self.records = 0
        self.faces = 0
        self.matches = 0

    def check(self) -> None:
        """What must hold before the processor is RUNNING: its collection exists."""
        try:
            self.backend.describe_collection(self.collection_id)
        except errors.ResourceNotFoundException:
            raise SessionFailed(
                f"The collection {self.collection_id} does not exist in account "
                f"{self.processor.account}, region {self.processor.region}."
            ) from None

    def record(self, frame: StreamFrame) -> dict[str, Any]:
        responses = []
        try:
            collection = self.backend.describe_collection(self.collection_id)
            for face in faces.frame_faces(frame.rgb):
                matches = _face_search.face_matches(
                    self.backend, collection, face.embedding, None, self.threshold
                )
                responses.append(
                    {
                        "DetectedFace": {k: face.face_detail[k] for k in DETECTED_FACE},
                        "MatchedFaces": [
                            {
                                "Similarity": m["Similarity"],
                                "Face": {k: m["Face"][k] for k in MATCHED_FACE if k in m["Face"]},
                            }
                            for m in matches
                        ],
                    }
                )
        except errors.ResourceNotFoundException:
            raise SessionFailed(
                f"The collection {self.collection_id} was deleted while the stream processor "
                "was running."
            ) from None
        return {
            "InputInformation": {
                "KinesisVideo": {
                    "StreamArn": self.input_arn,
                    "FragmentNumber": frame.fragment_number,
                    "ServerTimestamp": frame.server_ms / 1000.0,
                    "ProducerTimestamp": frame.producer_ms / 1000.0,
                    "FrameOffsetInSeconds": round(frame.fragment_offset_ms / 1000.0, 3),
                }
            },
            "StreamProcessorInformation": {"Status": "RUNNING"},
            "FaceSearchResponse": responses,
        }

    def frame(self, frame: StreamFrame) -> None:
        record = self.record(frame)
        data = json.dumps(record, separators=(",", ":"), default=_number).encode()
        try:
            kinesis.put_record(
                self.state,
                self.processor.account,
                self.processor.region,
                self.output_arn,
                data,
                self.session_id,
            )
        except LookupError:
            raise SessionFailed(
                f"The Kinesis data stream {self.output_arn} does not exist."
            ) from None
        except kinesis.PutRecordError as exc:
            raise SessionFailed(f"The Kinesis data stream refused a record: {exc}") from None
        self.records += 1
        found = record["FaceSearchResponse"]
        self.faces += len(found)
        self.matches += sum(len(r["MatchedFaces"]) for r in found)

    def summary(self) -> dict[str, Any]:
        return {"Records": self.records, "Faces": self.faces, "Matches": self.matches}
