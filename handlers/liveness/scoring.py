"""A Face Liveness score from what a selfie video shows: plausibility, not security.

The frames (at most MAX_SAMPLES, evenly spread over the video) go through the face pipeline of
DetectFaces. Measured cues, each 0..1:

- presence: share of frames with exactly one face (a liveness check wants one person in view
  throughout; 80 % or more counts fully, 50 % or less not at all);
- motion: how far the face's landmarks move between frames, in eye distances (a frozen video,
  one still frame repeated, does not move: 0);
- approach: the face grows from the first third of the video to the last (the challenge asks
  the user to move closer to fill an oval; 20 % growth counts fully);
- independence: whether the scene behind the face keeps still while the face moves. Background
  corners are tracked with optical flow and compared with where the face's own motion would
  carry them: a photo held up to the camera, or a replayed recording of one, moves its
  background with the face (0); a live head moves in front of a still scene (1); a plain
  background with nothing to track leaves it unknown (0.5);
- blink: the eyes were seen open and closed (eye openness from the iris model).
- alignment: share of frames whose face is in the middle of the frame at a usable size
  (alignment' = 0.6 + 0.4 alignment).

    score = 100 * presence' * motion' * alignment' * (0.2 + 0.8 * (0.2 approach
                                                        + 0.65 independence + 0.15 blink))

where presence' and motion' are the cues' ramps (a frozen clip scores 0 whatever else it
shows). What it can tell: a still image, a clip with no face or several faces, a photo moved
in front of the camera with its own background. What it cannot: a screen replaying a real
selfie video, a mask, a deepfake, an injected camera feed. The real service's models are not
available offline; do not use this score for anything but testing the code that reads it.

Feedback codes come from the same measures (SUCCEEDED sessions only): FACE_NOT_VISIBLE,
FACE_NOT_ALIGNED, LOW_LIGHTING_DETECTED, HIGH_LIGHTING_DETECTED, LOW_VIDEO_QUALITY_DETECTED,
EYES_CLOSED_DETECTED, FACE_OBSTRUCTION_DETECTED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from rekognition_emulator.handlers.analysis import faces

MAX_SAMPLES = 24
WORK_SIDE = 640  # frames are analysed at most this wide or high
MOTION_FULL = 0.03  # eye distances per step that count as moving
GROWTH_FULL = 0.20
SIZE_RANGE = (0.12, 0.9)  # face width / frame width
CENTRE_LIMIT = 0.25  # face centre's distance from the frame's, in frame sizes
MIN_TRACKED = 8  # background corners needed to judge independence

FEEDBACK_MESSAGES = {
    "FACE_NOT_VISIBLE": "Your face was not in view for much of the check. Keep it in the oval.",
    "FACE_NOT_ALIGNED": "Your face was not centred in the oval. Hold it in the middle.",
    "LOW_LIGHTING_DETECTED": "The light was too low. Move somewhere brighter.",
    "HIGH_LIGHTING_DETECTED": "The light was too bright. Move away from the bright light.",
    "LOW_VIDEO_QUALITY_DETECTED": "The video was too blurry. Hold the camera steady.",
    "EYES_CLOSED_DETECTED": "Your eyes were closed. Keep them open during the check.",
    "FACE_OBSTRUCTION_DETECTED": "Something covered part of your face. Uncover your face.",
}


@dataclass
class Look:
    """One sampled frame and its largest face."""

    millis: float
    rgb: np.ndarray
    count: int  # faces in the frame
    face: Any | None  # the analyzer's Face (largest), or None

    @property
    def width_ratio(self) -> float:
        return self.face.box[2] / self.rgb.shape[1] if self.face is not None else 0.0

    @property
    def centre_offset(self) -> float:
        if self.face is None:
            return 1.0
        x, y, w, h = self.face.box
        height, width = self.rgb.shape[:2]
        return float(np.hypot((x + w / 2) / width - 0.5, (y + h / 2) / height - 0.5))


@dataclass
class Verdict:
    confidence: float
    cues: dict[str, Any]
    feedback: list[dict[str, str]]
    reference: Look | None
    audit: list[Look] = field(default_factory=list)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def sample(frames: list[tuple[float, np.ndarray]], limit: int = MAX_SAMPLES) -> list[Look]:
    """At most `limit` frames evenly spread, analysed (downscaled to WORK_SIDE first)."""
    if len(frames) > limit:
        picks = np.linspace(0, len(frames) - 1, limit).round().astype(int)
        frames = [frames[i] for i in picks]
    looks = []
    for millis, rgb in frames:
        h, w = rgb.shape[:2]
        k = min(1.0, WORK_SIDE / max(h, w))
        if k < 1.0:
            rgb = cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
        found = faces.detect(rgb)
        looks.append(Look(millis, rgb, len(found), found[0] if found else None))
    return looks


def _eye_distance(face: Any) -> float:
    p = face.points5
    return max(float(np.hypot(*(p[1] - p[0]))), 1.0)


def _motion(pairs: list[tuple[Look, Look]]) -> float:
    steps = [
        float(np.mean(np.hypot(*(b.face.points5 - a.face.points5).T))) / _eye_distance(a.face)
        for a, b in pairs
    ]
    return float(np.median(steps)) if steps else 0.0


def _regions(look: Look) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the scene (not the face, the head around it or the body below it) and of the
    face itself (the inner part of its box)."""
    h, w = look.rgb.shape[:2]
    scene = np.full((h, w), 255, np.uint8)
    x, y, fw, fh = look.face.box
    x0, x1 = int(max(0, x - 0.8 * fw)), int(min(w, x + 1.8 * fw))
    scene[int(max(0, y - 0.8 * fh)) :, x0:x1] = 0
    face = np.zeros((h, w), np.uint8)
    fx0, fy0 = int(max(0, x + 0.15 * fw)), int(max(0, y + 0.15 * fh))
    face[fy0 : int(min(h, y + 0.85 * fh)), fx0 : int(min(w, x + 0.85 * fw))] = 255
    return scene, face


