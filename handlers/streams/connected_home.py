"""Label detection ("connected home") stream processors: people, pets and packages in a
streaming video, reported to S3 and SNS.

Per analysed frame the labels come from the same models DetectLabels runs
(`analysis.labels.analyse`):
- PERSON: the detector's Person boxes (NanoDet), and the people faces imply (YuNet);
- PET: its Dog and Cat boxes;
- PACKAGE: the ImageNet classifier's Package, Carton, Crate and Envelope (packet, carton,
  crate, envelope classes). A classifier does not say where a thing is: a package's box is the
  whole frame. This is the weakest of the three.
A detection counts when its confidence reaches MinConfidence (default 50) and, with
RegionsOfInterest, when more than half of its box lies inside a region (bounding boxes and
polygons alike, as the API reference defines it).

The first time each label is seen in a session, the frame and the cropped object are written
to S3 under `<KeyPrefix>/<processor name>/<SessionId>/notifications/<label id>/` and one SNS
message says so (eventNamespace.type LABEL_DETECTED). When the session ends (MaxDurationInSeconds
of video processed, or the video ended, or StopStreamProcessor), the session summary (every
detection) goes to `.../summary.json` and a STREAM_PROCESSING_COMPLETE message to SNS. Message
members are the developer guide's (camelCase); the S3 key names are the emulator's choice: AWS
does not document them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from rekognition_emulator.emulator.aws import sns
from rekognition_emulator.emulator.aws.s3 import put_object
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.handlers._ids import new_session_id
from rekognition_emulator.handlers._label_taxonomy import taxonomy
from rekognition_emulator.handlers.analysis import labels
from rekognition_emulator.handlers.analysis.numbers import f32
from rekognition_emulator.handlers.streams.face_search import SessionFailed
from rekognition_emulator.handlers.streams.playback import StreamFrame
from rekognition_emulator.handlers.streams.settings import DEFAULT_MIN_CONFIDENCE, wanted_labels

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState
    from rekognition_emulator.emulator.store.stream_processors import StreamProcessor

# Connected-home label -> the DetectLabels labels that are it.
BOXED = {"PERSON": ("Person",), "PET": ("Dog", "Cat")}
CLASSIFIED = {"PACKAGE": ("Package", "Carton", "Crate", "Envelope")}
MASK_SIDE = 256  # regions of interest are rasterised this wide
CROP_MARGIN = 0.1


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def detect(rgb: np.ndarray, wanted: tuple[str, ...], min_confidence: float) -> list[Detection]:
    """Every wanted label in the frame at or above `min_confidence`, most confident first."""
    h, w = rgb.shape[:2]
    found, _ = labels.analyse(rgb, taxonomy(), want_labels="PACKAGE" in wanted)
    out: list[Detection] = []
    for label, names in BOXED.items():
        if label in wanted:
            for name in names:
                for inst in found.instances.get(name, []):
                    box = (inst.box.x0, inst.box.y0, inst.box.x1, inst.box.y1)
                    out.append(Detection(label, float(inst.confidence), box))
    for label, names in CLASSIFIED.items():
        if label in wanted:
            confidence = max((found.confidence.get(n, 0.0) for n in names), default=0.0)
            if confidence > 0:
                out.append(Detection(label, float(confidence), (0.0, 0.0, float(w), float(h))))
    return sorted((d for d in out if d.confidence >= min_confidence), key=lambda d: -d.confidence)


def region_mask(regions: list[dict[str, Any]] | None, width: int, height: int) -> np.ndarray | None:
    """The regions of interest as a mask MASK_SIDE wide (None: the whole frame counts)."""
    if not regions:
        return None
    mw = MASK_SIDE
    mh = max(1, round(MASK_SIDE * height / width))
    mask = np.zeros((mh, mw), np.uint8)
    for region in regions:
        if region.get("BoundingBox"):
            b = region["BoundingBox"]
            x0, y0 = round(b["Left"] * mw), round(b["Top"] * mh)
            x1, y1 = round((b["Left"] + b["Width"]) * mw), round((b["Top"] + b["Height"]) * mh)
            mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = 1
        else:
            points = np.array([[p["X"] * mw, p["Y"] * mh] for p in region["Polygon"]], np.int32)
            cv2.fillPoly(mask, [points], 1)
    return mask


def inside(mask: np.ndarray | None, box: tuple[float, ...], width: int, height: int) -> bool:
    """More than half of the box lies in the regions (the API reference's rule)."""
    if mask is None:
        return True
    mh, mw = mask.shape
    x0 = int(np.clip(box[0] / width * mw, 0, mw))
    x1 = int(np.clip(np.ceil(box[2] / width * mw), 0, mw))
    y0 = int(np.clip(box[1] / height * mh, 0, mh))
    y1 = int(np.clip(np.ceil(box[3] / height * mh), 0, mh))
    if x1 <= x0 or y1 <= y0:
        return False
    return float(mask[y0:y1, x0:x1].mean()) > 0.5


def _jpeg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    if not ok:
        raise RuntimeError("a frame could not be encoded as JPEG")
    return buf.tobytes()


def _crop(rgb: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    h, w = rgb.shape[:2]
    mx, my = (box[2] - box[0]) * CROP_MARGIN, (box[3] - box[1]) * CROP_MARGIN
    x0, y0 = int(max(0, box[0] - mx)), int(max(0, box[1] - my))
    x1, y1 = int(min(w, box[2] + mx)), int(min(h, box[3] + my))
    if x1 <= x0 or y1 <= y0:
        return rgb
    return np.ascontiguousarray(rgb[y0:y1, x0:x1])


class ConnectedHome:
    """One session's label detection: frames in, S3 objects and SNS messages out."""

    def __init__(
        self,
        state: AppState,
        processor: StreamProcessor,
        session_id: str,
        session: dict[str, Any],
        tags: dict[str, str],
    ) -> None:
        settings = processor.settings
        home = settings["Settings"]["ConnectedHome"]
        self.state = state
        self.processor = processor
        self.session_id = session_id
        self.session = session
        self.tags = tags
        self.wanted = wanted_labels(home["Labels"])
        self.min_confidence = float(home.get("MinConfidence", DEFAULT_MIN_CONFIDENCE))
        self.regions = settings.get("RegionsOfInterest")
        self.input_arn = settings["Input"]["KinesisVideoStream"]["Arn"]
        destination = settings["Output"]["S3Destination"]
        self.bucket = destination["Bucket"]
        parts = [destination.get("KeyPrefix", "").strip("/"), processor.name, session_id]
        self.base = "/".join(p for p in parts if p)
        self.topic = settings["NotificationChannel"]["SNSTopicArn"]
        self.max_ms = int(session["StopSelector"]["MaxDurationInSeconds"]) * 1000.0
        self._mask: np.ndarray | None = None
        self._mask_size: tuple[int, int] | None = None
        self.seen: dict[str, dict[str, Any]] = {}
        self.detections: list[dict[str, Any]] = []
        self.processed_ms = 0.0
        self.frames = 0

    # -- per frame ------------------------------------------------------------------------------
    def done(self, frame: StreamFrame) -> bool:
        """The session has processed its MaxDurationInSeconds of video."""
        return frame.session_ms >= self.max_ms

    def frame(self, frame: StreamFrame) -> None:
        h, w = frame.rgb.shape[:2]
        if self._mask_size != (w, h):
            self._mask, self._mask_size = region_mask(self.regions, w, h), (w, h)
        self.frames += 1
        self.processed_ms = frame.session_ms
        mapping = {
            "fragmentNumber": frame.fragment_number,
            "serverTimestamp": frame.server_ms,
            "producerTimestamp": frame.producer_ms,
            "frameOffsetMillis": int(round(frame.session_ms)),
        }
        for found in detect(frame.rgb, self.wanted, self.min_confidence):
            if not inside(self._mask, found.box, w, h):
                continue
            box = labels.Box(*found.box).ratio(w, h)
            bounding_box = {
                "left": box["Left"],
                "top": box["Top"],
                "width": box["Width"],
                "height": box["Height"],
            }
            self.detections.append(
                {
                    "name": found.label,
                    "confidence": f32(found.confidence),
                    "boundingBox": bounding_box,
                    "videoMapping": {"kinesisVideoMapping": mapping},
                }
            )
            if found.label not in self.seen:
                self._first_sighting(frame, found, bounding_box, mapping)

    def _first_sighting(
        self,
        frame: StreamFrame,
        found: Detection,
        bounding_box: dict[str, float],
        mapping: dict[str, Any],
    ) -> None:
        label_id = new_session_id()
        folder = f"{self.base}/notifications/{label_id}"
        self._put(f"{folder}/frame.jpg", _jpeg(frame.rgb), "image/jpeg")
        self._put(f"{folder}/cropped.jpg", _jpeg(_crop(frame.rgb, found.box)), "image/jpeg")
        label = {
            "id": label_id,
            "name": found.label,
            "frameImageUri": f"s3://{self.bucket}/{folder}/frame.jpg",
            "croppedImageUri": f"s3://{self.bucket}/{folder}/cropped.jpg",
            "videoMapping": {"kinesisVideoMapping": mapping},
            "boundingBox": bounding_box,
        }
        self.seen[found.label] = label
        self._publish(
            {
                "inputInformation": {"kinesisVideo": {"streamArn": self.input_arn}},
                "eventNamespace": {"type": "LABEL_DETECTED"},
                "labels": [label],
                "eventId": new_session_id(),
                "tags": self.tags,
                "sessionId": self.session_id,
                "startStreamProcessorRequest": self._start_request(),
            }
        )

    # -- the end of the session -------------------------------------------------------------------
    def finish(self) -> None:
        summary = {
            "streamProcessorArn": self.processor.arn,
            "sessionId": self.session_id,
            "inputInformation": {"kinesisVideo": {"streamArn": self.input_arn}},
            "startStreamProcessorRequest": self._start_request(),
            "processedVideoDurationMillis": int(round(self.processed_ms)),
            "framesAnalysed": self.frames,
            "labels": list(self.seen.values()),
            "detections": self.detections,
        }
        self._put(f"{self.base}/summary.json", json.dumps(summary).encode(), "application/json")
        self._publish(
            {
                "inputInformation": {
                    "kinesisVideo": {
                        "streamArn": self.input_arn,
                        "processedVideoDurationMillis": int(round(self.processed_ms)),
                    }
                },
                "eventNamespace": {"type": "STREAM_PROCESSING_COMPLETE"},
                "streamProcessingResults": {"message": "Stream Processing Success."},
                "eventId": new_session_id(),
                "tags": self.tags,
                "sessionId": self.session_id,
                "startStreamProcessorRequest": self._start_request(),
            }
        )

    def summary(self) -> dict[str, Any]:
        return {
            "FramesAnalysed": self.frames,
            "ProcessedVideoDurationMillis": int(round(self.processed_ms)),
            "LabelsSeen": sorted(self.seen),
            "Detections": len(self.detections),
        }

    # -- output -----------------------------------------------------------------------------------
    def _start_request(self) -> dict[str, Any]:
        selector = self.session["StartSelector"]["KVSStreamStartSelector"]
        start = {
            "kvsStreamStartSelector": {
                k[:1].lower() + k[1:]: v for k, v in selector.items() if v is not None
            }
        }
        return {
            "name": self.processor.name,
            "startSelector": start,
            "stopSelector": {
                "maxDurationInSeconds": self.session["StopSelector"]["MaxDurationInSeconds"]
            },
        }

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            put_object(self.state, self.processor.account, self.bucket, key, body, content_type)
        except errors.InvalidS3ObjectException:
            raise SessionFailed(
                f"The S3 bucket {self.bucket} does not exist: the stream processor cannot "
                "write its results."
            ) from None

    def _publish(self, message: dict[str, Any]) -> None:
        try:
            sns.publish(
                self.state,
                self.processor.account,
                self.processor.region,
                self.topic,
                json.dumps(message, separators=(",", ":")),
            )
        except LookupError:
            raise SessionFailed(f"The SNS topic {self.topic} does not exist.") from None
        except sns.PublishError as exc:
            raise SessionFailed(f"SNS refused the notification: {exc}") from None
