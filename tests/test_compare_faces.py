"""CompareFaces through boto3 against a live emulator."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from botocore.exceptions import ClientError

from tests.conftest import jpeg
from tests.shape_check import assert_valid_response


def identity(testdata, name: str, index: int = 0) -> bytes:
    return sorted((testdata / "faces" / "identities" / name).glob("*"))[index].read_bytes()


def test_same_person_in_two_photos_matches(rekognition, testdata):
    resp = rekognition.compare_faces(
        SourceImage={"Bytes": identity(testdata, "Barack_Obama", 1)},
        TargetImage={"Bytes": identity(testdata, "Barack_Obama", 2)},
    )
    assert_valid_response("CompareFaces", resp)
    assert len(resp["FaceMatches"]) == 1 and resp["UnmatchedFaces"] == []
    assert resp["FaceMatches"][0]["Similarity"] > 90
    face = resp["FaceMatches"][0]["Face"]
    assert set(face) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    assert set(resp["SourceImageFace"]) == {"BoundingBox", "Confidence"}


def test_finds_the_person_in_a_group_photo(rekognition, testdata):
    group = (
        testdata / "faces" / "groups" / "face_recognition__knn_test_obama_and_biden.jpg"
    ).read_bytes()
    resp = rekognition.compare_faces(
        SourceImage={"Bytes": identity(testdata, "Joe_Biden")}, TargetImage={"Bytes": group}
    )
    assert_valid_response("CompareFaces", resp)
    assert len(resp["FaceMatches"]) == 1
    assert len(resp["UnmatchedFaces"]) >= 1


def test_different_people_do_not_match(rekognition, testdata):
    resp = rekognition.compare_faces(
        SourceImage={"Bytes": identity(testdata, "Rose_Leslie")},
        TargetImage={"Bytes": identity(testdata, "Kit_Harington")},
    )
    assert resp["FaceMatches"] == []
    assert len(resp["UnmatchedFaces"]) == 1


def test_threshold_decides_match_or_unmatched(rekognition):
    img = jpeg(skimage.data.astronaut())
    mirrored = jpeg(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1]))
    resp = rekognition.compare_faces(SourceImage={"Bytes": img}, TargetImage={"Bytes": mirrored})
    assert_valid_response("CompareFaces", resp)
    score = resp["FaceMatches"][0]["Similarity"]
    assert score > 95
    strict = rekognition.compare_faces(
        SourceImage={"Bytes": img}, TargetImage={"Bytes": mirrored}, SimilarityThreshold=100
    )
    assert strict["FaceMatches"] == [] and len(strict["UnmatchedFaces"]) == 1


def test_same_bytes_same_response(rekognition):
    img = jpeg(skimage.data.astronaut())
    a = rekognition.compare_faces(SourceImage={"Bytes": img}, TargetImage={"Bytes": img})
    b = rekognition.compare_faces(SourceImage={"Bytes": img}, TargetImage={"Bytes": img})
    a.pop("ResponseMetadata"), b.pop("ResponseMetadata")
    assert a == b
    assert a["FaceMatches"][0]["Similarity"] > 99


@pytest.mark.parametrize("side", ["SourceImage", "TargetImage"])
def test_no_face_is_an_invalid_parameter(rekognition, side):
    face, empty = jpeg(skimage.data.astronaut()), jpeg(skimage.data.coffee())
    images = {"SourceImage": {"Bytes": face}, "TargetImage": {"Bytes": face}}
    images[side] = {"Bytes": empty}
    with pytest.raises(ClientError) as err:
        rekognition.compare_faces(**images)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_quality_filter_high_drops_a_blurred_target(rekognition):
    img = jpeg(skimage.data.astronaut())
    blurred = jpeg(cv2.GaussianBlur(skimage.data.astronaut(), (0, 0), 4))
    none = rekognition.compare_faces(SourceImage={"Bytes": img}, TargetImage={"Bytes": blurred})
    assert len(none["FaceMatches"]) + len(none["UnmatchedFaces"]) == 1
    high = rekognition.compare_faces(
        SourceImage={"Bytes": img}, TargetImage={"Bytes": blurred}, QualityFilter="HIGH"
    )
    assert high["FaceMatches"] == [] and high["UnmatchedFaces"] == []
