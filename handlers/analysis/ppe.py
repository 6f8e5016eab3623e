"""Protective equipment on one frame, in Rekognition's shapes (DetectProtectiveEquipment).

    from rekognition_emulator.handlers.analysis import ppe
    ppe.detect_protective_equipment(rgb, summarization={"MinConfidence": 80,
                                    "RequiredEquipmentTypes": ["FACE_COVER"]})
        # {"ProtectiveEquipmentModelVersion": "1.0", "Persons": [...], "Summary": {...}}

What each detection rests on:
- persons: the COCO detector's person boxes, plus a person round every face that no person box
  holds (a head-and-shoulders portrait); the 15 largest, Ids from 0 in that order;
- FACE: the face detector's box inside the person; without one, the body model's face points;
- HEAD: the face box widened 1.4 times and raised by 0.6 face heights (the skull above it);
- LEFT_HAND / RIGHT_HAND (the person's own sides): the body model's wrist, index, little
  finger and thumb points, the box refined by the hand landmark model where it sees a hand;
- FACE_COVER: the mask classifier on the face, or ImageNet's gas mask / oxygen mask / ski mask
  on the head; the box is the lower 60 % of the face;
- HEAD_COVER: ImageNet's hats and helmets (crash helmet, football helmet, cowboy hat ...) on
  the head crop; the box is the top of the head;
- HAND_COVER: a hand whose pixels do not look like the person's own skin (chroma learnt from
  the face); the box is the hand's.
CoversBodyPart is true for every detection: the equipment is found on the part itself.
Confidences under 50 are never returned, as AWS documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from rekognition_emulator.handlers.analysis.faces import score_confidence
from rekognition_emulator.handlers.analysis.labels import detector_confidence
from rekognition_emulator.handlers.analysis.numbers import f32, ratio_box

PPE_MODEL_VERSION = "1.0"
MAX_PERSONS = 15
MIN_RETURNED = 50.0  # AWS returns predictions only at 50-100 % confidence
WORK_SIDE = 1024
# Persons: the COCO detector's 0.3 operating point also keeps picture frames and chair backs
# on the group photos (its scores 0.30-0.33 there); 0.35 drops them and no visible person.
MIN_PERSON_SCORE = 0.35
# People under a tenth of the photo's height are figurines, posters and passers-by far off,
# not someone whose equipment can be judged (AWS asks for persons large in the frame).
MIN_PERSON_HEIGHT = 0.1
# ...and a person box with no face in it must be twice that (the row of Elvis figurines on a
# shop wall, 13-15 % of the photo, has no faces the face detector can find).
MIN_FACELESS_HEIGHT = 0.2
MIN_POSE_PX = 32  # people shorter than this have no readable body parts
MIN_HAND_PX = 16  # hands smaller than this are not given to the hand model
SEEN = 0.5  # a body landmark counts when at least this likely visible
HAND_REACH = 0.35  # of the person's height: how far a palm may lie from the body's hand points

PART_ORDER = ("FACE", "LEFT_HAND", "RIGHT_HAND", "HEAD")
EQUIPMENT_PARTS = {"FACE_COVER": ("FACE",), "HEAD_COVER": ("HEAD",)}
EQUIPMENT_PARTS["HAND_COVER"] = ("LEFT_HAND", "RIGHT_HAND")

# ImageNet classes for head and face covers (indices of the 1000-class output).
HEAD_COVER_CLASSES = (518, 560, 715, 515, 808, 452, 433, 793, 667, 439)
# crash_helmet, football_helmet, pickelhaube, cowboy_hat, sombrero, bonnet, bathing_cap,
# shower_cap, mortarboard, bearskin
FACE_COVER_CLASSES = (570, 691, 796)  # gasmask, oxygen_mask, ski_mask
# Head-cover probability at which a head counts as covered; bare heads of the test photos
# stay under HEAD_COVER_MIN (README, "Protective equipment").
HEAD_COVER_MIN = 0.35
# A hand is covered when at most this share of its pixels matches the face's skin.
BARE_SKIN_SHARE = 0.25
COVERED_SKIN_SHARE = 0.05


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in work-image pixels


@dataclass
class Part:
    name: str
    confidence: float
    box: Box
    palm: np.ndarray | None = None  # hand parts: the palm's outline (N x 2)
    equipment: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Person:
    box: Box
    confidence: float
    face: Box | None = None  # face box (x0, y0, x1, y1)
    face_confidence: float = 0.0
    parts: list[Part] = field(default_factory=list)


def _area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _inside(outer: Box, inner: Box) -> float:
    """Share of inner's area inside outer."""
    ix = max(0.0, min(outer[2], inner[2]) - max(outer[0], inner[0]))
    iy = max(0.0, min(outer[3], inner[3]) - max(outer[1], inner[1]))
    return ix * iy / max(1e-9, _area(inner))


