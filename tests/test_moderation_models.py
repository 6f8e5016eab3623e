"""The moderation and PPE models on their own (no server): converters, classifiers, hands,
pose, skin, the gesture rule, NudeNet's opt-in, and the rules that turn signals into labels.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
import skimage.data

from rekognition_emulator.handlers.analysis import moderation
from rekognition_emulator.models.body import hand_landmarker, palm_detector, pose_landmarker
from rekognition_emulator.models.body.hands import (
    INDEX,
    MIDDLE,
    PINKY,
    RING,
    THUMB,
    WRIST,
    middle_finger_score,
    palm_anchors,
)
from rekognition_emulator.models.body.skin import fit_face
from rekognition_emulator.models.convert import tfjs_layers
from rekognition_emulator.models.face.analyzer import default_analyzer
from rekognition_emulator.models.manifest import MANIFEST, select
from rekognition_emulator.models.moderation import nudenet as nudenet_module


def _rgb(path) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


# --- the TFJS layers converter ------------------------------------------------------------------


def test_js_literal_reader_reads_what_minified_javascript_writes():
    text = 'x=1;a.exports={name:"m",flag:!0,off:!1,n:null,v:[.5,-2,1e-3,3],s:"q\\"t",o:{k:[]}}'
    assert tfjs_layers.module_export(text) == {
        "name": "m",
        "flag": True,
        "off": False,
        "n": None,
        "v": [0.5, -2, 0.001, 3],
        "s": 'q"t',
        "o": {"k": []},
    }


def test_uint8_weights_are_dequantised_in_manifest_order():
    raw = bytes([0, 255, 10, 20])
    manifest = [
        {
            "paths": ["shard"],
            "weights": [
                {"name": "a/kernel", "shape": [2], "dtype": "float32",
                 "quantization": {"min": -1.0, "scale": 2 / 255, "dtype": "uint8"}},
                {"name": "b/bias", "shape": [2], "dtype": "float32",
                 "quantization": {"min": 0.0, "scale": 0.5, "dtype": "uint8"}},
            ],
        }
    ]  # fmt: skip
    weights = tfjs_layers.read_weights(manifest, {"shard": raw})
    assert np.allclose(weights["a/kernel"], [-1.0, 1.0])
    assert np.allclose(weights["b/bias"], [5.0, 10.0])
    shard_js = f'h.exports="{base64.b64encode(raw).decode()}"'
    assert base64.b64decode(tfjs_layers.module_export(shard_js)) == raw


def test_nsfwjs_converted_from_the_npm_tarball_calls_photos_neutral():
    nsfw = moderation_models().nsfwjs()
    for name in ("astronaut", "coffee", "chelsea"):
        scores = nsfw.classify(getattr(skimage.data, name)())
        assert scores.neutral > 0.9, (name, scores)


def test_open_nsfw_scores_ordinary_photos_safe():
    model = moderation_models().open_nsfw()
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        assert model.score(getattr(skimage.data, name)()) < 0.1, name


def moderation_models():
    from rekognition_emulator.models import moderation as mod
    from rekognition_emulator.models.store import ModelStoreError

    try:
        mod.nsfwjs().classify(np.zeros((32, 32, 3), np.uint8))
    except ModelStoreError as exc:
        pytest.skip(f"moderation models unavailable: {exc}")
    return mod


# --- NudeNet is opt-in ----------------------------------------------------------------------


def test_nudenet_is_never_pulled_or_loaded_by_default(monkeypatch):
    assert MANIFEST["nudenet"].opt_in and "AGPL" in MANIFEST["nudenet"].licence
    assert "nudenet" not in {s.name for s in select(None)}  # `models pull` / `verify`
    assert {s.name for s in select(["nudenet"])} == {"nudenet"}  # ...unless named
    from rekognition_emulator.emulator.server.config import Config
    from rekognition_emulator.models import moderation as mod

    # Off unless the server's setting turns it on (REKOGNITION_EMULATOR_NUDENET / --nudenet).
    assert Config.resolve({}, {}).nudenet is False
    assert Config.resolve({}, {"REKOGNITION_EMULATOR_NUDENET": "1"}).nudenet is True

    def refuse():
        raise AssertionError("NudeNet was asked for without the setting")

    monkeypatch.setattr(mod, "nudenet_detector", refuse)
    assert moderation.signals(skimage.data.coffee()).nudenet == []
    moderation.detect_moderation_labels(skimage.data.coffee())
    with pytest.raises(AssertionError, match="without the setting"):
        moderation.signals(skimage.data.coffee(), nudenet=True)


def test_nudenet_when_turned_on():
    from rekognition_emulator.models import moderation as mod
    from rekognition_emulator.models.store import default_store

    if not default_store().file_for("nudenet").exists():
        pytest.skip("NudeNet is opt-in (AGPL): `rekognition-emulator models pull nudenet` first")
    parts = mod.nudenet_detector().detect(skimage.data.astronaut())
    assert [p.name for p in parts if p.score >= 0.5] == ["FACE_FEMALE"]
    sig = moderation.signals(skimage.data.coffee(), nudenet=True)
    names = {x["Name"] for x in moderation.moderation_labels(sig, min_confidence=0)}
    assert "Exposed Buttocks or Anus" not in names  # NudeNet's 0.3 there is under its 0.5


def test_nudenet_output_decoding():
    # Two candidates of one class (overlapping: one survives) and one below the threshold,
    # in the model's layout: cx, cy, w, h in 320 px input units, then 18 class scores.
    rows = np.zeros((3, 22), np.float32)
    rows[0, :4], rows[0, 4 + 5] = (100, 100, 40, 40), 0.9  # MALE_BREAST_EXPOSED
    rows[1, :4], rows[1, 4 + 5] = (102, 101, 40, 40), 0.7
    rows[2, :4], rows[2, 4 + 2] = (200, 200, 20, 20), 0.1
    parts = nudenet_module.NudeNetDetector.decode(rows, scale=2.0, width=640, height=480)
    assert [(p.name, round(p.score, 2)) for p in parts] == [("MALE_BREAST_EXPOSED", 0.9)]
    assert parts[0].box == pytest.approx((160.0, 160.0, 240.0, 240.0))


# --- hands and the middle-finger rule -------------------------------------------------------


def _hand(extended: set[str], angle_deg: float = 0.0) -> np.ndarray:
    """21 hand landmarks (x, y, z; y down) of an upright right hand, rotated by angle_deg:
    each finger straight along the hand's axis or folded into the palm."""
    pts = np.zeros((21, 3))
    pts[WRIST] = (0, 0, 0)
    for i, p in zip(
        THUMB, [(-30, -15, -5), (-48, -30, -10), (-60, -42, -12), (-68, -52, -12)], strict=True
    ):
        pts[i] = p
    for name, finger, x in (("index", INDEX, -24), ("middle", MIDDLE, -8), ("ring", RING, 8),
                            ("pinky", PINKY, 22)):  # fmt: skip
        knuckle = np.array([x, -62.0, 0.0])
        if name in extended:
            joints = [knuckle + (0, -d, 0) for d in (0, 26, 44, 58)]
        else:  # curled forward and back down into the palm
            joints = [
                knuckle,
                knuckle + (0, -14, -20),
                knuckle + (0, 2, -30),
                knuckle + (0, 14, -20),
            ]
        for i, p in zip(finger, joints, strict=True):
            pts[i] = p
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    return pts @ rot.T + (300, 300, 0)


