"""Faces on one frame, in Rekognition's shapes: DetectFaces, CompareFaces, and the faces
IndexFaces stores and SearchFacesByImage / SearchUsersByImage search with.

    from rekognition_emulator.handlers.analysis import faces

    faces.detect_faces(rgb, attributes=faces.parse_attributes(["ALL"]))  # [FaceDetail]
    faces.frame_faces(rgb)                         # [FrameFace]: FaceDetail + embedding
    faces.compare_faces(source_rgb, target_rgb, similarity_threshold=80.0,
                        quality_filter="NONE")     # SourceImageFace, FaceMatches, UnmatchedFaces
    faces.index_faces(rgb, attributes=..., max_faces=None, quality_filter="AUTO")
                                                   # Indexing: faces to store, UnindexedFaces
    faces.search_face(rgb, quality_filter="NONE")  # SearchProbe: the face to search with

and the pieces they are made of, for the operations still to come (celebrities, persons,
face search in videos): `detect` (the analyzer's faces, largest first), `face_detail`,
`compared_face`, `bounding_box`, `similarity` / `face_similarity` (the calibrated 0..100
scale every face operation shares) and `quality_filter_reasons`.

Every value is computed once per face (the analyzer caches per face), so building a
FaceDetail and then filtering by quality does not run a model twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.handlers.analysis.numbers import f32, percent
from rekognition_emulator.models.face.analyzer import (
    DETECTOR_LANDMARKS,
    Face,
    default_analyzer,
    named_landmarks,
)

MAX_FACES = 100  # Rekognition analyses the 100 largest faces of an image
DEFAULT_SIMILARITY_THRESHOLD = 80.0  # CompareFaces

# --- enums, exactly as the service model spells them ------------------------------------------

# Our landmark names -> Rekognition's LandmarkType, in the service model's enum order.
# "Left"/"right" are the viewer's: eyeLeft is the eye on the image's left.
LANDMARK_TYPES: dict[str, str] = {
    "eye_left": "eyeLeft",
    "eye_right": "eyeRight",
    "nose": "nose",
    "mouth_left": "mouthLeft",
    "mouth_right": "mouthRight",
    "left_brow_left": "leftEyeBrowLeft",
    "left_brow_right": "leftEyeBrowRight",
    "left_brow_up": "leftEyeBrowUp",
    "right_brow_left": "rightEyeBrowLeft",
    "right_brow_right": "rightEyeBrowRight",
    "right_brow_up": "rightEyeBrowUp",
    "left_eye_left": "leftEyeLeft",
    "left_eye_right": "leftEyeRight",
    "left_eye_up": "leftEyeUp",
    "left_eye_down": "leftEyeDown",
    "right_eye_left": "rightEyeLeft",
    "right_eye_right": "rightEyeRight",
    "right_eye_up": "rightEyeUp",
    "right_eye_down": "rightEyeDown",
    "nose_left": "noseLeft",
    "nose_right": "noseRight",
    "mouth_up": "mouthUp",
    "mouth_down": "mouthDown",
    "left_pupil": "leftPupil",
    "right_pupil": "rightPupil",
    "upper_jaw_left": "upperJawlineLeft",
    "mid_jaw_left": "midJawlineLeft",
    "chin_bottom": "chinBottom",
    "mid_jaw_right": "midJawlineRight",
    "upper_jaw_right": "upperJawlineRight",
}
DEFAULT_LANDMARK_NAMES = DETECTOR_LANDMARKS  # the 5 DetectFaces returns without ALL
ALL_LANDMARK_NAMES = tuple(LANDMARK_TYPES)

# fer's FER2013 classes -> Rekognition's EmotionName.
EMOTION_TYPES = {
    "happy": "HAPPY",
    "sad": "SAD",
    "angry": "ANGRY",
    "disgust": "DISGUSTED",
    "surprise": "SURPRISED",
    "neutral": "CALM",
    "fear": "FEAR",
}

# Attribute names of the request (the service model's `Attribute` enum) -> FaceDetail members.
ATTRIBUTE_MEMBERS = {
    "AGE_RANGE": "AgeRange",
    "BEARD": "Beard",
    "EMOTIONS": "Emotions",
    "EYE_DIRECTION": "EyeDirection",
    "EYEGLASSES": "Eyeglasses",
    "EYES_OPEN": "EyesOpen",
    "GENDER": "Gender",
    "MOUTH_OPEN": "MouthOpen",
    "MUSTACHE": "Mustache",
    "FACE_OCCLUDED": "FaceOccluded",
    "SMILE": "Smile",
    "SUNGLASSES": "Sunglasses",
}


# --- detection -------------------------------------------------------------------------------


def detect(rgb: np.ndarray, *, max_faces: int = MAX_FACES, any_rotation: bool = True) -> list[Face]:
    """The analyzer's faces of a frame, largest first, at most `max_faces` (AWS: 100);
    `any_rotation=False`: upright faces only (models.face.analyzer)."""
    return default_analyzer().detect(rgb, max_faces=max_faces, any_rotation=any_rotation)


def detection_confidence(face: Face) -> float:
    """Rekognition's face Confidence (0..100) from YuNet's score.

    YuNet scores clear faces 0.86-0.95 and we keep detections from 0.6. A logistic centred
    on that threshold (50 there) and steep enough that 0.85 gives 99.5 puts every clear face
    above 99 (astronaut 0.93 -> 99.9), as the real service reports clear faces, and leaves
    marginal detections visibly unsure (0.7 -> 89).
    """
    return score_confidence(face.score)


def score_confidence(score: float) -> float:
    """The face detector's score on Rekognition's Confidence scale (see detection_confidence);
    every operation that reports a face's Confidence (PPE's FACE part too) uses this."""
    z = 21.2 * (score - 0.6)
    return f32(100.0 / (1.0 + np.exp(-z)))


def bounding_box(rgb: np.ndarray, face: Face) -> dict[str, float]:
    """Box as ratios of the frame's width and height (may extend past 0..1, as AWS's does)."""
    height, width = rgb.shape[:2]
    x, y, w, h = face.box
    return {
        "Width": f32(w / width),
        "Height": f32(h / height),
        "Left": f32(x / width),
        "Top": f32(y / height),
    }


def landmarks(rgb: np.ndarray, face: Face, names: Iterable[str]) -> list[dict[str, Any]]:
    height, width = rgb.shape[:2]
    points = named_landmarks(face, tuple(names))
    return [
        {"Type": LANDMARK_TYPES[name], "X": f32(xy[0] / width), "Y": f32(xy[1] / height)}
        for name, xy in points.items()
    ]


def pose(face: Face) -> dict[str, float]:
    p = face.pose
    return {"Roll": f32(p.roll), "Yaw": f32(p.yaw), "Pitch": f32(p.pitch)}


def quality(face: Face) -> dict[str, float]:
    q = face.quality
    return {"Brightness": f32(q.brightness), "Sharpness": f32(q.sharpness)}


# How a model's certainty becomes a Confidence (every attribute below goes through it):
# - soft ceiling: a logit z reads as SOFT_LOGIT * tanh(z / SOFT_LOGIT), so certainty
#   approaches 100 smoothly (z = 9 reads 99.99) and never sits at 100 (a float32 100.0 was what
#   a saturated sigmoid gave: 9 faces' MouthOpen, 4 faces' Gender on the shared photos);
# - reliability: the logit is then multiplied by `face_reliability` (0.3..1), so a small or
#   blurred face reads less sure than the same answer on a large sharp one (a 45 px face's
#   Gender reads at most 98.3, a 30 px face's at most 93.7).
SOFT_LOGIT = 9.0


def face_reliability(face: Face) -> float:
    """How far the attribute networks can be trusted on this face, 0.3..1: the face's shorter
    side over 100 px (the networks see 32-64 px chips; faces under 100 px were the ones the
    shared photos' labels disagreed with) times its sharpness over 40, each capped at 1."""
    size = min(face.box[2], face.box[3]) / 100.0
    sharp = face.quality.sharpness / 40.0
    return float(np.clip(min(size, 1.0) * np.clip(sharp, 0.5, 1.0), 0.3, 1.0))


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-15), 1.0 - 1e-15)
    return math.log(p / (1.0 - p))