def _clip(b: Sequence[float], w: int, h: int) -> Box:
    return (
        float(np.clip(b[0], 0, w)),
        float(np.clip(b[1], 0, h)),
        float(np.clip(b[2], 0, w)),
        float(np.clip(b[3], 0, h)),
    )


def _person_from_face(face: Box, w: int, h: int) -> Box:
    # About 3 face widths across the shoulders and 7.5 face heights tall, cut by the photo.
    fw, fh = face[2] - face[0], face[3] - face[1]
    cx = (face[0] + face[2]) / 2
    return _clip((cx - 1.5 * fw, face[1] - 0.35 * fh, cx + 1.5 * fw, face[1] + 7.5 * fh), w, h)


def _large_enough(person: Person, height: int) -> bool:
    tall = (person.box[3] - person.box[1]) / height
    return tall >= (MIN_PERSON_HEIGHT if person.face is not None else MIN_FACELESS_HEIGHT)


def find_persons(rgb: np.ndarray) -> list[Person]:
    """People in the work image, largest first (at most MAX_PERSONS), each with its face."""
    from rekognition_emulator.models import labels as scene
    from rekognition_emulator.models.face.analyzer import default_analyzer

    h, w = rgb.shape[:2]
    detector = scene.default_detector()
    detections = detector.detect(rgb) if detector is not None else []
    persons = [
        Person(_clip(d.box, w, h), detector_confidence(d.score))
        for d in detections
        if d.class_index == 0 and d.score >= MIN_PERSON_SCORE
    ]
    faces = []
    for det in default_analyzer().run_detector(rgb):
        x, y, fw, fh = det.box
        conf = score_confidence(det.score)
        if conf >= MIN_RETURNED:
            faces.append((_clip((x, y, x + fw, y + fh), w, h), conf))
    faces.sort(key=lambda f: -_area(f[0]))
    for face, conf in faces:
        # The face goes to the smallest person box that holds it in its upper half (in a
        # crowd the big boxes overlap several heads).
        holders = [
            p
            for p in persons
            if p.face is None
            and _inside(p.box, face) >= 0.6
            and (face[1] + face[3]) / 2 <= p.box[1] + 0.6 * (p.box[3] - p.box[1])
        ]
        if holders:
            best = min(holders, key=lambda p: _area(p.box))
            best.face, best.face_confidence = face, conf
            best.confidence = max(best.confidence, min(conf, 99.9))
        else:
            persons.append(Person(_person_from_face(face, w, h), min(conf, 99.9), face, conf))
    persons = [p for p in persons if p.confidence >= MIN_RETURNED and _large_enough(p, h)]
    # A box without a face that lies inside another person's box is a second, partial box of
    # that person (the detector's NMS keeps a torso box beside the full-body one).
    persons = [
        p
        for p in persons
        if p.face is not None
        or not any(q is not p and _inside(q.box, p.box) >= 0.85 for q in persons)
    ]
    persons.sort(key=lambda p: (-_area(p.box), p.box[1], p.box[0]))
    return persons[:MAX_PERSONS]


def _head_box(face: Box, w: int, h: int) -> Box:
    fw, fh = face[2] - face[0], face[3] - face[1]
    cx = (face[0] + face[2]) / 2
    return _clip((cx - 0.7 * fw, face[1] - 0.6 * fh, cx + 0.7 * fw, face[3]), w, h)


