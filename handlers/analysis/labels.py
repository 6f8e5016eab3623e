"""Labels (LabelModelVersion 3.0) and image properties of one frame, from real models:
DetectLabels' answer, and a video's LabelDetection per sampled frame.

    from rekognition_emulator.handlers.analysis import labels

    labels.detect_labels(rgb)                      # {"Labels": [Label, ...]}
    labels.detect_labels(rgb, features=("GENERAL_LABELS", "IMAGE_PROPERTIES"),
                         min_confidence=55.0, max_labels=None, general_labels={...},
                         max_dominant_colors=10)  # + "ImageProperties"

Where the answer comes from:
- the ImageNet classifier (EfficientNet-Lite0) names the scene and its things; class
  probabilities are summed up the label hierarchy (handlers/_label_taxonomy.py);
- the COCO detector (NanoDet, when its model is available) finds people and other countable
  things with boxes: these become Instances of labels that AWS gives boxes for;
- faces (YuNet) imply people: a face no detected person covers adds a Person instance;
- IMAGE_PROPERTIES are measured on the pixels (models/labels/properties.py).

Confidence: Rekognition's label confidences are not probabilities of a single-label softmax,
and its default cut (MinConfidence 55) keeps what is clearly there. One monotone map per
model score puts it on that scale; each saturates towards 100 and none is clamped, so the
order of the scores is kept and two different scores never read the same:
- classifier: 100 * sqrt(p), p the label's probability mass in its best view; p = 0.30 gives
  55, p = 0.81 gives 90 (a softmax spreads its mass over the several things a photo holds);
- detector: 100 / (1 + exp(-8.79 * (score - 0.277))): NanoDet's operating point 0.3 gives 55
  and a clear object (0.8) 99;
- a face implies a person: 100 / (1 + exp(-17.6 * (score - 0.589))) of YuNet's score: the
  detection threshold 0.6 gives 55 and a clear face (0.85) 99, as sure a sign of a person
  as a clear person box.
A label takes the best of its sources, and a parent is at least as confident as its children
(so a parent reads exactly its best child's confidence when nothing else supports it, as in
real responses).

Failures: only a model that is documented as optional and cannot be had (NanoDet, which needs
npm) is answered without; any other failure of a model is the operation's failure (an
InternalServerError), never a quieter answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from rekognition_emulator.handlers import _colors
from rekognition_emulator.handlers._label_taxonomy import Taxonomy, taxonomy
from rekognition_emulator.handlers.analysis.numbers import f32

log = logging.getLogger(__name__)

LABEL_MODEL_VERSION = "3.0"
DEFAULT_MIN_CONFIDENCE = 55.0
DEFAULT_MAX_DOMINANT_COLORS = 10
WORK_SIDE = 1024


def _through(score: float, low: tuple[float, float], high: tuple[float, float]) -> float:
    """100 * logistic(score), the logistic passing through two (score, confidence) anchors."""
    (s0, c0), (s1, c1) = low, high
    logit0, logit1 = math.log(c0 / (100 - c0)), math.log(c1 / (100 - c1))
    slope = (logit1 - logit0) / (s1 - s0)
    return 100.0 / (1.0 + math.exp(-(logit0 + slope * (score - s0))))


def classifier_confidence(p: float) -> float:
    # A summed probability mass may pass 1 by rounding; the square root saturates at 100.
    return 100.0 * math.sqrt(min(1.0, max(0.0, p)))


def detector_confidence(score: float) -> float:
    return _through(score, (0.3, 55.0), (0.8, 99.0))


def face_person_confidence(score: float) -> float:
    # YuNet keeps faces from 0.6 and scores clear faces 0.86-0.95 (handlers/analysis/faces.py).
    return _through(score, (0.6, 55.0), (0.85, 99.0))


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def ratio(self, w: int, h: int) -> dict[str, float]:
        x0, y0 = max(0.0, self.x0), max(0.0, self.y0)
        x1, y1 = min(float(w), self.x1), min(float(h), self.y1)
        return {
            "Width": f32((x1 - x0) / w),
            "Height": f32((y1 - y0) / h),
            "Left": f32(x0 / w),
            "Top": f32(y0 / h),
        }

    def covers(self, other: Box) -> float:
        """Share of `other`'s area inside this box."""
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        area = max(1e-9, (other.x1 - other.x0) * (other.y1 - other.y0))
        return ix * iy / area