def _tempered(z: float, reliability: float) -> float:
    return reliability * SOFT_LOGIT * math.tanh(z / SOFT_LOGIT)


def _decision(z: float) -> tuple[bool, float]:
    """(value, Confidence) of a tempered logit: the value is z >= 0, its certainty sigmoid(|z|)."""
    return z >= 0.0, percent(1.0 / (1.0 + math.exp(-abs(z))))


def _flag(face: Face, p: float) -> dict[str, Any]:
    """A boolean attribute of probability p: Value when p >= 0.5, Confidence = certainty."""
    value, confidence = _decision(_tempered(_logit(p), face_reliability(face)))
    return {"Value": bool(value), "Confidence": confidence}


def emotions(face: Face) -> list[dict[str, Any]]:
    """All eight emotions Rekognition reports, most likely first, summing to 100.

    The seven FER2013 classes map one to one, their log-probabilities tempered by the face's
    reliability (a small face's expression reads less sure; the ranking is kept). The
    temperature fitted on the labelled faces of the FIT identities (scripts/
    fit_emotion_temperature.py) is 1.1, within noise of the model's own 1.0, so the model's
    probabilities are otherwise kept. CONFUSED has no model: it gets a small share that grows
    with the classifier's own uncertainty (normalised entropy, at most 5 %), so it is low on
    a clear expression and never a constant. UNKNOWN is not reported, as the real service
    does not report it for a detected face.
    """
    probs = face.expression.probabilities
    log_p = np.log(np.clip(np.array(list(probs.values()), dtype=np.float64), 1e-30, 1.0))
    z = log_p * face_reliability(face)
    p = np.exp(z - z.max())
    p /= p.sum()
    entropy = float(-(p * np.log(np.clip(p, 1e-30, 1.0))).sum() / np.log(len(p)))
    confused = 0.05 * entropy
    out = [(EMOTION_TYPES[k], float(v) * (1.0 - confused)) for k, v in zip(probs, p, strict=True)]
    out.append(("CONFUSED", confused))
    out.sort(key=lambda kv: -kv[1])
    return [{"Type": t, "Confidence": percent(v)} for t, v in out]