def _face_from_pose(pose, w: int, h: int) -> tuple[Box, float] | None:
    from rekognition_emulator.models.body import pose as bp

    head = [bp.NOSE, 2, 5, bp.LEFT_EAR, bp.RIGHT_EAR, 9, 10]  # nose, eyes, ears, mouth
    seen = [i for i in head if pose.seen(i) >= SEEN]
    if bp.NOSE not in seen or len(seen) < 3:
        return None
    pts = pose.points[seen, :2]
    cx, cy = pose.points[bp.NOSE, :2]
    half = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1]))) * 0.6 + 1.0
    box = _clip((cx - half, cy - 1.2 * half, cx + half, cy + 1.1 * half), w, h)
    return box, 100.0 * min(pose.seen(i) for i in (bp.NOSE, 2, 5))


class _Palms:
    """The palm detector's palms of the whole image, found once, on first need: only when the
    hand model does not recognise a hand where the body model puts one (a gloved hand, a hand
    seen edge-on), since it costs as much as a body model run."""

    def __init__(self, rgb: np.ndarray) -> None:
        self._rgb = rgb
        self._palms: list | None = None

    def near(self, point: np.ndarray, radius: float):
        if self._palms is None:
            from rekognition_emulator.models.body import palm_detector

            with palm_detector().use() as detector:
                self._palms = detector.detect(self._rgb)
        close = [
            p
            for p in self._palms
            if np.hypot(*(np.array(p.box[:2]) / 2 + np.array(p.box[2:]) / 2 - point)) <= radius
        ]
        return max(close, key=lambda p: p.score) if close else None


def _hand_parts(rgb: np.ndarray, pose, palms: _Palms, reach: float) -> list[Part]:
    """LEFT_HAND / RIGHT_HAND where the body model sees them; `reach` (pixels) is how far from
    its hand points a detected palm may be and still be taken for that hand (the body model's
    hand points can be off by a hand's length or two)."""
    from rekognition_emulator.models.body import hand_landmarker
    from rekognition_emulator.models.body.hands import HAND_INPUT, PALM
    from rekognition_emulator.models.body.pose import HAND_POINTS
    from rekognition_emulator.models.face import align

    h, w = rgb.shape[:2]
    parts = []
    for side, name in (("left", "LEFT_HAND"), ("right", "RIGHT_HAND")):
        idx = HAND_POINTS[side]
        seen = float(np.mean([pose.seen(i) for i in idx]))
        if seen < SEEN:
            continue
        pts = pose.points[list(idx), :2]
        wrist, fingers = pts[0], pts[1:].mean(axis=0)
        up = fingers - wrist
        length = max(float(np.hypot(*up)), 4.0)
        # The body model's finger points sit at the knuckles: the hand reaches about as far
        # again beyond them.
        centre = wrist + up * 1.0
        side_px = 3.2 * length
        box = _clip(
            (centre[0] - side_px / 2, centre[1] - side_px / 2, centre[0] + side_px / 2,
             centre[1] + side_px / 2),
            w, h,
        )  # fmt: skip
        palm = None  # the palm's outline, only from the hand model (body points are too rough)
        if side_px >= MIN_HAND_PX:
            angle = float(np.arctan2(up[0], -up[1]))
            m = align.rotated_square((centre[0], centre[1]), side_px, angle, HAND_INPUT)
            with hand_landmarker().use() as model:
                hand = model.run_crop(rgb, m, side_px)
                if hand.presence < SEEN:
                    found = palms.near(centre, max(2.0 * side_px, reach))
                    if found is not None:
                        hand = model.run(rgb, found)
            if hand.presence >= SEEN:
                box = _clip(hand.box, w, h)
                palm = hand.landmarks[list(PALM), :2]
        parts.append(Part(name, 100.0 * seen, box, palm))
    return parts


def _equipment(kind: str, box: Box, p: float) -> dict[str, Any]:
    return {"Box": box, "Confidence": 100.0 * p, "Type": kind, "Covers": 100.0 * p}