@pytest.mark.parametrize("angle", [0, 90, 180, -35])
def test_middle_finger_rule_on_landmark_fixtures(angle):
    assert middle_finger_score(_hand({"middle"}, angle)) > 0.8
    for other in (set(), {"index", "middle", "ring", "pinky"}, {"index"}, {"index", "middle"},
                  {"middle", "ring"}, {"pinky"}):  # fmt: skip
        assert middle_finger_score(_hand(other, angle)) < 0.1, other


def test_palm_anchors_match_the_model_output():
    anchors = palm_anchors()
    assert anchors.shape == (2016, 2)
    assert anchors.min() > 0 and anchors.max() < 1


@pytest.fixture(scope="module")
def group(testdata):
    # A man with his left hand on a woman's shoulder (image right) and his right on his hip.
    return _rgb(testdata / "faces/groups/dlib_pascal__2009_004587.jpg")


def test_palms_found_and_hands_sided_as_the_person_sees_them(group):
    with palm_detector().use() as detector:
        palms = detector.detect(group)
    assert len(palms) == 2
    hands = []
    for palm in palms:
        with hand_landmarker().use() as model:
            hands.append(model.run(group, palm))
    assert all(h.presence > 0.9 for h in hands)
    by_x = sorted(hands, key=lambda h: h.landmarks[:, 0].mean())
    assert not by_x[0].is_left  # image left: his right hand
    assert by_x[1].is_left  # on her shoulder: his left
    # Open, relaxed hands are not a gesture.
    assert all(middle_finger_score(h.landmarks) < 0.1 for h in hands)


def test_pose_puts_the_nose_inside_the_face():
    rgb = skimage.data.astronaut()
    face = default_analyzer().run_detector(rgb)[0]
    x, y, w, h = face.box
    with pose_landmarker().use() as model:
        pose = model.run(rgb, (0.0, 0.0, 512.0, 512.0))
    nx, ny = pose.points[0, :2]
    assert x < nx < x + w and y < ny < y + h
    assert pose.seen(0) > 0.9 and pose.score > 0.5


def test_skin_model_knows_the_own_face_and_not_a_blue_glove():
    rgb = skimage.data.astronaut()
    face = default_analyzer().run_detector(rgb)[0]
    skin = fit_face(rgb, face.box)
    x, y, w, h = face.box
    assert skin.share(rgb, (x + 0.3 * w, y + 0.5 * h, x + 0.7 * w, y + 0.7 * h)) > 0.8
    glove = np.full((60, 60, 3), (60, 80, 200), np.uint8)
    assert skin.share(glove, (0, 0, 60, 60)) < 0.05


