"""DetectFaces through boto3 against a live emulator: shapes, attributes, determinism."""

from __future__ import annotations

import botocore.session
import pytest
import skimage.data
from botocore.exceptions import ClientError

from tests.conftest import jpeg
from tests.shape_check import assert_valid_response


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return jpeg(skimage.data.astronaut())


@pytest.fixture(scope="module")
def service_model():
    return botocore.session.get_session().get_service_model("rekognition")


@pytest.fixture(scope="module")
def astronaut_all(rekognition, astronaut):
    return rekognition.detect_faces(Image={"Bytes": astronaut}, Attributes=["ALL"])


def test_astronaut_all_attributes(astronaut_all):
    assert_valid_response("DetectFaces", astronaut_all)
    faces = astronaut_all["FaceDetails"]
    assert len(faces) == 1
    face = faces[0]
    assert face["Gender"]["Value"] == "Female"
    assert face["Smile"]["Value"] is True
    assert face["EyesOpen"]["Value"] is True
    assert face["Emotions"][0]["Type"] == "HAPPY"
    assert len(face["Landmarks"]) == 30
    assert face["Confidence"] > 99
    # An adult woman reads as an adult, within a range a person would find useful.
    low, high = face["AgeRange"]["Low"], face["AgeRange"]["High"]
    assert 18 <= low and high <= 70 and 4 <= high - low <= 20
    assert 0 < face["BoundingBox"]["Left"] < 1 and 0 < face["BoundingBox"]["Width"] < 1
    assert face["Sunglasses"]["Value"] is False and face["Eyeglasses"]["Value"] is False


def test_every_enum_value_is_the_service_models(astronaut_all, service_model):
    face = astronaut_all["FaceDetails"][0]
    landmark_types = service_model.shape_for("LandmarkType").enum
    assert [lm["Type"] for lm in face["Landmarks"]] == landmark_types  # all 30, model order
    emotions = {e["Type"] for e in face["Emotions"]}
    assert emotions <= set(service_model.shape_for("EmotionName").enum)
    assert len(emotions) == 8 and "UNKNOWN" not in emotions
    assert abs(sum(e["Confidence"] for e in face["Emotions"]) - 100) < 0.1
    detail = service_model.shape_for("FaceDetail").members
    assert set(face) == set(detail)  # ALL returns every FaceDetail member
    assert set(face["Pose"]) == set(service_model.shape_for("Pose").members)
    assert set(face["Quality"]) == set(service_model.shape_for("ImageQuality").members)


def test_default_attributes(rekognition, astronaut):
    resp = rekognition.detect_faces(Image={"Bytes": astronaut})
    assert_valid_response("DetectFaces", resp)
    face = resp["FaceDetails"][0]
    assert set(face) == {"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"}
    assert [lm["Type"] for lm in face["Landmarks"]] == [
        "eyeLeft",
        "eyeRight",
        "nose",
        "mouthLeft",
        "mouthRight",
    ]
    explicit = rekognition.detect_faces(Image={"Bytes": astronaut}, Attributes=["DEFAULT"])
    assert explicit["FaceDetails"] == resp["FaceDetails"]


def test_named_attributes_add_to_the_default(rekognition, astronaut):
    resp = rekognition.detect_faces(
        Image={"Bytes": astronaut}, Attributes=["EMOTIONS", "FACE_OCCLUDED"]
    )
    face = resp["FaceDetails"][0]
    assert set(face) == {
        "BoundingBox",
        "Landmarks",
        "Pose",
        "Quality",
        "Confidence",
        "Emotions",
        "FaceOccluded",
    }
    assert len(face["Landmarks"]) == 5


def test_same_bytes_same_response(rekognition, astronaut, astronaut_all):
    again = rekognition.detect_faces(Image={"Bytes": astronaut}, Attributes=["ALL"])
    assert again["FaceDetails"] == astronaut_all["FaceDetails"]


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_no_face_gives_an_empty_list(rekognition, name):
    resp = rekognition.detect_faces(Image={"Bytes": jpeg(getattr(skimage.data, name)())})
    assert_valid_response("DetectFaces", resp)
    assert resp["FaceDetails"] == []


def test_faces_are_sorted_largest_first(rekognition, testdata):
    data = (testdata / "faces" / "groups" / "dlib_pascal__2008_007676.jpg").read_bytes()
    faces = rekognition.detect_faces(Image={"Bytes": data})["FaceDetails"]
    assert len(faces) >= 5
    areas = [f["BoundingBox"]["Width"] * f["BoundingBox"]["Height"] for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_image_from_the_embedded_s3(rekognition, s3, astronaut, astronaut_all):
    s3.create_bucket(Bucket="faces-test")
    s3.put_object(Bucket="faces-test", Key="a.jpg", Body=astronaut)
    resp = rekognition.detect_faces(
        Image={"S3Object": {"Bucket": "faces-test", "Name": "a.jpg"}}, Attributes=["ALL"]
    )
    assert resp["FaceDetails"] == astronaut_all["FaceDetails"]


def test_bad_image_is_refused(rekognition):
    with pytest.raises(ClientError) as err:
        rekognition.detect_faces(Image={"Bytes": b"not an image at all"})
    assert err.value.response["Error"]["Code"] == "InvalidImageFormatException"