def analyse(rgb: np.ndarray) -> list[Person]:
    """Persons with their body parts and the equipment on them (work-image pixels)."""
    from rekognition_emulator.models import labels as scene
    from rekognition_emulator.models import moderation as mod
    from rekognition_emulator.models.body import pose_landmarker
    from rekognition_emulator.models.body.skin import fit_face

    h, w = rgb.shape[:2]
    persons = find_persons(rgb)
    palms = _Palms(rgb)
    for person in persons:
        pose = None
        if person.box[3] - person.box[1] >= MIN_POSE_PX:
            with pose_landmarker().use() as model:
                pose = model.run(rgb, person.box)
            if pose.score < SEEN and person.face is None:
                pose = None
        face = (person.face, person.face_confidence) if person.face is not None else None
        if face is None and pose is not None:
            face = _face_from_pose(pose, w, h)
        if face is not None and face[1] >= MIN_RETURNED:
            person.parts.append(Part("FACE", face[1], face[0]))
            person.parts.append(Part("HEAD", face[1], _head_box(face[0], w, h)))
        if pose is not None:
            person.parts += [
                p
                for p in _hand_parts(rgb, pose, palms, HAND_REACH * (person.box[3] - person.box[1]))
                if p.confidence >= MIN_RETURNED
            ]

    # Face covers: the mask classifier on every face, in one batch.
    # (Only faces the face detector found: a face placed from body points may be the back of
    # a head, which the mask classifier was never shown.)
    faces = [
        (p, part) for p in persons for part in p.parts if part.name == "FACE" and p.face is not None
    ]
    if faces:
        boxes = [(b[0], b[1], b[2] - b[0], b[3] - b[1]) for b in (part.box for _, part in faces)]
        masks = mod.face_mask().predict(rgb, boxes)
    else:
        masks = []
    # Head covers and the ImageNet face covers: the classifier on every head, in one batch.
    heads = [part for p in persons for part in p.parts if part.name == "HEAD"]
    head_probs = scene.default_classifier().classify_regions(
        rgb,
        [tuple(int(round(v)) for v in part.box) for part in heads],  # type: ignore[misc]
    )
    head_p = {id(part): probs for part, probs in zip(heads, head_probs, strict=True)}

    for (person, part), mask in zip(faces, masks, strict=True):
        head = next(x for x in person.parts if x.name == "HEAD")
        probs = head_p.get(id(head))
        imagenet = float(probs[list(FACE_COVER_CLASSES)].sum()) if probs is not None else 0.0
        p = max(mask, imagenet)
        if 100.0 * p >= MIN_RETURNED:
            x0, y0, x1, y1 = part.box
            part.equipment.append(_equipment("FACE_COVER", (x0, y0 + 0.4 * (y1 - y0), x1, y1), p))
    for part in heads:
        p = float(head_p[id(part)][list(HEAD_COVER_CLASSES)].sum())
        conf = head_cover_confidence(p)
        if conf >= MIN_RETURNED:
            x0, y0, x1, y1 = part.box
            part.equipment.append(
                _equipment("HEAD_COVER", (x0, y0, x1, y0 + 0.45 * (y1 - y0)), conf / 100.0)
            )
    for person in persons:
        hands = [x for x in person.parts if x.name.endswith("_HAND")]
        if not hands or person.face is None:
            continue
        fx0, fy0, fx1, fy1 = person.face
        skin = fit_face(rgb, (fx0, fy0, fx1 - fx0, fy1 - fy0))
        if skin is None:
            continue
        for part in hands:
            # Judged on the palm only (wrist and knuckles), where a bare hand is all skin; a
            # box round the fingers holds as much background as hand.
            if part.palm is None:
                continue
            share = skin.share_in_polygon(rgb, part.palm)
            if share is None:
                continue
            p = hand_cover_probability(share)
            if 100.0 * p >= MIN_RETURNED:
                part.equipment.append(_equipment("HAND_COVER", part.box, p))
    return persons


def head_cover_confidence(p: float) -> float:
    """Summed hat/helmet probability on the head crop -> Confidence: HEAD_COVER_MIN -> 50,
    twice that -> 75, rising to 99 (a real crash helmet scores about 0.67)."""
    return float(np.clip(50.0 + 50.0 * (p - HEAD_COVER_MIN) / (1.0 - HEAD_COVER_MIN), 0.0, 99.0))


def hand_cover_probability(skin_share: float) -> float:
    """Share of the hand box that looks like the person's skin -> probability of a glove:
    0.5 at BARE_SKIN_SHARE, near 1 at COVERED_SKIN_SHARE and below."""
    span = BARE_SKIN_SHARE - COVERED_SKIN_SHARE
    return float(np.clip(0.5 + 0.5 * (BARE_SKIN_SHARE - skin_share) / span, 0.0, 0.99))