def age_range(face: Face) -> dict[str, int]:
    """The narrowest interval holding 60 % of the age distribution, the distribution first
    flattened by the face's reliability (p ** r), so the range widens on small or blurred
    faces: the same face at 30 px reads a range about twice as wide as at 200 px."""
    low, high = face.age_gender.age_range(temper=face_reliability(face))
    return {"Low": int(low), "High": int(high)}


def gender(face: Face) -> dict[str, Any]:
    # The log-ratio of the network's two outputs: unlike 1 - p, the smaller probability keeps
    # its precision in float32, so a sure answer is not rounded to exactly 100.
    female, confidence = _decision(_tempered(face.age_gender.female_logit, face_reliability(face)))
    return {"Value": "Female" if female else "Male", "Confidence": confidence}


def eye_direction(face: Face) -> dict[str, float]:
    g = face.gaze
    certainty = 1.0 / (1.0 + math.exp(-_tempered(_logit(g.reliability), 1.0)))
    return {"Yaw": f32(g.yaw), "Pitch": f32(g.pitch), "Confidence": percent(certainty)}


# --- attributes of the request ---------------------------------------------------------------


@dataclass(frozen=True)
class AttributeRequest:
    """What a DetectFaces/IndexFaces `Attributes` list asks for."""

    members: frozenset[str]  # optional FaceDetail members beyond the default ones
    all_landmarks: bool  # 30 landmarks (ALL) or the default 5


def parse_attributes(attributes: Iterable[str] | None) -> AttributeRequest:
    """DEFAULT (also when absent), ALL, or individual names added to the default set.

    Rekognition always returns the default members (BoundingBox, Confidence, Pose, Quality,
    Landmarks); a named attribute adds its member; ALL adds every member and all 30 landmarks.
    """
    names = set(attributes or ["DEFAULT"])
    if "ALL" in names:
        return AttributeRequest(frozenset(ATTRIBUTE_MEMBERS.values()), True)
    members = frozenset(ATTRIBUTE_MEMBERS[n] for n in names if n in ATTRIBUTE_MEMBERS)
    return AttributeRequest(members, False)