@dataclass
class Instance:
    box: Box
    confidence: float


@dataclass
class Found:
    """What the models saw, before AWS's filters."""

    confidence: dict[str, float] = field(default_factory=dict)
    instances: dict[str, list[Instance]] = field(default_factory=dict)

    def add(self, name: str, confidence: float) -> None:
        if confidence > self.confidence.get(name, 0.0):
            self.confidence[name] = confidence


def person_box_from_face(x: float, y: float, w: float, h: float, iw: int, ih: int) -> Box:
    # Body proportions: about 3 face widths across the shoulders and 7-8 face heights tall;
    # the photo's edges cut what is outside (portraits keep only head and shoulders).
    cx = x + w / 2
    return Box(
        max(0.0, cx - 1.5 * w),
        max(0.0, y - 0.35 * h),
        min(float(iw), cx + 1.5 * w),
        min(float(ih), y + 7.5 * h),
    )


# The classifier's second opinion on a detector box (see `cross_checked`).
CHECKED_BOXES = 3  # the most confident unsure ones, in one batch: about 3 ms a crop
CHECK_BELOW_SCORE = 0.6  # NanoDet scores its sure boxes higher (a clear object 0.7-0.9)
CHECK_MIN_PX = 48  # smaller crops are too blurred for the classifier to judge
OWN_MASS_BELOW = 0.05  # the classifier all but rules out the detector's class...
OTHER_MASS_FROM = 0.5  # ...and clearly sees another class the detector knows
UNJUDGED = frozenset({"Person"})  # ImageNet's person classes are a few trades, not people


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """True when the smaller of two boxes lies mostly (half its area or more) in the other."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy >= 0.5 * max(min(_area(a), _area(b)), 1e-9)


def cross_checked(rgb: np.ndarray, detections, tx: Taxonomy) -> list[str | None]:
    """The label of each detector box, checked by the ImageNet classifier on the box's crop.

    NanoDet sometimes names the right box with the wrong class (COCO8: a dog boxed as Cat,
    score 0.52). The classifier looks at the boxes NanoDet is unsure of, of a class it can
    judge: a square crop each, the three most confident in one batch (about 3 ms a crop; all
    seven boxes of a busy table cost 22 ms, which DetectLabels' 60 ms budget cannot hold, and
    sure boxes were never renamed on the shared photos) and the box is
    renamed only when it all but rules out the detector's class (under 5 % of its mass) and
    clearly sees another class the detector knows (50 % or more), which no other detection
    already accounts for (a dog in front of a bicycle makes the bicycle's crop read Dog, and
    the dog has its own box). Classes ImageNet has no
    classes for (Giraffe ...) or only incidental ones (Person: a few trades) are never
    judged, so a horse box stays a horse unless the crop is plainly something else.
    """
    from rekognition_emulator.models import labels as scene

    names = [tx.coco[d.class_index] for d in detections]
    rows = _judged_rows(tx)
    h, w = rgb.shape[:2]
    judged = [
        i
        for i, name in enumerate(names)
        if name in rows
        and detections[i].score < CHECK_BELOW_SCORE
        and min(
            detections[i].box[2] - detections[i].box[0], detections[i].box[3] - detections[i].box[1]
        )
        >= CHECK_MIN_PX
    ]
    judged = sorted(judged, key=lambda i: -detections[i].score)[:CHECKED_BOXES]
    if not judged:
        return names
    crops = []
    for i in judged:
        x0, y0, x1, y1 = detections[i].box
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.55 * max(x1 - x0, y1 - y0)
        crops.append(
            (
                int(max(0, cx - half)),
                int(max(0, cy - half)),
                int(min(w, cx + half)),
                int(min(h, cy + half)),
            )
        )
    mass = tx.scores(scene.default_classifier().classify_boxes(rgb, crops).probs)
    for row, i in zip(mass, judged, strict=True):
        other = max((n for n in rows if n != names[i]), key=lambda n: row[rows[n]])
        if row[rows[names[i]]] >= OWN_MASS_BELOW or row[rows[other]] < OTHER_MASS_FROM:
            continue
        if any(
            names[j] == other and _overlaps(detections[i].box, detections[j].box)
            for j in range(len(detections))
            if j != i
        ):
            continue
        names[i] = other
    return names


def contradicted_animals(tx: Taxonomy, detections, names: list[str | None]) -> list[int]:
    """Animals the classifier may not claim on its own: those the detector knows, boxed none
    of, while it boxed (at DetectLabels' default MinConfidence) another animal in the photo.

    ImageNet has one horse class and no giraffe, so the whole-frame classifier reads riders'
    horses as a spread of dog breeds (COCO8 000000000049: Dog 83 beside two Horse boxes) and
    giraffes as zebras. Where the detector looked and named the animal otherwise, the
    classifier's mass on that label is taken out before any label is scored, so its parents
    (Canine, Pet) go with it. The price: a second kind of animal the detector missed is not
    named from the classifier either. Returns those labels' rows in the label scores.
    """
    boxed = {
        name
        for d, name in zip(detections, names, strict=True)
        if name is not None and detector_confidence(d.score) >= DEFAULT_MIN_CONFIDENCE
    }
    if not any(name in tx.labels and "Animal" in tx.info(name).parents for name in boxed):
        return []  # (a boxed giraffe counts: ImageNet has no class the classifier could judge)
    return [
        row
        for name, row in _judged_rows(tx).items()
        if name not in boxed and "Animal" in tx.info(name).parents
    ]


def _judged_rows(tx: Taxonomy) -> dict[str, int]:
    """The detector's labels the classifier can judge -> their row in the label scores
    (computed once per taxonomy and kept on it, as its own segments are)."""
    cached = getattr(tx, "_judged_rows", None)
    if cached is not None:
        return cached
    out = {}
    for name in tx.coco:
        if name and name in tx.labels and name not in UNJUDGED:
            row = tx.names.index(name)
            if tx.membership[row].any():
                out[name] = row
    object.__setattr__(tx, "_judged_rows", out)
    return out


def _area(box: tuple[float, ...]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def analyse(frame: np.ndarray, tx: Taxonomy, *, want_labels: bool) -> tuple[Found, list[Box]]:
    """Run the models. Returns the labels found and the subject boxes (for the foreground)."""
    from rekognition_emulator.models import labels as scene

    found = Found()
    subjects: list[Box] = []
    h, w = frame.shape[:2]
    # Every model looks at 416 px or less: one shared copy of at most 1024 px a side bounds the
    # cost of huge photos (resizing 12 Mpx three times costs more than the models).
    k = min(1.0, WORK_SIDE / max(w, h))
    rgb = frame
    if k < 1.0:
        rgb = cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)

    # None only where the model cannot be had (NanoDet needs npm): documented, answered
    # without it. Any other failure, loading or running, fails the request.
    detector = scene.default_detector()
    detections = detector.detect(rgb) if detector is not None else []
    names = cross_checked(rgb, detections, tx) if detections else []

    if want_labels:
        probs = scene.default_classifier().classify(rgb).probs
        for row in contradicted_animals(tx, detections, names):
            probs = probs * (1.0 - tx.membership[row])
        mass = tx.scores(probs).max(axis=0)  # each label at its best view
        for i in np.nonzero(mass >= 0.01)[0]:
            found.add(tx.names[i], classifier_confidence(float(mass[i])))

    if detector is not None:
        for d, name in zip(detections, names, strict=True):
            if name is None:
                continue
            conf = detector_confidence(d.score)
            box = Box(*(v / k for v in d.box))
            found.add(name, conf)
            found.instances.setdefault(name, []).append(Instance(box, conf))
            if conf >= DEFAULT_MIN_CONFIDENCE:
                subjects.append(box)

    # Faces imply people, also where the detector missed the person (or is unavailable).
    from rekognition_emulator.models.face.analyzer import default_analyzer

    faces = default_analyzer().run_detector(rgb)
    persons = found.instances.setdefault("Person", [])
    for face in faces:
        fx, fy, fw, fh = (v / k for v in face.box)
        fb = Box(fx, fy, fx + fw, fy + fh)
        conf = face_person_confidence(face.score)
        covering = [p for p in persons if p.box.covers(fb) >= 0.6]
        if covering:
            # A face inside a detected person confirms it.
            best = max(covering, key=lambda p: p.confidence)
            best.confidence = max(best.confidence, conf)
        else:
            persons.append(Instance(person_box_from_face(fx, fy, fw, fh, w, h), conf))
        found.add("Person", conf)
        subjects.append(fb)
    if not persons:
        del found.instances["Person"]

    # A parent is at least as confident as its best child (detector labels included).
    for name, conf in list(found.confidence.items()):
        if name in tx.labels:
            for parent in tx.info(name).parents:
                found.add(parent, conf)
    return found, subjects


def _color(cluster_rgb: tuple[int, int, int], percent: float) -> tuple[str, dict[str, Any]]:
    css = _colors.snap(cluster_rgb)
    return css.name, {
        "Red": css.rgb[0],
        "Blue": css.rgb[2],
        "Green": css.rgb[1],
        "HexCode": css.hex,
        "CSSColor": css.name,
        "SimplifiedColor": _colors.simplified(css.rgb),
        "PixelPercent": f32(percent),
    }


def dominant_colors(rgb: np.ndarray, mask: np.ndarray | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` colours, clusters that snap to the same CSS colour merged."""
    from rekognition_emulator.models.labels.properties import dominant_colors as clusters

    if limit <= 0:
        return []
    merged: dict[str, dict[str, Any]] = {}
    for c in clusters(rgb, mask, k=max(limit, 8)):
        name, entry = _color(c.rgb, 100.0 * c.fraction)
        if name in merged:
            merged[name]["PixelPercent"] = f32(merged[name]["PixelPercent"] + entry["PixelPercent"])
        else:
            merged[name] = entry
    out = sorted(merged.values(), key=lambda e: (-e["PixelPercent"], e["CSSColor"]))
    return out[:limit]


def image_properties(
    rgb: np.ndarray, subjects: list[Box], max_colors: int
) -> tuple[dict[str, Any], np.ndarray, float]:
    """ImageProperties, and the shrunk copy (with its scale) the colours were measured on."""
    from rekognition_emulator.models.labels import properties as props

    small = props.shrink(rgb)
    scale = small.shape[1] / rgb.shape[1]
    boxes = [(b.x0 * scale, b.y0 * scale, b.x1 * scale, b.y1 * scale) for b in subjects]
    fg = props.foreground_mask(small, boxes)
    q = props.quality(small)
    out: dict[str, Any] = {
        "Quality": {
            "Brightness": f32(q.brightness),
            "Sharpness": f32(q.sharpness),
            "Contrast": f32(q.contrast),
        },
        "DominantColors": dominant_colors(small, None, max_colors),
    }
    for key, mask in (("Foreground", fg), ("Background", ~fg)):
        if mask.any():
            rq = props.quality(small, mask)
            out[key] = {
                "Quality": {"Brightness": f32(rq.brightness), "Sharpness": f32(rq.sharpness)},
                "DominantColors": dominant_colors(small, mask, max_colors),
            }
    return out, small, scale


def _names(filters: list[str] | None) -> set[str]:
    return {f.casefold() for f in filters or []}


def _passes(tx: Taxonomy, name: str, settings: Mapping[str, Any]) -> bool:
    """Settings.GeneralLabels: inclusion filters keep only what they name (labels or
    categories); exclusion filters then drop what they name."""
    cats = {c.casefold() for c in tx.info(name).categories}
    inc_l = _names(settings.get("LabelInclusionFilters"))
    inc_c = _names(settings.get("LabelCategoryInclusionFilters"))
    if (inc_l or inc_c) and name.casefold() not in inc_l and not (cats & inc_c):
        return False
    if name.casefold() in _names(settings.get("LabelExclusionFilters")):
        return False
    return not (cats & _names(settings.get("LabelCategoryExclusionFilters")))


def detect_labels(
    rgb: np.ndarray,
    *,
    features: Collection[str] = ("GENERAL_LABELS",),
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    max_labels: int | None = None,
    general_labels: Mapping[str, Any] | None = None,
    max_dominant_colors: int = DEFAULT_MAX_DOMINANT_COLORS,
) -> dict[str, Any]:
    """DetectLabels' Labels (with GENERAL_LABELS) and ImageProperties (with IMAGE_PROPERTIES)
    of one frame. `general_labels` is Settings.GeneralLabels (inclusion and exclusion
    filters); MinConfidence also filters Instances. With both features, each instance carries
    its own DominantColors."""
    want_labels = "GENERAL_LABELS" in features
    tx = taxonomy()
    found, subjects = analyse(rgb, tx, want_labels=want_labels)
    out: dict[str, Any] = {}
    colors_of: Callable[[Box], list[dict[str, Any]]] | None = None
    if "IMAGE_PROPERTIES" in features:
        props, small, scale = image_properties(rgb, subjects, max_dominant_colors)
        out["ImageProperties"] = props

        def colors_of(box: Box) -> list[dict[str, Any]]:
            return _instance_colors(small, scale, box, max_dominant_colors)

    if want_labels:
        out["Labels"] = _labels(
            found, tx, rgb, min_confidence, max_labels, general_labels or {}, colors_of
        )
    return out


def _labels(
    found: Found,
    tx: Taxonomy,
    rgb: np.ndarray,
    min_conf: float,
    max_labels: int | None,
    general: Mapping[str, Any],
    colors_of: Callable[[Box], list[dict[str, Any]]] | None,
) -> list[dict[str, Any]]:
    """The Labels list: most confident first, filtered, each with its Instances (boxes)."""
    height, width = rgb.shape[:2]
    ranked = sorted(found.confidence.items(), key=lambda kv: (-kv[1], kv[0]))
    labels: list[dict[str, Any]] = []
    for name, conf in ranked:
        if max_labels is not None and len(labels) >= int(max_labels):
            break
        if conf < min_conf or name not in tx.labels or not _passes(tx, name, general):
            continue
        info = tx.info(name)
        instances = []
        if info.bounding_box:
            for inst in sorted(found.instances.get(name, []), key=lambda i: -i.confidence):
                if inst.confidence < min_conf:
                    continue
                entry: dict[str, Any] = {
                    "BoundingBox": inst.box.ratio(width, height),
                    "Confidence": f32(inst.confidence),
                }
                if colors_of is not None:  # both features: boxes carry their own colours
                    entry["DominantColors"] = colors_of(inst.box)
                instances.append(entry)
        labels.append(
            {
                "Name": name,
                "Confidence": f32(conf),
                "Instances": instances,
                "Parents": [{"Name": p} for p in info.parents],
                "Aliases": [{"Name": a} for a in info.aliases],
                "Categories": [{"Name": c} for c in info.categories],
            }
        )
    return labels


def _instance_colors(small: np.ndarray, scale: float, box: Box, limit: int) -> list[dict[str, Any]]:
    h, w = small.shape[:2]
    x0, y0 = int(max(0, box.x0 * scale)), int(max(0, box.y0 * scale))
    x1, y1 = int(min(w, math.ceil(box.x1 * scale))), int(min(h, math.ceil(box.y1 * scale)))
    if x1 <= x0 or y1 <= y0:
        return []
    return dominant_colors(np.ascontiguousarray(small[y0:y1, x0:x1]), None, limit)