def _tracked(
    gray_a: np.ndarray, gray_b: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Corners of `mask` in frame a and where optical flow finds them in frame b."""
    corners = cv2.goodFeaturesToTrack(
        gray_a, maxCorners=150, qualityLevel=0.01, minDistance=6, mask=mask
    )
    if corners is None or len(corners) < MIN_TRACKED:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(gray_a, gray_b, corners, None)
    good = status.ravel() == 1
    if good.sum() < MIN_TRACKED:
        return None
    return corners[good].reshape(-1, 2), moved[good].reshape(-1, 2)


def _independence(pairs: list[tuple[Look, Look]]) -> float | None:
    """How far the face moves unlike its scene: 0 when the scene's own motion (a similarity
    fitted to its tracked corners) carries the face's corners where they go, 1 when the face
    moves and the scene does not."""
    ratios = []
    for a, b in pairs:
        if a.rgb.shape != b.rgb.shape:
            continue
        gray_a = cv2.cvtColor(a.rgb, cv2.COLOR_RGB2GRAY)
        gray_b = cv2.cvtColor(b.rgb, cv2.COLOR_RGB2GRAY)
        scene_mask, face_mask = _regions(a)
        scene, face = _tracked(gray_a, gray_b, scene_mask), _tracked(gray_a, gray_b, face_mask)
        if scene is None or face is None:
            continue
        scene_move, inliers = cv2.estimateAffinePartial2D(scene[0], scene[1], method=cv2.RANSAC)
        if scene_move is None or int(inliers.sum()) < MIN_TRACKED:
            continue
        start, end = face
        carried = start @ scene_move[:, :2].T + scene_move[:, 2]
        moved = max(
            float(np.median(np.hypot(*(end - start).T))),
            float(np.median(np.hypot(*(carried - start).T))),
        )
        if moved < 1.0:
            continue  # nothing moved: nothing to tell the two apart
        residual = float(np.median(np.hypot(*(end - carried).T)))
        ratios.append(_clip01(residual / moved))
    return float(np.median(ratios)) if ratios else None


def score(frames: list[tuple[float, np.ndarray]], audit_limit: int = 0) -> Verdict:
    """The verdict on a selfie video given as (millis, rgb) frames in order."""
    looks = sample(frames)
    n = len(looks)
    with_face = [look for look in looks if look.face is not None]
    cues: dict[str, Any] = {"frames_analysed": n, "frames_with_a_face": len(with_face)}
    if not with_face:
        return Verdict(0.0, cues, [], None)
    one_face = sum(look.count == 1 for look in looks) / n
    pairs = [(a, b) for a, b in zip(looks, looks[1:], strict=False) if a.face and b.face]
    motion = _motion(pairs)
    third = max(1, len(with_face) // 3)
    first = float(np.median([x.width_ratio for x in with_face[:third]]))
    last = float(np.median([x.width_ratio for x in with_face[-third:]]))
    growth = last / first if first > 0 else 1.0
    independence = _independence(pairs)
    eyes = [float(x.face.eyes_open) for x in with_face]
    blink = 1.0 if min(eyes) < 0.3 and max(eyes) > 0.7 else 0.0
    aligned = [
        SIZE_RANGE[0] <= x.width_ratio <= SIZE_RANGE[1] and x.centre_offset <= CENTRE_LIMIT
        for x in with_face
    ]
    alignment = sum(aligned) / len(aligned)

    presence_f = _clip01((one_face - 0.5) / 0.3)
    motion_f = _clip01(motion / MOTION_FULL)
    approach = _clip01((growth - 1.0) / GROWTH_FULL)
    shown = 0.5 if independence is None else independence
    evidence = 0.2 * approach + 0.65 * shown + 0.15 * blink
    alignment_f = 0.6 + 0.4 * alignment
    confidence = 100.0 * presence_f * motion_f * alignment_f * (0.2 + 0.8 * evidence)
    cues.update(
        one_face=round(one_face, 4),
        motion=round(motion, 4),
        growth=round(growth, 4),
        independence=None if independence is None else round(independence, 4),
        blink=bool(blink),
        alignment=round(alignment, 4),
    )
    brightness = float(np.median([x.face.quality.brightness for x in with_face]))
    sharpness = float(np.median([x.face.quality.sharpness for x in with_face]))
    occluded = float(np.median([x.face.occluded for x in with_face]))
    cues.update(
        brightness=round(brightness, 2),
        sharpness=round(sharpness, 2),
        eyes_open=round(float(np.median(eyes)), 4),
        occluded=round(occluded, 4),
    )
    codes = [
        ("FACE_NOT_VISIBLE", len(with_face) / n < 0.8),
        ("FACE_NOT_ALIGNED", alignment < 0.7),
        ("LOW_LIGHTING_DETECTED", brightness < 25.0),
        ("HIGH_LIGHTING_DETECTED", brightness > 90.0),
        ("LOW_VIDEO_QUALITY_DETECTED", sharpness < 20.0),
        ("EYES_CLOSED_DETECTED", float(np.median(eyes)) < 0.3),
        ("FACE_OBSTRUCTION_DETECTED", occluded > 0.5),
    ]
    feedback = [{"Code": c, "Message": FEEDBACK_MESSAGES[c]} for c, hit in codes if hit]
    reference = _reference(with_face)
    return Verdict(
        float(round(confidence, 4)),
        cues,
        feedback,
        reference,
        _audit(with_face, reference, audit_limit),
    )


def _reference(with_face: list[Look]) -> Look:
    """The sharpest frontal frame with one face (any face when none has just one)."""
    candidates = [x for x in with_face if x.count == 1] or with_face

    def merit(look: Look) -> float:
        pose = look.face.pose
        frontal = max(np.cos(np.radians(pose.yaw)) * np.cos(np.radians(pose.pitch)), 0.0)
        return float(look.face.quality.sharpness * frontal * look.face.score)

    return max(candidates, key=merit)


def _audit(with_face: list[Look], reference: Look, limit: int) -> list[Look]:
    """`limit` frames evenly spread over the video, the reference frame left out if possible."""
    others = [x for x in with_face if x is not reference] or with_face
    if limit <= 0:
        return []
    if len(others) <= limit:
        return others
    picks = np.linspace(0, len(others) - 1, limit).round().astype(int)
    return [others[i] for i in picks]