DEFAULT_ATTRIBUTES = parse_attributes(["DEFAULT"])
ALL_ATTRIBUTES = parse_attributes(["ALL"])

_MEMBER_BUILDERS = {
    "AgeRange": age_range,
    "Smile": lambda f: _flag(f, f.smile),
    "Eyeglasses": lambda f: _flag(f, f.spectacles.eyeglasses),
    "Sunglasses": lambda f: _flag(f, f.spectacles.sunglasses),
    "Gender": gender,
    "Beard": lambda f: _flag(f, f.facial_hair.beard),
    "Mustache": lambda f: _flag(f, f.facial_hair.mustache),
    "EyesOpen": lambda f: _flag(f, f.eyes_open),
    "MouthOpen": lambda f: _flag(f, f.mouth_open),
    "Emotions": emotions,
    "FaceOccluded": lambda f: _flag(f, f.occluded),
    "EyeDirection": eye_direction,
}


def face_detail(
    rgb: np.ndarray, face: Face, attributes: AttributeRequest = DEFAULT_ATTRIBUTES
) -> dict[str, Any]:
    """The FaceDetail of one face of the frame."""
    names = ALL_LANDMARK_NAMES if attributes.all_landmarks else DEFAULT_LANDMARK_NAMES
    detail: dict[str, Any] = {
        "BoundingBox": bounding_box(rgb, face),
        "Landmarks": landmarks(rgb, face, names),
        "Pose": pose(face),
        "Quality": quality(face),
        "Confidence": detection_confidence(face),
    }
    for member in attributes.members:
        detail[member] = _MEMBER_BUILDERS[member](face)
    return detail


def face_details(
    rgb: np.ndarray, faces: list[Face], attributes: AttributeRequest = DEFAULT_ATTRIBUTES
) -> list[dict[str, Any]]:
    """FaceDetails of several faces of one frame, with the networks batched across faces."""
    if len(faces) > 1:
        default_analyzer().prefetch(
            faces,
            age_gender=bool(attributes.members & {"AgeRange", "Gender"}),
            expression=bool(attributes.members & {"Emotions", "Smile"}),
        )
    return [face_detail(rgb, face, attributes) for face in faces]


def compared_face(rgb: np.ndarray, face: Face) -> dict[str, Any]:
    """ComparedFace (CompareFaces matches and unmatched faces; celebrities' Face)."""
    return {
        "BoundingBox": bounding_box(rgb, face),
        "Confidence": detection_confidence(face),
        "Landmarks": landmarks(rgb, face, DEFAULT_LANDMARK_NAMES),
        "Pose": pose(face),
        "Quality": quality(face),
    }


# --- the operations' pieces, per frame -------------------------------------------------------


@dataclass
class FrameFace:
    """One face of a frame: its FaceDetail, and its embedding computed on first use."""

    face: Face
    face_detail: dict[str, Any]

    @property
    def embedding(self) -> np.ndarray:
        return np.asarray(self.face.embedding, dtype=np.float32)


def detect_faces(
    rgb: np.ndarray,
    *,
    attributes: AttributeRequest = DEFAULT_ATTRIBUTES,
    max_faces: int = MAX_FACES,
) -> list[dict[str, Any]]:
    """DetectFaces' FaceDetails of one frame (a video's FaceDetection per sampled frame)."""
    return [f.face_detail for f in frame_faces(rgb, attributes=attributes, max_faces=max_faces)]


def frame_faces(
    rgb: np.ndarray,
    *,
    attributes: AttributeRequest = DEFAULT_ATTRIBUTES,
    max_faces: int = MAX_FACES,
    any_rotation: bool = True,
) -> list[FrameFace]:
    """Every face of a frame, largest first, with its FaceDetail (networks batched across
    faces) and its embedding on demand: what face search in a video needs per frame."""
    found = detect(rgb, max_faces=max_faces, any_rotation=any_rotation)
    details = face_details(rgb, found, attributes)
    return [FrameFace(face, detail) for face, detail in zip(found, details, strict=True)]