def test_mask_classifier_on_a_bare_and_a_masked_face():
    from rekognition_emulator.models import moderation as mod

    rgb = skimage.data.astronaut()
    face = default_analyzer().run_detector(rgb)[0]
    assert mod.face_mask().predict(rgb, [face.box])[0] < 0.1
    masked = paint_mask(rgb, face)
    assert mod.face_mask().predict(masked, [face.box])[0] > 0.6  # README: 0.72


def test_mask_classifier_calls_the_shared_faces_bare(testdata):
    # README (FACE_COVER row): at most 0.25 on 123 of the 124 faces of the shared portraits and
    # group photos; the girl in shadow under her hair in the Obama and Biden photo reads 0.91.
    from rekognition_emulator.models import moderation as mod
    from tests import groundtruth as gt

    analyzer = default_analyzer()
    scores = []
    portraits = [p for ps in gt.identities(testdata).values() for p in ps]
    for path in portraits + gt.group_photos(testdata):
        rgb = gt.read_rgb(path)
        boxes = [face.box for face in analyzer.run_detector(rgb)]
        scores += list(mod.face_mask().predict(rgb, boxes)) if boxes else []
    assert len(scores) >= 120
    assert sum(score > 0.25 for score in scores) <= 1


def paint_mask(rgb: np.ndarray, face) -> np.ndarray:
    """A light-blue surgical mask with pleats and ear loops painted from nose to chin."""
    out = rgb.copy()
    x, y, w, h = face.box
    nose_y = face.points[2][1]
    poly = np.array(
        [[x + 0.08 * w, nose_y - 0.05 * h], [x + 0.92 * w, nose_y - 0.05 * h],
         [x + 0.85 * w, y + h], [x + w / 2, y + 1.12 * h], [x + 0.15 * w, y + h]],
        np.int32,
    )  # fmt: skip
    cv2.fillConvexPoly(out, poly, (170, 210, 235))
    for k in range(3):
        yy = int(nose_y + (k + 1) * 0.1 * h)
        cv2.line(out, (int(x + 0.15 * w), yy), (int(x + 0.85 * w), yy), (140, 180, 210), 2)
    for side in (0.08, 0.92):
        ear = x + (-0.05 if side < 0.5 else 1.05) * w
        cv2.line(out, (int(x + side * w), int(nose_y - 0.05 * h)), (int(ear), int(y + 0.45 * h)),
                 (240, 240, 240), 2)  # fmt: skip
    return out


# --- the moderation rules (signals -> labels), without models ------------------------------------


def _signals(**imagenet: float) -> moderation.Signals:
    probs = np.zeros((1, 1000))
    for index, p in imagenet.items():
        probs[0, int(index.lstrip("c"))] = p
    js = {"drawing": 0.0, "hentai": 0.0, "neutral": 1.0, "porn": 0.0, "sexy": 0.0}
    return moderation.Signals(nsfwjs=js, open_nsfw=0.0, imagenet=probs)


def test_taxonomy_is_the_v7_one():
    tax = moderation.taxonomy()
    levels = [n.level for n in tax.values()]
    assert (levels.count(1), levels.count(2), levels.count(3)) == (10, 20, 22)
    assert tax["Smoking"].parent == "Drugs & Tobacco Paraphernalia & Use"
    assert tax["Drugs & Tobacco"].parent == ""


def test_a_rifle_is_a_weapon_and_violence():
    labels = moderation.moderation_labels(_signals(c764=0.5, c413=0.3))  # rifle, assault rifle
    by_name = {label["Name"]: label for label in labels}
    assert set(by_name) == {"Weapons", "Violence"}
    assert by_name["Weapons"]["ParentName"] == "Violence"
    assert by_name["Weapons"]["TaxonomyLevel"] == 2
    assert by_name["Violence"] == {
        "Confidence": pytest.approx(80.0, abs=0.01),
        "Name": "Violence",
        "ParentName": "",
        "TaxonomyLevel": 1,
    }
    assert labels[0]["Name"] == "Weapons"  # the child first, then its parent


def test_a_wine_bottle_is_an_alcoholic_beverage():
    labels = moderation.moderation_labels(_signals(c907=0.7))
    assert [(x["Name"], x["ParentName"]) for x in labels] == [
        ("Alcoholic Beverages", "Alcohol"),
        ("Alcohol", ""),
    ]


def test_min_confidence_filters_and_a_weak_cue_stays_out():
    assert moderation.moderation_labels(_signals(c720=0.3)) == []  # pill bottle 0.3
    low = moderation.moderation_labels(_signals(c720=0.3), min_confidence=20)
    assert [x["Name"] for x in low] == ["Pills", "Products", "Drugs & Tobacco"]
    assert [x["TaxonomyLevel"] for x in low] == [3, 2, 1]


def test_explicit_nudity_needs_both_classifiers():
    sig = _signals()
    sig.nsfwjs.update(porn=0.95, neutral=0.05)
    assert moderation.moderation_labels(sig) == []  # open_nsfw disagrees
    sig.open_nsfw = 0.9
    names = [x["Name"] for x in moderation.moderation_labels(sig)]
    assert names[:2] == ["Explicit Nudity", "Explicit"]
