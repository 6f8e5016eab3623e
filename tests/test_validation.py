"""Input validation against the service model, in AWS's message form, on a live server.

Validation runs before dispatch, so these hold whether or not an operation is implemented.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.service_model import service_model
from rekognition_emulator.emulator.server.validation import _Walker, validate_input
from tests.shape_check import ShapeProblems, assert_valid_response, response_problems
from tests.test_protocol import assert_error_reply, aws_cli
from tests.wire import call

FACE_ID = "11111111-2222-3333-4444-555555555555"
UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ATTRIBUTES = (
    "DEFAULT, ALL, AGE_RANGE, BEARD, EMOTIONS, EYE_DIRECTION, EYEGLASSES, EYES_OPEN, GENDER, "
    "MOUTH_OPEN, MUSTACHE, FACE_OCCLUDED, SMILE, SUNGLASSES"
)


def one(value: str, path: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value {value} at '{path}' failed to satisfy "
        f"constraint: {constraint}"
    )


def validation_message(endpoint: str, operation: str, body) -> str:
    reply = call(endpoint, operation, body)
    return assert_error_reply(reply, 400, "ValidationException")["message"]


# -- the exact messages, over the wire ----------------------------------------------------
CASES = [
    pytest.param(
        "CreateCollection",
        {"CollectionId": "bad id!"},
        one(
            "'bad id!'",
            "collectionId",
            r"Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]+",
        ),
        id="pattern",
    ),
    pytest.param(
        "CreateCollection",
        {"CollectionId": "a" * 256},
        one(f"'{'a' * 256}'", "collectionId", "Member must have length less than or equal to 255"),
        id="max-length",
    ),
    pytest.param(
        "CreateCollection",
        {"CollectionId": ""},
        one("''", "collectionId", "Member must have length greater than or equal to 1"),
        id="min-length",
    ),
    pytest.param(
        "ListCollections",
        {"MaxResults": 5000},
        one("'5000'", "maxResults", "Member must have value less than or equal to 4096"),
        id="max-value",
    ),
    pytest.param(
        "IndexFaces",
        {"CollectionId": "c", "Image": {"Bytes": "aGVsbG8="}, "MaxFaces": 0},
        one("'0'", "maxFaces", "Member must have value greater than or equal to 1"),
        id="min-value",
    ),
    pytest.param(
        "SearchFaces",
        {"CollectionId": "c", "FaceId": FACE_ID, "FaceMatchThreshold": 100.5},
        one("'100.5'", "faceMatchThreshold", "Member must have value less than or equal to 100"),
        id="float-range",
    ),
    pytest.param(
        "SearchFaces",
        {"CollectionId": "c", "FaceId": FACE_ID, "FaceMatchThreshold": 150},
        one("'150.0'", "faceMatchThreshold", "Member must have value less than or equal to 100"),
        id="float-given-as-integer",
    ),
    pytest.param(
        "CompareFaces",
        {
            "SourceImage": {"Bytes": "aGVsbG8="},
            "TargetImage": {"Bytes": "aGVsbG8="},
            "QualityFilter": "BEST",
        },
        one(
            "'BEST'",
            "qualityFilter",
            "Member must satisfy enum value set: [NONE, AUTO, LOW, MEDIUM, HIGH]",
        ),
        id="enum",
    ),
    pytest.param(
        "CreateCollection",
        {},
        one("null", "collectionId", "Member must not be null"),
        id="required",
    ),
    pytest.param(
        "CreateCollection",
        {"CollectionId": None},
        one("null", "collectionId", "Member must not be null"),
        id="required-given-null",
    ),
    pytest.param(
        "DetectFaces",
        {"Image": {"S3Object": {"Bucket": "no spaces allowed", "Name": "k"}}},
        one(
            "'no spaces allowed'",
            "image.s3Object.bucket",
            r"Member must satisfy regular expression pattern: [0-9A-Za-z\.\-_]*",
        ),
        id="nested-path",
    ),
    pytest.param(
        "DetectFaces",
        {"Image": {"Bytes": "aGVsbG8="}, "Attributes": ["ALL", "NOSE"]},
        one(
            "'[ALL, NOSE]'",
            "attributes",
            f"Member must satisfy constraint: [Member must satisfy enum value set: [{ATTRIBUTES}]]",
        ),
        id="list-of-enums",
    ),
    pytest.param(
        "DeleteFaces",
        {"CollectionId": "c", "FaceIds": [FACE_ID, "not-a-uuid"]},
        one(
            f"'[{FACE_ID}, not-a-uuid]'",
            "faceIds",
            f"Member must satisfy constraint: [Member must satisfy regular expression pattern: "
            f"{UUID_PATTERN}]",
        ),
        id="list-of-patterns",
    ),
    pytest.param(
        "DeleteFaces",
        {"CollectionId": "c", "FaceIds": []},
        one("'[]'", "faceIds", "Member must have length greater than or equal to 1"),
        id="list-length",
    ),
    pytest.param(
        "TagResource",
        {"ResourceArn": "arn:aws:rekognition:x", "Tags": {"aws:reserved": "v"}},
        one(
            "'{aws:reserved=v}'",
            "tags",
            "Map keys must satisfy constraint: [Member must have length less than or equal to "
            "128, Member must have length greater than or equal to 1, Member must satisfy "
            r"regular expression pattern: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]*$]",
        ),
        id="map-keys",
    ),
    pytest.param(
        "TagResource",
        {"ResourceArn": "arn:aws:rekognition:x", "Tags": {"k": "v" * 257}},
        one(
            f"'{{k={'v' * 257}}}'",
            "tags",
            "Map value must satisfy constraint: [Member must have length less than or equal to "
            "256, Member must have length greater than or equal to 0, Member must satisfy "
            r"regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$]",
        ),
        id="map-values",
    ),
    pytest.param(
        "DetectFaces",
        {"Image": {"Bytes": ""}},
        one(
            "'java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]'",
            "image.bytes",
            "Member must have length greater than or equal to 1",
        ),
        id="empty-blob",
    ),
]


@pytest.mark.parametrize("operation, body, message", CASES)
def test_message(endpoint, operation, body, message):
    assert validation_message(endpoint, operation, body) == message


def test_blob_too_large_through_boto3(rekognition):
    n = 5 * 1024 * 1024 + 1
    with pytest.raises(ClientError) as info:
        rekognition.detect_faces(Image={"Bytes": b"\xff\xd8\xff" + b"\0" * (n - 3)})
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == one(
        f"'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]'",
        "image.bytes",
        "Member must have length less than or equal to 5242880",
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_blob_at_the_limit_passes_validation(endpoint):
    data = base64.b64encode(b"\0" * (5 * 1024 * 1024)).decode()
    reply = call(endpoint, "DetectFaces", {"Image": {"Bytes": data}})
    assert reply.error_type != "ValidationException", reply


def test_several_errors_at_once(endpoint):
    message = validation_message(
        endpoint,
        "IndexFaces",
        {
            "CollectionId": "bad id!",
            "Image": {"Bytes": "aGVsbG8="},
            "ExternalImageId": "has space",
            "MaxFaces": 0,
            "QualityFilter": "SOMETIMES",
        },
    )
    prefix = "4 validation errors detected: "
    assert message.startswith(prefix)
    parts = message[len(prefix) :].split("; ")
    assert sorted(parts) == sorted(
        [
            "Value 'bad id!' at 'collectionId' failed to satisfy constraint: Member must satisfy "
            r"regular expression pattern: [a-zA-Z0-9_.\-]+",
            "Value 'has space' at 'externalImageId' failed to satisfy constraint: Member must "
            r"satisfy regular expression pattern: [a-zA-Z0-9_.\-:]+",
            "Value '0' at 'maxFaces' failed to satisfy constraint: Member must have value "
            "greater than or equal to 1",
            "Value 'SOMETIMES' at 'qualityFilter' failed to satisfy constraint: Member must "
            "satisfy enum value set: [NONE, AUTO, LOW, MEDIUM, HIGH]",
        ]
    )


def test_missing_member_and_bad_member_together(endpoint):
    message = validation_message(endpoint, "SearchFaces", {"CollectionId": "bad id!"})
    assert message.startswith("2 validation errors detected: ")
    assert "Value null at 'faceId' failed to satisfy constraint: Member must not be null" in message
    assert "Value 'bad id!' at 'collectionId'" in message


def test_boto3_surfaces_the_message(rekognition):
    with pytest.raises(ClientError) as info:
        rekognition.create_collection(CollectionId="bad id!")
    assert info.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": CASES[0].values[2],
    }


def test_cli_surfaces_the_message(endpoint):
    result = aws_cli(endpoint, "rekognition", "create-collection", "--collection-id", "bad id!")
    assert result.returncode != 0
    assert "ValidationException" in result.stderr
    assert CASES[0].values[2] in result.stderr


def test_unknown_members_are_ignored(endpoint):
    # AWS's JSON protocol skips members it does not model; the request goes on to dispatch.
    reply = call(endpoint, "CreateCollection", {"CollectionId": "bad id!", "Bogus": {"x": 1}})
    assert reply.json["message"] == CASES[0].values[2]


# -- validate_input, in process -----------------------------------------------------------
def test_blobs_are_decoded():
    params = validate_input("DetectFaces", {"Image": {"Bytes": base64.b64encode(b"xyz").decode()}})
    assert params["Image"]["Bytes"] == b"xyz"


def test_timestamps_accept_epoch_seconds_and_iso():
    shape = service_model().shape_for("DateTime")
    walker = _Walker()
    assert walker.check(0, shape, "t") == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert walker.check("2024-01-02T03:04:05Z", shape, "t") == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC
    )
    with pytest.raises(errors.SerializationException):
        walker.check("yesterday", shape, "t")


def test_integral_floats_are_integers():
    assert validate_input("ListCollections", {"MaxResults": 10.0}) == {"MaxResults": 10}


def test_nulls_are_absent():
    assert validate_input("ListCollections", {"MaxResults": None, "NextToken": None}) == {}


# -- the output checker other tests rely on -----------------------------------------------
def test_shape_check_accepts_a_real_shaped_response():
    response = {
        "FaceDetails": [
            {
                "BoundingBox": {"Width": 0.5, "Height": 0.25, "Left": -0.1, "Top": 1.2},
                "Confidence": 99.9,
                "Pose": {"Roll": -10, "Yaw": 3.5, "Pitch": 0.0},
                "Landmarks": [{"Type": "eyeLeft", "X": 0.1, "Y": 0.2}],
                "Emotions": [{"Type": "HAPPY", "Confidence": 100}],
            }
        ],
        "ResponseMetadata": {"RequestId": "x", "HTTPStatusCode": 200},
    }
    assert response_problems("DetectFaces", response) == []
    raw = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert response_problems("DetectFaces", raw, raw=True) == []


@pytest.mark.parametrize(
    "operation, response, expected",
    [
        ("DetectFaces", {"FaceDetails": [{"Confidence": 101}]}, "above the maximum"),
        ("DetectFaces", {"FaceDetails": [{"Confidence": "99"}]}, "expected a number"),
        ("DetectFaces", {"FaceDetails": [{"Landmarks": [{"Type": "nose2"}]}]}, "not in the enum"),
        ("DetectFaces", {"FaceDetails": [{"Smile": {"Value": 1}}]}, "expected a boolean"),
        ("DetectFaces", {"FaceDetails": {}}, "expected an array"),
        ("DetectFaces", {"Faces": []}, "has no member 'Faces'"),
        ("ListCollections", {"CollectionIds": ["bad id!"]}, "does not match the pattern"),
        ("DescribeCollection", {"FaceCount": True}, "expected an integer"),
        ("DescribeCollection", {"CreationTimestamp": "2024-01-01"}, "expected a timestamp"),
        ("CreateFaceLivenessSession", {}, "required member"),
        ("IndexFaces", {"FaceRecords": [{"Face": {"FaceId": "nope"}}]}, "pattern"),
    ],
)
def test_shape_check_finds_misfits(operation, response, expected):
    problems = response_problems(operation, response)
    assert any(expected in p for p in problems), problems
    with pytest.raises(ShapeProblems):
        assert_valid_response(operation, response)


def test_shape_check_raw_mode():
    assert response_problems("DescribeCollection", {"CreationTimestamp": 1.7e9}, raw=True) == []
    problems = response_problems("DetectFaces", {"OrientationCorrection": None}, raw=True)
    assert problems and "null" in problems[0]
    problems = response_problems("DescribeCollection", {"CreationTimestamp": "x"}, raw=True)
    assert "epoch seconds" in problems[0]
    problems = response_problems(
        "GetFaceLivenessSessionResults",
        {"SessionId": FACE_ID, "Status": "SUCCEEDED", "ReferenceImage": {"Bytes": "!!"}},
        raw=True,
    )
    assert "base64" in problems[0]