def compare_faces(
    source_rgb: np.ndarray,
    target_rgb: np.ndarray,
    *,
    similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
    quality_filter: str = "NONE",
) -> dict[str, Any]:
    """CompareFaces: the largest source face that passes the quality filter against every
    target face (SourceImageFace, FaceMatches best first, UnmatchedFaces)."""
    source_faces = [f for f in detect(source_rgb) if passes_quality_filter(f, quality_filter)]
    if not source_faces:
        raise errors.InvalidParameterException(
            "Request has invalid parameters: no face was detected in the source image"
            + ("" if quality_filter == "NONE" else f" that passes QualityFilter {quality_filter}")
            + "."
        )
    source = source_faces[0]
    targets = [f for f in detect(target_rgb) if passes_quality_filter(f, quality_filter)]
    if not targets and quality_filter == "NONE":
        raise errors.InvalidParameterException(
            "Request has invalid parameters: no face was detected in the target image."
        )

    matches, unmatched = [], []
    for face in targets:
        score = face_similarity(source, face)
        if score >= similarity_threshold:
            matches.append((score, face))
        else:
            unmatched.append(face)
    matches.sort(key=lambda m: -m[0])  # best match first
    return {
        "SourceImageFace": {
            "BoundingBox": bounding_box(source_rgb, source),
            "Confidence": detection_confidence(source),
        },
        "FaceMatches": [
            {"Similarity": score, "Face": compared_face(target_rgb, face)}
            for score, face in matches
        ],
        "UnmatchedFaces": [compared_face(target_rgb, face) for face in unmatched],
    }


@dataclass
class Indexing:
    indexed: list[FrameFace]  # largest first, as IndexFaces stores and returns them
    unindexed: list[dict[str, Any]]  # IndexFaces' UnindexedFaces


def index_faces(
    rgb: np.ndarray,
    *,
    attributes: AttributeRequest = DEFAULT_ATTRIBUTES,
    max_faces: int | None = None,
    quality_filter: str = "AUTO",
) -> Indexing:
    """Which faces of the frame IndexFaces stores, and why it leaves the others out.

    AWS: faces failing the quality bar are filtered out first; if more than MaxFaces remain,
    the smallest are left out with EXCEEDS_MAX_FACES. At most the 100 largest faces count.
    """
    indexed: list[FrameFace] = []
    unindexed: list[dict[str, Any]] = []
    for face in detect(rgb):  # largest first
        reasons = quality_filter_reasons(face, quality_filter)
        if not reasons and max_faces is not None and len(indexed) >= max_faces:
            reasons = ["EXCEEDS_MAX_FACES"]
        detail = face_detail(rgb, face, attributes)
        if reasons:
            unindexed.append({"Reasons": reasons, "FaceDetail": detail})
        else:
            indexed.append(FrameFace(face, detail))
    return Indexing(indexed, unindexed)


@dataclass
class SearchProbe:
    searched: FrameFace | None  # the largest face that passes the quality filter
    unsearched: list[dict[str, Any]]  # SearchUsersByImage's UnsearchedFaces
    why_none: str  # what to say when there is no face to search with


def search_face(rgb: np.ndarray, *, quality_filter: str = "NONE") -> SearchProbe:
    """The face SearchFacesByImage / SearchUsersByImage search with, and the others."""
    found = detect(rgb)
    searched: FrameFace | None = None
    unsearched: list[dict[str, Any]] = []
    for face in found:  # largest first
        reasons = quality_filter_reasons(face, quality_filter)
        if not reasons and searched is None:
            searched = FrameFace(face, face_detail(rgb, face))
            continue
        unsearched.append(
            {"FaceDetails": face_detail(rgb, face), "Reasons": reasons or ["FACE_NOT_LARGEST"]}
        )
    if not found:
        why = "no face was detected in the image"
    else:
        why = f"no face of the image passes QualityFilter {quality_filter}"
    return SearchProbe(searched, unsearched, why)


# --- similarity ------------------------------------------------------------------------------

