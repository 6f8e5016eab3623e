"""Content moderation on one frame, in Rekognition's shapes (DetectModerationLabels, model 7.0).

    from rekognition_emulator.handlers.analysis import moderation
    moderation.detect_moderation_labels(rgb, min_confidence=50.0)
        # {"ModerationLabels": [...], "ModerationModelVersion": "7.0", "ContentTypes": [...]}

What can raise each label (README "Content moderation" lists all 52):
- Explicit Nudity (L2, with Explicit): nsfwjs (Porn + Hentai) and open_nsfw must agree:
  confidence = 100 * sqrt(nsfwjs_explicit * open_nsfw). The body-part L3 labels need NudeNet
  (opt-in); Sexual Activity and Sex Toys have no signal.
- Non-Explicit Nudity (L2): nsfwjs Sexy and open_nsfw, the same geometric mean.
- Swimwear or Underwear: ImageNet swimwear classes on each person (female: bikini, maillot,
  brassiere; male: swimming trunks), weighed by the nudity classifiers' skin evidence
  (max of Sexy, Porn, open_nsfw): 100 * sqrt(p_class * skin).
- Weapons, Crashes, Pills, Drugs Paraphernalia, Alcoholic Beverages, Gambling: the summed
  probability of their ImageNet classes at the classifier's best view (handlers/data/
  moderation_cues.tsv), and the COCO knife (held: inside a person's box) and wine glass.
- Drinking: a wine glass touching the lower half of a face.
- Middle Finger: MediaPipe hand landmarks, middle finger out and the other three folded.
A parent is reported with the confidence of its most confident child when that is higher
than its own (as the real service returns the L2 and L1 of an L3 hit).
ContentTypes: nsfwjs Drawing -> Illustrated; Hentai and ImageNet comic_book -> Animated,
from a probability measured to stay clear of every ordinary photo of the test sets.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from rekognition_emulator.handlers.analysis.numbers import f32

MODERATION_MODEL_VERSION = "7.0"
DEFAULT_MIN_CONFIDENCE = 50.0
WORK_SIDE = 1024  # every model looks at 416 px or less
DATA = Path(__file__).resolve().parent.parent / "data"

# ContentTypes, measured on 120 ordinary photos (shared test data + scikit-image): nsfwjs
# Drawing reaches 0.51 at most (the space rocket), ImageNet comic_book 0.024 (mean of the
# views); a line drawing made from the rocket scores Drawing 0.99, a flat-shaded cartoon of
# the astronaut comic_book 0.89.
ILLUSTRATED_THRESHOLD = 0.7
ANIMATED_THRESHOLD = 0.5
COMIC_BOOK = 917
SECOND_OPINION = 0.0625  # nsfwjs nudity from which open_nsfw is asked too (sqrt: 25 %)
# Person crops are classified for swimwear only when the whole picture hints at it.
SWIMWEAR_HINT = 0.02
SKIN_HINT = 0.1
SWIMWEAR_SKIN = 0.5  # skin evidence at which swimwear counts fully
MAX_SWIMWEAR_PERSONS = 3
MIN_PERSON_SCORE = 0.3
MAX_HANDS = 4  # hands looked at for a gesture, best palms first
# NudeNet: its body parts count from this score (coffee: BUTTOCKS_EXPOSED 0.30, false).
NUDENET_MIN_SCORE = 0.5
NUDENET_LABELS = {
    "FEMALE_GENITALIA_EXPOSED": "Exposed Female Genitalia",
    "MALE_GENITALIA_EXPOSED": "Exposed Male Genitalia",
    "BUTTOCKS_EXPOSED": "Exposed Buttocks or Anus",
    "ANUS_EXPOSED": "Exposed Buttocks or Anus",
    "FEMALE_BREAST_EXPOSED": "Exposed Female Nipple",
    "MALE_BREAST_EXPOSED": "Exposed Male Nipple",
}
# Covered parts mean "obstructed" only in an otherwise nude picture (a bikini covers too).
NUDENET_OBSTRUCTED = {"FEMALE_BREAST_COVERED": "Obstructed Female Nipple"}
OBSTRUCTED_NUDITY = 0.5


@dataclass(frozen=True)
class Node:
    name: str
    parent: str  # "" at the top
    level: int


@lru_cache(maxsize=1)
def taxonomy() -> dict[str, Node]:
    """The v7 moderation taxonomy: 10 top-level labels, 20 second-level, 22 third-level."""
    nodes: dict[str, Node] = {}
    with open(DATA / "moderation_taxonomy.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = [row["level1"], row["level2"], row["level3"]]
            level = int(row["taxonomy_level"])
            nodes[path[level - 1]] = Node(
                path[level - 1], path[level - 2] if level > 1 else "", level
            )
    return nodes


@dataclass(frozen=True)
class Cues:
    imagenet: dict[str, tuple[int, ...]]  # label -> ImageNet classes that show it
    coco: dict[int, str]  # COCO class -> label


@lru_cache(maxsize=1)
def cues() -> Cues:
    imagenet: dict[str, list[int]] = {}
    coco: dict[int, str] = {}
    with open(DATA / "moderation_cues.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["source"] == "imagenet":
                imagenet.setdefault(row["label"], []).append(int(row["class"]))
            else:
                coco[int(row["class"])] = row["label"]
    return Cues({k: tuple(v) for k, v in imagenet.items()}, coco)


@dataclass
class Signals:
    """What the models said about one frame (probabilities 0..1), before any AWS rule."""

    nsfwjs: dict[str, float]  # drawing, hentai, neutral, porn, sexy
    open_nsfw: float  # 0.0 when not asked (nsfwjs saw next to no nudity)
    imagenet: np.ndarray  # views x 1000
    detections: list = field(default_factory=list)  # COCO detections (models.labels.detector)
    person_imagenet: np.ndarray = field(default_factory=lambda: np.zeros((0, 1000)))
    middle_finger: float = 0.0  # best hand's score times its presence
    faces: list = field(default_factory=list)  # face detections, only when a glass was seen
    nudenet: list = field(default_factory=list)  # models.moderation.nudenet.BodyPart


def _work_copy(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    k = min(1.0, WORK_SIDE / max(h, w))
    if k >= 1.0:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)


def _middle_finger(rgb: np.ndarray) -> float:
    from rekognition_emulator.models.body import hand_landmarker, palm_detector
    from rekognition_emulator.models.body.hands import middle_finger_score

    with palm_detector().use() as detector:
        palms = detector.detect(rgb)[:MAX_HANDS]
    best = 0.0
    for palm in palms:
        with hand_landmarker().use() as landmarker:
            hand = landmarker.run(rgb, palm)
        best = max(best, middle_finger_score(hand.landmarks) * hand.presence)
    return best


def signals(rgb: np.ndarray, *, nudenet: bool = False) -> Signals:
    """Run the models on one frame (H x W x 3 uint8 RGB); NudeNet's body parts only with
    `nudenet` (the server's opt-in setting: AGPL weights)."""
    from rekognition_emulator.models import labels as scene
    from rekognition_emulator.models import moderation as mod

    rgb = _work_copy(rgb)
    detector = scene.default_detector()
    detections = detector.detect(rgb) if detector is not None else []
    persons = [d for d in detections if d.class_index == 0 and d.score >= MIN_PERSON_SCORE]
    # Hands only where someone is seen (a hand held up to the camera is seen as a person).
    # They run beside the other models rather than after them: measured on 2 cores with the
    # hand models in onnxruntime, a 640x480 photo of 3 people takes 34-37 ms that way and
    # 38 ms one after the other (palm detection alone: 8-9 ms).
    hands = _pool().submit(_middle_finger, rgb) if persons else None
    try:
        js = mod.nsfwjs().classify(rgb)
        # open_nsfw is the second opinion: where nsfwjs sees next to no nudity, no nudity
        # label can reach even 25 whatever it says, so it is not asked (its 7-13 ms).
        nude = max(js.porn + js.hentai, js.sexy) >= SECOND_OPINION
        sig = Signals(
            nsfwjs={k: getattr(js, k) for k in ("drawing", "hentai", "neutral", "porn", "sexy")},
            open_nsfw=mod.open_nsfw().score(rgb) if nude else 0.0,
            imagenet=scene.default_classifier().classify(rgb).probs,
            detections=detections,
        )
        swim = cues().imagenet
        swim_classes = [
            *swim["Female Swimwear or Underwear"],
            *swim["Male Swimwear or Underwear"],
        ]
        hint = float(sig.imagenet[:, swim_classes].sum(axis=1).max())
        if persons and (hint >= SWIMWEAR_HINT or js.sexy >= SKIN_HINT):
            largest = sorted(persons, key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
            boxes = [tuple(int(round(v)) for v in d.box) for d in largest[:MAX_SWIMWEAR_PERSONS]]
            boxes = [b for b in boxes if b[2] - b[0] >= 8 and b[3] - b[1] >= 8]
            sig.person_imagenet = scene.default_classifier().classify_regions(rgb, boxes)  # type: ignore[arg-type]

        if any(cues().coco.get(d.class_index) == "Alcoholic Beverages" for d in detections):
            from rekognition_emulator.models.face.analyzer import default_analyzer

            sig.faces = default_analyzer().run_detector(rgb)

        if nudenet:
            sig.nudenet = mod.nudenet_detector().detect(rgb)
    except BaseException:
        if hands is not None:
            hands.cancel() or hands.exception()  # never leave it running past the request
        raise
    if hands is not None:
        sig.middle_finger = hands.result()
    return sig


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="moderation-hands")


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Share of box b's area (x0, y0, x1, y1) inside box a."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max(1e-9, (b[2] - b[0]) * (b[3] - b[1]))


def label_confidences(sig: Signals) -> dict[str, float]:
    """Confidence (0..100) of each label the signals speak for, parents not yet added."""
    out: dict[str, float] = {}

    def add(name: str, p: float) -> None:
        c = 100.0 * float(np.clip(p, 0.0, 1.0))
        if c > out.get(name, 0.0):
            out[name] = c

    js = sig.nsfwjs
    add("Explicit Nudity", np.sqrt((js["porn"] + js["hentai"]) * sig.open_nsfw))
    add("Non-Explicit Nudity", np.sqrt(js["sexy"] * sig.open_nsfw))

    c = cues()
    skin = max(js["sexy"], js["porn"], sig.open_nsfw)
    for label, classes in c.imagenet.items():
        # The mean over the classifier's views (whole frame, centre square): one squashed
        # view alone can be fooled (a text page squashed to a square: pill bottle 0.47).
        p = float(sig.imagenet[:, list(classes)].sum(axis=1).mean())
        if label.endswith("Swimwear or Underwear"):
            if len(sig.person_imagenet):
                p = max(p, float(sig.person_imagenet[:, list(classes)].sum(axis=1).max()))
            # Clothes alone are no moderation matter: a bathing suit counts with the bare
            # skin the nudity classifiers see (a portrait in a white top: brassiere 0.66,
            # skin 0.18; a woman in a swimsuit: maillot 0.41, skin 0.60).
            p = np.sqrt(p) * min(1.0, skin / SWIMWEAR_SKIN)
        add(label, p)

    persons = [d.box for d in sig.detections if d.class_index == 0]
    for d in sig.detections:
        label = c.coco.get(d.class_index)
        if label is None:
            continue
        if d.class_name == "knife":
            # A knife on a table is cutlery; held by someone it is a weapon.
            held = any(_overlap(p, d.box) >= 0.8 for p in persons)
            if not held:
                continue
        add(label, d.score)
        if label == "Alcoholic Beverages":
            for face in sig.faces:
                fx, fy, fw, fh = face.box
                mouth = (fx, fy + 0.5 * fh, fx + fw, fy + 1.1 * fh)
                if _overlap(d.box, mouth) > 0.0 or _overlap(mouth, d.box) > 0.0:
                    add("Drinking", min(d.score, face.score))

    add("Middle Finger", sig.middle_finger)

    nudity = max(js["porn"], js["sexy"], sig.open_nsfw)
    for part in sig.nudenet:
        if part.score < NUDENET_MIN_SCORE:
            continue
        if part.name in NUDENET_LABELS:
            add(NUDENET_LABELS[part.name], part.score)
        elif part.name in NUDENET_OBSTRUCTED and nudity >= OBSTRUCTED_NUDITY:
            add(NUDENET_OBSTRUCTED[part.name], part.score)
    return {k: v for k, v in out.items() if v > 0.0}


def with_parents(confidences: dict[str, float]) -> dict[str, float]:
    """Every label with all its ancestors; a parent is at least as confident as its children."""
    tax = taxonomy()
    out = dict(confidences)
    for name, conf in confidences.items():
        parent = tax[name].parent
        while parent:
            out[parent] = max(out.get(parent, 0.0), conf)
            parent = tax[parent].parent
    return out


def content_types(sig: Signals, min_confidence: float) -> list[dict[str, object]]:
    found = {
        "Animated": (
            max(sig.nsfwjs["hentai"], float(sig.imagenet[:, COMIC_BOOK].mean())),
            ANIMATED_THRESHOLD,
        ),
        "Illustrated": (sig.nsfwjs["drawing"], ILLUSTRATED_THRESHOLD),
    }
    out = []
    for name, (p, threshold) in sorted(found.items(), key=lambda kv: -kv[1][0]):
        if p >= threshold and 100.0 * p >= min_confidence:
            out.append({"Name": name, "Confidence": f32(100.0 * p)})
    return out


def moderation_labels(
    sig: Signals, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[dict[str, object]]:
    """ModerationLabels from the signals: every label at or above min_confidence, most
    confident first (a child before its parent at equal confidence)."""
    return labels_from_confidences(with_parents(label_confidences(sig)), min_confidence)


def labels_from_confidences(
    confs: dict[str, float], min_confidence: float
) -> list[dict[str, object]]:
    """ModerationLabels from each label's confidence (parents included), as
    moderation_labels orders them; a moderation adapter's re-scored confidences go here too."""
    tax = taxonomy()
    ranked = sorted(confs.items(), key=lambda kv: (-round(kv[1], 4), -tax[kv[0]].level, kv[0]))
    return [
        {
            "Confidence": f32(conf),
            "Name": name,
            "ParentName": tax[name].parent,
            "TaxonomyLevel": tax[name].level,
        }
        for name, conf in ranked
        if conf >= min_confidence
    ]


def detect_moderation_labels(
    rgb: np.ndarray, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE, nudenet: bool = False
) -> dict[str, object]:
    """DetectModerationLabels' answer for one frame (H x W x 3 uint8 RGB); `nudenet`: the
    server's opt-in setting (Config.nudenet) for the body-part labels."""
    sig = signals(rgb, nudenet=nudenet)
    return {
        "ModerationLabels": moderation_labels(sig, min_confidence),
        "ModerationModelVersion": MODERATION_MODEL_VERSION,
        "ContentTypes": content_types(sig, min_confidence),
    }
