"""DetectText through boto3 against a live emulator: reading accuracy, order, shapes, filters."""

from __future__ import annotations

import difflib
import re

import botocore.exceptions
import cv2
import numpy as np
import pytest
import skimage.data

from tests.shape_check import assert_valid_response


def png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def words(text: str) -> list[str]:
    return re.findall(r"\S+", text)


def word_accuracy(truth: str, read: str) -> float:
    """Share of the true words that come out, in order (longest common subsequence)."""
    t, r = words(truth), words(read)
    matcher = difflib.SequenceMatcher(a=t, b=r, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / len(t)


def lines_of(resp: dict) -> list[dict]:
    return [d for d in resp["TextDetections"] if d["Type"] == "LINE"]


def words_of(resp: dict) -> list[dict]:
    return [d for d in resp["TextDetections"] if d["Type"] == "WORD"]


@pytest.fixture(scope="module")
def phototest(rekognition, testdata):
    data = (testdata / "text" / "tesseract__phototest.png").read_bytes()
    truth = (testdata / "text" / "tesseract__phototest.gt.txt").read_text()
    return rekognition.detect_text(Image={"Bytes": data}), truth


def test_tesseract_page_is_read_word_for_word(phototest):
    resp, truth = phototest
    assert_valid_response("DetectText", resp)
    read = "\n".join(d["DetectedText"] for d in lines_of(resp))
    assert word_accuracy(truth, read) == 1.0, read  # README: 100 % word for word


def test_lines_come_out_in_reading_order(phototest):
    resp, truth = phototest
    expected = [line.strip() for line in truth.splitlines() if line.strip()]
    got = [d["DetectedText"] for d in lines_of(resp)]
    # Each true line is matched by the read line at the same rank (word accuracy per line).
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        assert word_accuracy(want, have) >= 0.8, (want, have)
    tops = [d["Geometry"]["BoundingBox"]["Top"] for d in lines_of(resp)]
    assert tops == sorted(tops)


def test_words_point_to_their_line_and_ids_are_sequential(phototest):
    resp, _ = phototest
    dets = resp["TextDetections"]
    assert [d["Id"] for d in dets] == list(range(len(dets)))
    lines = {d["Id"]: d for d in lines_of(resp)}
    # Lines first, then words, as AWS lists them.
    assert [d["Type"] for d in dets] == ["LINE"] * len(lines) + ["WORD"] * (len(dets) - len(lines))
    for line_id, line in lines.items():
        children = [w["DetectedText"] for w in words_of(resp) if w["ParentId"] == line_id]
        assert " ".join(children) == line["DetectedText"]
        assert "ParentId" not in line
    for det in dets:
        poly = det["Geometry"]["Polygon"]
        box = det["Geometry"]["BoundingBox"]
        assert len(poly) == 4
        assert min(p["X"] for p in poly) == pytest.approx(box["Left"], abs=1e-6)
        assert det["Confidence"] >= 80


def test_upside_down_page_is_read_with_rotated_polygons(rekognition, testdata):
    data = (testdata / "text" / "tesseract__phototest-rotated-180.png").read_bytes()
    truth = (testdata / "text" / "tesseract__phototest-rotated-180.gt.txt").read_text()
    resp = rekognition.detect_text(Image={"Bytes": data})
    assert_valid_response("DetectText", resp)
    read = "\n".join(d["DetectedText"] for d in lines_of(resp))
    assert word_accuracy(truth, read) >= 0.98, read  # README: 100 %
    # The text runs right to left in the image: the polygon starts at the text's top-left,
    # which is the image's bottom-right.
    first = lines_of(resp)[0]["Geometry"]["Polygon"]
    assert first[0]["X"] > first[1]["X"] and first[0]["Y"] > first[3]["Y"]


def test_skimage_page_photo(rekognition):
    resp = rekognition.detect_text(Image={"Bytes": png(np.dstack([skimage.data.page()] * 3))})
    truth = (
        "Region-based segmentation\n"
        "Let us first determine markers of the coins and the\n"
        "background. These markers are pixels that we can label\n"
        "unambiguously as either object or background. Here,\n"
        "the markers are found at the two extreme parts of the\n"
        "histogram of grey values:\n"
        ">>> markers = np.zeros_like(coins)"
    )
    read = "\n".join(d["DetectedText"] for d in lines_of(resp))
    assert word_accuracy(truth, read) >= 0.93, read  # README: 95.7 % (45 of 47 words)
    assert resp["TextModelVersion"] == "3.0"


def _many_words_image() -> bytes:
    img = np.full((1200, 1600, 3), 255, np.uint8)
    for row in range(24):
        line = " ".join(f"word{row * 8 + k}" for k in range(8))
        cv2.putText(img, line, (20, 45 + row * 48), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 2)
    return png(img)


def test_at_most_100_words(rekognition):
    resp = rekognition.detect_text(Image={"Bytes": _many_words_image()})
    assert_valid_response("DetectText", resp)
    assert len(words_of(resp)) == 100
    parents = {w["ParentId"] for w in words_of(resp)}
    assert parents == {d["Id"] for d in lines_of(resp)}


def test_filters(rekognition, phototest, testdata):
    data = (testdata / "text" / "tesseract__phototest.png").read_bytes()
    everything, _ = phototest
    n_all = len(words_of(everything))
    # Taller than any word on the page: nothing is left.
    tall = rekognition.detect_text(
        Image={"Bytes": data}, Filters={"WordFilter": {"MinBoundingBoxHeight": 0.5}}
    )
    assert tall["TextDetections"] == []
    # Only the top third of the page (the first paragraph).
    top = rekognition.detect_text(
        Image={"Bytes": data},
        Filters={
            "RegionsOfInterest": [{"BoundingBox": {"Left": 0, "Top": 0, "Width": 1, "Height": 0.3}}]
        },
    )
    top_words = words_of(top)
    assert 0 < len(top_words) < n_all
    assert all(w["Geometry"]["BoundingBox"]["Top"] < 0.3 for w in top_words)
    # The same region as a polygon gives the same words.
    poly = rekognition.detect_text(
        Image={"Bytes": data},
        Filters={
            "RegionsOfInterest": [
                {
                    "Polygon": [
                        {"X": 0, "Y": 0},
                        {"X": 1, "Y": 0},
                        {"X": 1, "Y": 0.3},
                        {"X": 0, "Y": 0.3},
                    ]
                }
            ]
        },
    )
    assert [w["DetectedText"] for w in words_of(poly)] == [w["DetectedText"] for w in top_words]
    # A word confidence bar nothing reaches: no word is certain, so none passes it.
    none = rekognition.detect_text(
        Image={"Bytes": data}, Filters={"WordFilter": {"MinConfidence": 100}}
    )
    assert n_all > 0 and words_of(none) == []


def test_out_of_range_filter_is_rejected(rekognition, phototest, testdata):
    data = (testdata / "text" / "tesseract__phototest.png").read_bytes()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        rekognition.detect_text(
            Image={"Bytes": data}, Filters={"WordFilter": {"MinConfidence": 150}}
        )
    assert err.value.response["Error"]["Code"] in (
        "ValidationException",
        "InvalidParameterException",
    )


@pytest.mark.parametrize("photo", ["coffee", "astronaut", "chelsea"])
def test_photos_without_text_give_no_text(rekognition, photo):
    rgb = getattr(skimage.data, photo)()
    for side in (None, 320):  # small copies are enlarged for detection: the risky case
        img = rgb if side is None else cv2.resize(rgb, (side, side * rgb.shape[0] // rgb.shape[1]))
        resp = rekognition.detect_text(Image={"Bytes": png(img)})
        assert resp["TextDetections"] == [], [d["DetectedText"] for d in resp["TextDetections"]]


@pytest.mark.parametrize("turn", ["90", "270", "tilt12"])
def test_turned_and_tilted_pages_are_read_in_order(rekognition, testdata, turn):
    page = cv2.imread(str(testdata / "text" / "tesseract__phototest.png"))
    truth = (testdata / "text" / "tesseract__phototest.gt.txt").read_text()
    if turn == "90":
        img = cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE)
    elif turn == "270":
        img = cv2.rotate(page, cv2.ROTATE_90_COUNTERCLOCKWISE)
    else:
        h, w = page.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 0.85)
        img = cv2.warpAffine(page, m, (w, h), borderValue=(255, 255, 255))
    resp = rekognition.detect_text(Image={"Bytes": png(img[:, :, ::-1])})
    assert_valid_response("DetectText", resp)
    lines = [d["DetectedText"] for d in lines_of(resp)]
    assert word_accuracy(truth, "\n".join(lines)) >= 0.9, lines
    assert lines[0].startswith("This is a lot")
