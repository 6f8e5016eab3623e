"""People through a video: the person detector's boxes and the faces, tracked so that each
person keeps one Index (shared by StartPersonTracking and StartFaceSearch).

Per sampled frame:
- NanoDet's person boxes (the detector DetectLabels uses, with its second look at small
  people), kept down to score LOW so a half-hidden person keeps their track;
- YuNet's faces, each with its DEFAULT FaceDetail and (on demand) its embedding; a face
  belongs to the smallest person box that holds its centre, is narrower than it and has no
  face yet (larger faces choose first); a face in no box is a person seen by the face only (AWS: "a person may have a face
  without a body"), tracked by the body a face implies but reported without a BoundingBox;
- models/tracking.py's tracker matches them to the people seen so far.

At the end, people whose track was never confirmed (seen in fewer than two frames in a row)
are dropped, and the rest are numbered from 0 in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rekognition_emulator.emulator.media.video import Frame
from rekognition_emulator.handlers.analysis import faces, labels
from rekognition_emulator.models.tracking import Detection, Tracker, appearance

LOW = 0.15  # person boxes this sure continue a track...
HIGH = 0.3  # ...this sure start one (NanoDet's operating point, as DetectLabels)


@lru_cache(maxsize=1)
def person_detector():
    """NanoDet as DetectLabels runs it, keeping boxes down to LOW; None without its model."""
    from rekognition_emulator.models import labels as scene
    from rekognition_emulator.models.labels.detector import ObjectDetector
    from rekognition_emulator.models.runtime import onnx_session

    if scene.default_detector() is None:
        return None
    return ObjectDetector(lambda: onnx_session("nanodet"), score_threshold=LOW)


@dataclass
class Sighting:
    """One person in one frame."""

    timestamp: int
    track: int  # the tracker's id (not yet the Index)
    box: dict[str, float] | None  # BoundingBox of the body, None for a face alone
    face: faces.FrameFace | None
    confidence: float  # the body box's (or the face's) Confidence, 0..100

    @property
    def face_detail(self) -> dict[str, Any] | None:
        return None if self.face is None else self.face.face_detail


def _ratio(box: tuple[float, float, float, float], width: int, height: int) -> dict[str, float]:
    return labels.Box(*box).ratio(width, height)


def _holds(body: tuple[float, ...], face: tuple[float, ...]) -> bool:
    """The face can be this body's: its centre in the box, and narrower than the box."""
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return (
        body[0] <= cx <= body[2]
        and body[1] <= cy <= body[3]
        and face[2] - face[0] <= body[2] - body[0]
    )


def _area(box: tuple[float, ...]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


class People:
    """Feed it frames in time order; `sightings()` at the end."""

    def __init__(self) -> None:
        self.tracker = Tracker(high=HIGH, low=LOW)
        self._seen: list[Sighting] = []

    def frame(self, frame: Frame) -> list[Sighting]:
        rgb = frame.rgb
        height, width = rgb.shape[:2]
        detector = person_detector()
        bodies = [] if detector is None else [d for d in detector.detect(rgb) if d.class_index == 0]
        # Upright faces only: people in a video stand (the body detector sees them upright
        # too), and the turned passes would cost three more detector runs on every frame
        # without a face.
        found = faces.frame_faces(rgb, any_rotation=False)
        # Each face (largest first) goes to the smallest free body box that holds it.
        owner: dict[int, int] = {}
        for k, f in enumerate(found):
            x, y, w, h = f.face.box
            free = [
                i
                for i, b in enumerate(bodies)
                if i not in owner.values() and _holds(b.box, (x, y, x + w, y + h))
            ]
            if free:
                owner[k] = min(free, key=lambda i: _area(bodies[i].box))
        face_of = {i: found[k] for k, i in owner.items()}
        detections: list[Detection] = [
            Detection(
                body.box,
                body.score,
                appearance(rgb, body.box),
                ("body", labels.detector_confidence(body.score), face_of.get(i)),
            )
            for i, body in enumerate(bodies)
        ]
        claimed = set(owner)
        for k, f in enumerate(found):
            if k in claimed:
                continue
            x, y, w, h = f.face.box
            implied = labels.person_box_from_face(x, y, w, h, width, height)
            box = (implied.x0, implied.y0, implied.x1, implied.y1)
            score = max(HIGH, f.face.score)  # a clear face is as sure as a clear body
            detections.append(
                Detection(
                    box, score, appearance(rgb, box), ("face", f.face_detail["Confidence"], f)
                )
            )
        out = []
        for track, det in self.tracker.update(detections, frame.pts_ms / 1000.0):
            kind, confidence, face = det.payload
            box = _ratio(det.box, width, height) if kind == "body" else None
            out.append(Sighting(frame.timestamp, track.track_id, box, face, confidence))
        self._seen.extend(out)
        return out

    def sightings(self) -> Iterator[tuple[int, Sighting]]:
        """(Index, sighting) of every confirmed person, in time order; Index from 0 in order
        of first appearance."""
        # Tentative tracks end at their first miss, so a track seen confirm_hits times was
        # confirmed (including those the tracker has since ended).
        counts: dict[int, int] = {}
        for s in self._seen:
            counts[s.track] = counts.get(s.track, 0) + 1
        confirmed = {t for t, n in counts.items() if n >= self.tracker.confirm_hits}
        first: dict[int, int] = {}
        for s in self._seen:
            if s.track in confirmed and s.track not in first:
                first[s.track] = s.timestamp
        order = sorted(first, key=lambda t: (first[t], t))
        index = {t: i for i, t in enumerate(order)}
        for s in self._seen:
            if s.track in index:
                yield index[s.track], s


def person_detail(index: int, sighting: Sighting) -> dict[str, Any]:
    """PersonDetail: Index, BoundingBox (the body, when seen), Face (when seen)."""
    person: dict[str, Any] = {"Index": index}
    if sighting.box is not None:
        person["BoundingBox"] = sighting.box
    if sighting.face is not None:
        person["Face"] = sighting.face.face_detail
    return person


def embedding(sighting: Sighting) -> np.ndarray | None:
    return None if sighting.face is None else sighting.face.embedding
