"""DetectProtectiveEquipment through boto3 against a live emulator: persons, body parts,
equipment, the Summary rules, and the operation's own image limits."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import skimage.data
from botocore.exceptions import ClientError

from rekognition_emulator.models.body import hand_landmarker, palm_detector
from rekognition_emulator.models.face.analyzer import default_analyzer
from tests.conftest import jpeg, make_client
from tests.shape_check import validate_responses
from tests.test_moderation_models import paint_mask

# People visible in each photo, counted by eye (people at least a tenth of the photo tall;
# the row of Elvis figurines on a shop wall is not people).
VISIBLE_PEOPLE = {
    "faces/groups/dlib_pascal__2007_007763.jpg": 7,
    "faces/groups/dlib_pascal__2008_001009.jpg": 2,
    "faces/groups/dlib_pascal__2008_001322.jpg": 3,
    "faces/groups/dlib_pascal__2008_002079.jpg": 8,
    "faces/groups/dlib_pascal__2008_002470.jpg": 6,
    "faces/groups/dlib_pascal__2008_002506.jpg": 3,
    "faces/groups/dlib_pascal__2008_004176.jpg": 7,
    "faces/groups/dlib_pascal__2008_007676.jpg": 7,
    "faces/groups/dlib_pascal__2009_004587.jpg": 2,
    "faces/groups/face_recognition__knn_test_kit_with_rose.jpg": 2,
    "faces/groups/face_recognition__knn_test_obama_and_biden.jpg": 4,
    "faces/groups/face_recognition__two_people.jpg": 2,
    "objects/coco8/000000000036.jpg": 1,
    "objects/darknet__person.jpg": 1,
    "objects/skimage__astronaut.png": 1,
}
TYPES = ("FACE_COVER", "HAND_COVER", "HEAD_COVER")
PARTS = {
    "FACE_COVER": ("FACE",),
    "HEAD_COVER": ("HEAD",),
    "HAND_COVER": ("LEFT_HAND", "RIGHT_HAND"),
}


@pytest.fixture(scope="module")
def client(endpoint):
    return validate_responses(make_client("rekognition", endpoint))


@pytest.fixture(scope="module")
def answers(client, testdata) -> dict[str, dict]:
    out = {}
    for name in VISIBLE_PEOPLE:
        data = (testdata / name).read_bytes()
        out[name] = client.detect_protective_equipment(Image={"Bytes": data})
    return out


def _equipment(person: dict, kind: str) -> list[dict]:
    return [
        e for part in person["BodyParts"] for e in part["EquipmentDetections"] if e["Type"] == kind
    ]


def test_persons_match_the_visible_people(answers):
    # README (persons row): 57 persons for 56 people, the count exact on 14 of 15 photos.
    counts = {name: len(resp["Persons"]) for name, resp in answers.items()}
    off = {n: (c, VISIBLE_PEOPLE[n]) for n, c in counts.items() if abs(c - VISIBLE_PEOPLE[n]) > 1}
    assert off == {}, off
    assert sum(c == VISIBLE_PEOPLE[n] for n, c in counts.items()) >= 13
    assert abs(sum(counts.values()) - sum(VISIBLE_PEOPLE.values())) <= 2


def test_faces_and_hands_are_found_on_the_people(answers):
    # README (FACE and hands rows): 55 faces and 38 hands on those 15 photos.
    parts = [
        part["Name"]
        for resp in answers.values()
        for person in resp["Persons"]
        for part in person["BodyParts"]
    ]
    assert parts.count("FACE") >= 52
    assert parts.count("LEFT_HAND") + parts.count("RIGHT_HAND") >= 34


def test_persons_are_largest_first_with_ids_from_zero(answers):
    for resp in answers.values():
        persons = resp["Persons"]
        assert [p["Id"] for p in persons] == list(range(len(persons)))
        areas = [p["BoundingBox"]["Width"] * p["BoundingBox"]["Height"] for p in persons]
        assert areas == sorted(areas, reverse=True)
        assert len(persons) <= 15
        for person in persons:
            assert 50 <= person["Confidence"] <= 100
            names = [part["Name"] for part in person["BodyParts"]]
            assert len(names) == len(set(names)) and set(names) <= {
                "FACE", "HEAD", "LEFT_HAND", "RIGHT_HAND"
            }  # fmt: skip
            for part in person["BodyParts"]:
                assert part["Confidence"] >= 50
                for e in part["EquipmentDetections"]:
                    assert e["Confidence"] >= 50 and e["CoversBodyPart"]["Confidence"] >= 50


def test_nobody_bare_headed_gets_a_head_cover_and_bare_hands_are_bare(answers):
    # Nobody in these photos wears a hat, a helmet, a mask or gloves.
    worn = {
        (name, kind)
        for name, resp in answers.items()
        for person in resp["Persons"]
        for kind in TYPES
        if _equipment(person, kind)
    }
    assert worn == set()


def test_every_face_of_a_portrait_is_a_person_with_face_and_head(client):
    resp = client.detect_protective_equipment(Image={"Bytes": jpeg(skimage.data.astronaut())})
    (person,) = resp["Persons"]
    parts = {p["Name"] for p in person["BodyParts"]}
    assert {"FACE", "HEAD"} <= parts
    assert resp["ProtectiveEquipmentModelVersion"] == "1.0"
    assert "Summary" not in resp  # only asked for with SummarizationAttributes


def test_painted_equipment_is_found_on_its_body_part(client, testdata):
    rgb = skimage.data.astronaut()
    face = default_analyzer().run_detector(rgb)[0]
    masked = client.detect_protective_equipment(Image={"Bytes": jpeg(paint_mask(rgb, face))})
    (covers,) = _equipment(masked["Persons"][0], "FACE_COVER")
    assert covers["CoversBodyPart"]["Value"] is True
    box = covers["BoundingBox"]
    x, y, w, h = face.box
    # The mask's box is the lower face, inside the face's own columns.
    assert box["Top"] > y / 512 and box["Left"] >= x / 512 - 0.01

    hard_hat = paint_hard_hat(rgb, face)
    hat = client.detect_protective_equipment(Image={"Bytes": jpeg(hard_hat)})
    assert _equipment(hat["Persons"][0], "HEAD_COVER")

    gloved = paint_gloves(np.ascontiguousarray(
        cv2.imread(str(testdata / "faces/groups/dlib_pascal__2009_004587.jpg"))[:, :, ::-1]
    ))  # fmt: skip
    gloves = client.detect_protective_equipment(Image={"Bytes": jpeg(gloved)})
    assert any(_equipment(p, "HAND_COVER") for p in gloves["Persons"])


def paint_hard_hat(rgb: np.ndarray, face) -> np.ndarray:
    """A yellow hard hat (dome, brim, ridge) drawn on the head above a face."""
    out = rgb.copy()
    x, y, w, h = face.box
    cx, top = int(x + w / 2), int(y)
    cv2.ellipse(out, (cx, top + int(0.05 * h)), (int(0.65 * w), int(0.55 * h)), 0, 180, 360,
                (250, 200, 0), -1)  # fmt: skip
    cv2.ellipse(out, (cx, top + int(0.05 * h)), (int(0.85 * w), int(0.12 * h)), 0, 0, 360,
                (235, 185, 0), -1)  # fmt: skip
    cv2.line(out, (cx, top - int(0.5 * h)), (cx, top), (200, 160, 0), 6)
    return out


def paint_gloves(rgb: np.ndarray) -> np.ndarray:
    """Grey gloves: every hand the hand models find is recoloured (its chroma set to grey,
    its shading kept), fingers and palm."""
    out = rgb.copy()
    with palm_detector().use() as detector:
        palms = detector.detect(rgb)
    bones = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (9, 10), (10, 11),
             (11, 12), (13, 14), (14, 15), (15, 16), (17, 18), (18, 19), (19, 20)]  # fmt: skip
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    grey[:, :, 1:] = 128
    grey = cv2.cvtColor(grey, cv2.COLOR_YCrCb2RGB)
    for palm in palms:
        with hand_landmarker().use() as model:
            pts = model.run(rgb, palm).landmarks[:, :2].astype(np.int32)
        mask = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1)
        for a, b in bones:
            cv2.line(mask, tuple(map(int, pts[a])), tuple(map(int, pts[b])), 1, int(palm.size / 4))
        mask = cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0
        out[mask] = grey[mask]
    return out


def _expected_summary(persons: list[dict], min_conf: float, required: list[str]) -> dict:
    """AWS's rules, written out independently of the emulator's code."""
    floor = max(50.0, min_conf)
    out = {"with": [], "without": [], "indeterminate": []}
    for person in persons:
        parts = {p["Name"]: p for p in person["BodyParts"]}
        missing = unsure = person["Confidence"] < floor
        missing = False
        for kind in required:
            for name in PARTS[kind]:
                part = parts.get(name)
                if part is None or part["Confidence"] < floor:
                    unsure = True
                    continue
                items = [e for e in part["EquipmentDetections"] if e["Type"] == kind]
                if not items:
                    missing = True
                elif any(e["Confidence"] >= floor and e["CoversBodyPart"]["Confidence"] >= floor
                         and e["CoversBodyPart"]["Value"] for e in items):  # fmt: skip
                    continue
                else:
                    unsure = True
        key = "without" if missing else "indeterminate" if unsure else "with"
        out[key].append(person["Id"])
    return out


@pytest.mark.parametrize(
    "required",
    [list(c) for n in range(1, 4) for c in itertools.combinations(TYPES, n)],
    ids=lambda r: "+".join(r),
)
@pytest.mark.parametrize("min_conf", [0.0, 80.0, 99.0])
def test_summary_follows_the_detections(client, testdata, required, min_conf):
    for name in ("faces/groups/dlib_pascal__2009_004587.jpg", "objects/skimage__astronaut.png"):
        resp = client.detect_protective_equipment(
            Image={"Bytes": (testdata / name).read_bytes()},
            SummarizationAttributes={"MinConfidence": min_conf, "RequiredEquipmentTypes": required},
        )
        want = _expected_summary(resp["Persons"], min_conf, required)
        summary = resp["Summary"]
        assert summary["PersonsWithRequiredEquipment"] == want["with"]
        assert summary["PersonsWithoutRequiredEquipment"] == want["without"]
        assert summary["PersonsIndeterminate"] == want["indeterminate"]
        ids = sorted(sum(summary.values(), []))
        assert ids == [p["Id"] for p in resp["Persons"]]  # each person in exactly one list


def test_summary_with_equipment_worn(client):
    rgb = skimage.data.astronaut()
    face = default_analyzer().run_detector(rgb)[0]
    resp = client.detect_protective_equipment(
        Image={"Bytes": jpeg(paint_mask(rgb, face))},
        SummarizationAttributes={"MinConfidence": 60, "RequiredEquipmentTypes": ["FACE_COVER"]},
    )
    assert resp["Summary"]["PersonsWithRequiredEquipment"] == [0]
    bare = client.detect_protective_equipment(
        Image={"Bytes": jpeg(rgb)},
        SummarizationAttributes={"MinConfidence": 60, "RequiredEquipmentTypes": ["FACE_COVER"]},
    )
    assert bare["Summary"]["PersonsWithoutRequiredEquipment"] == [0]


def test_image_limits_of_the_operation(client):
    small = cv2.resize(skimage.data.astronaut(), (70, 70), interpolation=cv2.INTER_AREA)
    client.detect_protective_equipment(Image={"Bytes": jpeg(small)})  # 64 px is the minimum
    with pytest.raises(ClientError) as err:
        client.detect_protective_equipment(Image={"Bytes": jpeg(small[:60, :60])})
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    big = np.zeros((64, 4100, 3), np.uint8)
    with pytest.raises(ClientError) as err:
        client.detect_protective_equipment(Image={"Bytes": jpeg(big)})
    assert err.value.response["Error"]["Code"] == "ImageTooLargeException"
    noise = np.random.default_rng(0).integers(0, 256, (1300, 1300, 3), np.uint8)
    heavy = cv2.imencode(".png", noise)[1].tobytes()
    assert 4 * 1024 * 1024 < len(heavy) <= 5 * 1024 * 1024
    with pytest.raises(ClientError) as err:
        client.detect_protective_equipment(Image={"Bytes": heavy})
    assert err.value.response["Error"]["Code"] == "ImageTooLargeException"