# --- AWS shapes ----------------------------------------------------------------------------


def _ratio_box(b: Box, scale: float, w: int, h: int) -> dict[str, float]:
    x0, y0, x1, y1 = (v / scale for v in b)
    return ratio_box(x0, y0, x1, y1, w, h)


def summary(
    persons: list[dict[str, Any]], min_confidence: float, required: Sequence[str]
) -> dict[str, list[int]]:
    """ProtectiveEquipmentSummary over AWS-shaped persons (see README for the rules).

    A person is with the required equipment when every required type is found, confidently,
    on every body part it protects and covering it; without when a confidently seen part
    lacks it (or it confidently does not cover the part); indeterminate otherwise (the person,
    a part or the equipment is below MinConfidence, or a part is not seen). MinConfidence
    under 50 counts as 50.
    """
    floor = max(MIN_RETURNED, float(min_confidence))
    out: dict[str, list[int]] = {
        "PersonsWithRequiredEquipment": [],
        "PersonsWithoutRequiredEquipment": [],
        "PersonsIndeterminate": [],
    }
    for person in persons:
        verdicts = []
        if person["Confidence"] < floor:
            verdicts.append("indeterminate")
        parts = {p["Name"]: p for p in person["BodyParts"]}
        for kind in dict.fromkeys(required):
            for part_name in EQUIPMENT_PARTS[kind]:
                part = parts.get(part_name)
                if part is None or part["Confidence"] < floor:
                    verdicts.append("indeterminate")
                    continue
                items = [e for e in part["EquipmentDetections"] if e["Type"] == kind]
                if not items:
                    verdicts.append("without")
                    continue
                best = max(items, key=lambda e: e["Confidence"])
                covers = best["CoversBodyPart"]
                if best["Confidence"] < floor or covers["Confidence"] < floor:
                    verdicts.append("indeterminate")
                else:
                    verdicts.append("with" if covers["Value"] else "without")
        if "without" in verdicts:
            out["PersonsWithoutRequiredEquipment"].append(person["Id"])
        elif "indeterminate" in verdicts:
            out["PersonsIndeterminate"].append(person["Id"])
        else:
            out["PersonsWithRequiredEquipment"].append(person["Id"])
    return out


def detect_protective_equipment(
    rgb: np.ndarray, *, summarization: dict[str, Any] | None = None
) -> dict[str, Any]:
    """DetectProtectiveEquipment's answer for one frame (H x W x 3 uint8 RGB).

    `summarization`: the request's SummarizationAttributes (MinConfidence,
    RequiredEquipmentTypes), or None for no Summary.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    work = (
        rgb
        if scale >= 1.0
        else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    )
    work = np.ascontiguousarray(work)
    persons = []
    for i, person in enumerate(analyse(work)):
        parts = []
        # In the order of AWS's documented example: FACE, LEFT_HAND, RIGHT_HAND, HEAD.
        for part in sorted(person.parts, key=lambda x: PART_ORDER.index(x.name)):
            parts.append(
                {
                    "Name": part.name,
                    "Confidence": f32(part.confidence),
                    "EquipmentDetections": [
                        {
                            "BoundingBox": _ratio_box(e["Box"], scale, w, h),
                            "Confidence": f32(e["Confidence"]),
                            "Type": e["Type"],
                            "CoversBodyPart": {"Confidence": f32(e["Covers"]), "Value": True},
                        }
                        for e in part.equipment
                    ],
                }
            )
        persons.append(
            {
                "BodyParts": parts,
                "BoundingBox": _ratio_box(person.box, scale, w, h),
                "Confidence": f32(person.confidence),
                "Id": i,
            }
        )
    out: dict[str, Any] = {"ProtectiveEquipmentModelVersion": PPE_MODEL_VERSION, "Persons": persons}
    if summarization is not None:
        out["Summary"] = summary(
            persons,
            float(summarization.get("MinConfidence") or 0.0),
            summarization.get("RequiredEquipmentTypes") or [],
        )
    return out
