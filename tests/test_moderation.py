"""DetectModerationLabels through boto3 against a live emulator.

Ordinary photos must come back clean at the default MinConfidence, except where a taxonomy
item is really in the picture; drawings are typed; the request's other members behave as
AWS documents. No explicit image is ever used (the explicit paths are unit-tested on signals
in test_moderation_models.py).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from botocore.exceptions import ClientError

from rekognition_emulator.handlers.analysis.moderation import taxonomy
from tests.conftest import jpeg, make_client
from tests.shape_check import validate_responses

# Photos of the shared test data in which a v7 taxonomy item really is (checked by eye): a
# woman in a one-piece swimsuit; a restaurant table with wine glasses and a beer bottle.
REALLY_THERE = {
    "objects/coco8/000000000036.jpg": {"Swimwear or Underwear", "Female Swimwear or Underwear"},
    "faces/groups/dlib_pascal__2008_002079.jpg": {"Alcohol", "Alcoholic Beverages"},
}
SKIMAGE_PHOTOS = (
    "astronaut", "camera", "chelsea", "clock", "coffee", "coins", "hubble_deep_field",
    "immunohistochemistry", "moon", "retina", "rocket", "brick", "grass", "gravel", "page",
    "text",
)  # fmt: skip


@pytest.fixture(scope="module")
def client(endpoint):
    return validate_responses(make_client("rekognition", endpoint))


def _skimage(name: str) -> np.ndarray:
    img = getattr(skimage.data, name)()
    return np.dstack([img] * 3) if img.ndim == 2 else img


def _photos(testdata) -> list[tuple[str, bytes]]:
    out = [(f"skimage:{n}", jpeg(_skimage(n))) for n in SKIMAGE_PHOTOS]
    for path in sorted(testdata.rglob("*")):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            out.append((str(path.relative_to(testdata)), path.read_bytes()))
    return out


def cartoonise(rgb: np.ndarray) -> np.ndarray:
    """A flat-shaded cartoon of a photo: smoothed, 8 colours, dark outlines."""
    smooth = rgb.copy()
    for _ in range(4):
        smooth = cv2.bilateralFilter(smooth, 9, 75, 75)
    pixels = smooth.reshape(-1, 3).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    cv2.setRNGSeed(0)
    _, labels, centres = cv2.kmeans(pixels, 8, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    flat = centres[labels.ravel()].reshape(rgb.shape).astype(np.uint8)
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
    return cv2.bitwise_and(flat, flat, mask=edges)


def line_drawing(rgb: np.ndarray) -> np.ndarray:
    """Black outlines on white paper, traced from a photo."""
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    edges = cv2.dilate(cv2.Canny(grey, 50, 150), np.ones((2, 2), np.uint8))
    return np.dstack([255 - edges] * 3)


def test_ordinary_photos_get_no_label_unless_it_is_really_there(client, testdata):
    # README (Content moderation, "Measured"): at the default MinConfidence (50) two of the
    # 120 photos get labels, both really there (swimsuit 64, alcoholic beverages 53); the
    # highest other score is 29. Asked at 20 to see those weaker scores too.
    photos = _photos(testdata)
    false_alarms, missed, found, weaker = [], [], {}, []
    for name, data in photos:
        resp = client.detect_moderation_labels(Image={"Bytes": data}, MinConfidence=20)
        assert resp["ModerationModelVersion"] == "7.0"
        labels = resp["ModerationLabels"]
        got = {label["Name"] for label in labels if label["Confidence"] >= 50}
        weaker += [label["Confidence"] for label in labels if label["Confidence"] < 50]
        found.update(
            {label["Name"]: label["Confidence"] for label in labels if label["Name"] in got}
        )
        expected = REALLY_THERE.get(name, set())
        if got - expected:
            false_alarms.append((name, sorted(got - expected)))
        if expected - got:
            missed.append((name, sorted(expected - got)))
        assert all(label["Confidence"] >= 20 for label in labels)
        assert resp["ContentTypes"] == [], (name, resp["ContentTypes"])  # photos, not drawings
    assert len(photos) >= 120
    assert false_alarms == [], f"{len(false_alarms)} false alarms in {len(photos)} photos"
    assert missed == []
    assert 60 <= found["Female Swimwear or Underwear"] <= 75
    assert 50 <= found["Alcoholic Beverages"] <= 60
    assert max(weaker) < 35


def test_parents_come_with_their_children_and_match_the_taxonomy(client, testdata):
    data = (testdata / "objects/coco8/000000000036.jpg").read_bytes()
    resp = client.detect_moderation_labels(Image={"Bytes": data}, MinConfidence=0)
    labels = resp["ModerationLabels"]
    by_name = {label["Name"]: label for label in labels}
    tax = taxonomy()
    for label in labels:
        node = tax[label["Name"]]
        assert label["ParentName"] == node.parent
        assert label["TaxonomyLevel"] == node.level
        if node.parent:
            assert by_name[node.parent]["Confidence"] >= label["Confidence"]
    assert [x["Confidence"] for x in labels] == sorted(
        (x["Confidence"] for x in labels), reverse=True
    )
    # MinConfidence 0 shows the weak evidence too; the default keeps only the swimsuit.
    assert len(labels) > 2
    default = client.detect_moderation_labels(Image={"Bytes": data})["ModerationLabels"]
    assert [x["Name"] for x in default] == ["Female Swimwear or Underwear", "Swimwear or Underwear"]
    assert default[0]["ParentName"] == "Swimwear or Underwear" and default[1]["ParentName"] == ""


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: cartoonise(skimage.data.astronaut()), "Animated"),
        (lambda: line_drawing(skimage.data.rocket()), "Illustrated"),
    ],
    ids=["cartoon astronaut", "traced rocket"],
)
def test_drawings_are_typed(client, make, expected):
    resp = client.detect_moderation_labels(Image={"Bytes": jpeg(make())})
    types = {t["Name"]: t["Confidence"] for t in resp["ContentTypes"]}
    # README: the cartoon Animated 90, the traced rocket Illustrated 99.
    assert expected in types and types[expected] >= (80 if expected == "Animated" else 95)
    assert resp["ModerationLabels"] == []


def test_human_loop_config_is_accepted_and_starts_no_review(client):
    resp = client.detect_moderation_labels(
        Image={"Bytes": jpeg(skimage.data.coffee())},
        HumanLoopConfig={
            "HumanLoopName": "review-1",
            "FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f",
            "DataAttributes": {"ContentClassifiers": ["FreeOfAdultContent"]},
        },
    )
    assert "HumanLoopArn" not in resp["HumanLoopActivationOutput"]
    plain = client.detect_moderation_labels(Image={"Bytes": jpeg(skimage.data.coffee())})
    assert "HumanLoopActivationOutput" not in plain


def test_an_adapter_that_does_not_exist_is_named(client):
    arn = "arn:aws:rekognition:us-east-1:123456789012:project/mod/version/v1/1700000000000"
    with pytest.raises(ClientError) as err:
        client.detect_moderation_labels(
            Image={"Bytes": jpeg(skimage.data.coffee())}, ProjectVersion=arn
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert arn in err.value.response["Error"]["Message"]


def test_min_confidence_out_of_range_is_a_validation_error(client):
    with pytest.raises(ClientError) as err:
        client.detect_moderation_labels(
            Image={"Bytes": jpeg(skimage.data.coffee())}, MinConfidence=101
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