# Cosine of two SFace embeddings -> Rekognition's Similarity (0..100): one logistic curve,
# the only one: CompareFaces, SearchFaces(ByImage), SearchUsers(ByImage) and the user
# associations all call `similarity`. Fitted by scripts/fit_face_similarity.py on the FIT
# identities of tests/groundtruth.py only (5 people, 30 portraits, upright and rotated by
# 15/45/90/180 degrees: 1,053 same-person and 2,862 different-person pairs), from two anchors:
# Similarity 80 (CompareFaces' default threshold) midway between the highest
# different-person cosine and the 1st percentile of the same-person cosines, and 99 at the
# median same-person cosine. The held-out figures (other people, rotated copies, faces of the
# group photos) are in the README and recomputed by
# tests/test_face_fidelity.py::test_similarity_on_held_out_identities.
SIMILARITY_SLOPE = 10.727
SIMILARITY_CENTRE = 0.363


def similarity(cosine: float) -> float:
    return f32(100.0 / (1.0 + np.exp(-SIMILARITY_SLOPE * (float(cosine) - SIMILARITY_CENTRE))))


def face_similarity(a: Face, b: Face) -> float:
    return similarity(float(a.embedding @ b.embedding))


# --- quality filter --------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityBar:
    min_confidence: float  # detection Confidence, 0..100
    min_face_px: float  # shorter side of the face box, image pixels
    max_yaw: float  # degrees
    max_pitch: float
    min_brightness: float  # Quality.Brightness
    min_sharpness: float  # Quality.Sharpness
    min_face_quality: float  # face_quality(), 0..1


# Rekognition does not publish its bars (unconfirmed); these follow its wording: LOW filters
# only the worst faces, HIGH keeps only good ones, AUTO (IndexFaces' default) is the lenient
# LOW bar so that ordinary group photos index every visible face.
QUALITY_BARS = {
    "LOW": QualityBar(60.0, 16.0, 70.0, 55.0, 8.0, 8.0, 0.10),
    "MEDIUM": QualityBar(80.0, 24.0, 55.0, 45.0, 15.0, 20.0, 0.25),
    "HIGH": QualityBar(95.0, 40.0, 40.0, 30.0, 25.0, 40.0, 0.45),
}
QUALITY_BARS["AUTO"] = QUALITY_BARS["LOW"]


def face_quality(face: Face) -> float:
    """One 0..1 score for LOW_FACE_QUALITY: the geometric mean of sharpness, exposure, size,
    frontality and detector certainty, so that several moderate weaknesses add up."""
    q = face.quality
    p = face.pose
    exposure = 1.0 - min(abs(q.brightness - 55.0) / 55.0, 1.0)
    size = min(min(face.box[2], face.box[3]) / 80.0, 1.0)
    frontal = max(np.cos(np.radians(p.yaw)) * np.cos(np.radians(p.pitch)), 0.0)
    parts = np.array(
        [q.sharpness / 100.0, exposure, size, frontal, detection_confidence(face) / 100.0]
    )
    return float(np.exp(np.log(np.clip(parts, 1e-3, 1.0)).mean()))


def quality_filter_reasons(face: Face, level: str | None) -> list[str]:
    """Rekognition `Reason`s why `face` fails the QualityFilter `level` ([] when it passes)."""
    if not level or level == "NONE":
        return []
    bar = QUALITY_BARS[level]
    reasons = []
    if detection_confidence(face) < bar.min_confidence:
        reasons.append("LOW_CONFIDENCE")
    if min(face.box[2], face.box[3]) < bar.min_face_px:
        reasons.append("SMALL_BOUNDING_BOX")
    if abs(face.pose.yaw) > bar.max_yaw or abs(face.pose.pitch) > bar.max_pitch:
        reasons.append("EXTREME_POSE")
    if face.quality.brightness < bar.min_brightness:
        reasons.append("LOW_BRIGHTNESS")
    if face.quality.sharpness < bar.min_sharpness:
        reasons.append("LOW_SHARPNESS")
    if face_quality(face) < bar.min_face_quality:
        reasons.append("LOW_FACE_QUALITY")
    return reasons


def passes_quality_filter(face: Face, level: str | None) -> bool:
    return not quality_filter_reasons(face, level)
