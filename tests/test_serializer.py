"""The response serializer writes what the service model's output shape says, in its order."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging

import numpy as np
import pytest

from rekognition_emulator.emulator.server.serializer import DROPPED, serialize_output
from tests.wire import CheckedServer


def keys(body: bytes) -> list[str]:
    return list(json.loads(body))


def test_members_follow_the_models_order_whatever_the_handlers_order():
    result = {
        "LabelModelVersion": "3.0",
        "ImageProperties": {"Quality": {"Contrast": 1.5, "Sharpness": 2.5, "Brightness": 3.5}},
        "Labels": [{"Categories": [], "Confidence": 99.5, "Name": "Cat"}],
    }
    body = serialize_output("DetectLabels", result)
    assert keys(body) == ["Labels", "LabelModelVersion", "ImageProperties"]
    decoded = json.loads(body)
    assert list(decoded["Labels"][0]) == ["Name", "Confidence", "Categories"]
    assert list(decoded["ImageProperties"]["Quality"]) == ["Brightness", "Sharpness", "Contrast"]


def test_floats_are_written_as_given_and_numpy_values_as_plain_json():
    face = {
        "Confidence": np.float32(99.99961853027344),
        "BoundingBox": {"Width": 0.1, "Height": np.float64(0.2), "Left": 0, "Top": 0.5},
        "AgeRange": {"Low": np.int64(20), "High": 30},
        "Smile": {"Value": np.bool_(True), "Confidence": 88.0},
    }
    body = serialize_output("DetectFaces", {"FaceDetails": [face]})
    assert body == (
        b'{"FaceDetails":[{"BoundingBox":{"Width":0.1,"Height":0.2,"Left":0,"Top":0.5},'
        b'"AgeRange":{"Low":20,"High":30},"Smile":{"Value":true,"Confidence":88.0},'
        b'"Confidence":99.99961853027344}]}'
    )
    # numpy arrays where the model has a list
    body = serialize_output("DeleteFaces", {"DeletedFaces": np.array(["a", "b"])})
    assert json.loads(body) == {"DeletedFaces": ["a", "b"]}


def test_timestamps_are_epoch_seconds_and_blobs_base64():
    created = dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC)
    body = serialize_output(
        "DescribeCollection", {"CreationTimestamp": created, "FaceCount": 1, "UserCount": 0}
    )
    assert json.loads(body) == {"FaceCount": 1, "CreationTimestamp": 1704164645.5, "UserCount": 0}
    naive = serialize_output(
        "DescribeCollection", {"CreationTimestamp": created.replace(tzinfo=None)}
    )
    assert json.loads(naive)["CreationTimestamp"] == 1704164645.5  # naive means UTC
    body = serialize_output(
        "GetFaceLivenessSessionResults",
        {"SessionId": "s", "Status": "SUCCEEDED", "ReferenceImage": {"Bytes": b"\x00\xffjpeg"}},
    )
    assert json.loads(body)["ReferenceImage"] == {
        "Bytes": base64.b64encode(b"\x00\xffjpeg").decode()
    }


def test_maps_and_none_members():
    body = serialize_output("ListTagsForResource", {"Tags": {"team": "a", "env": "b"}})
    assert body == b'{"Tags":{"team":"a","env":"b"}}'
    # AWS never writes null: a None member is an absent one, and is not reported.
    assert serialize_output("ListCollections", {"CollectionIds": [], "NextToken": None}) == (
        b'{"CollectionIds":[]}'
    )


def test_a_member_the_model_does_not_have_is_dropped_and_reported(caplog):
    result = {
        "FaceDetails": [{"Confidence": 99.0, "Mood": "sunny"}],
        "Debug": {"ms": 12},
    }
    with caplog.at_level(logging.WARNING, logger="rekognition_emulator"):
        body = serialize_output("DetectFaces", result)
    assert body == b'{"FaceDetails":[{"Confidence":99.0}]}'
    reports = [r.getMessage() for r in caplog.records if DROPPED in r.getMessage()]
    assert any("'Debug'" in r and "DetectFacesResponse" in r for r in reports), reports
    assert any("'Mood'" in r and "FaceDetail" in r for r in reports), reports


def test_a_value_of_the_wrong_kind_is_an_error_not_a_silent_answer():
    with pytest.raises(TypeError):
        serialize_output("DetectText", {"TextDetections": [object()]})
    with pytest.raises(TypeError):
        serialize_output("DetectText", {"TextDetections": "LINE"})
    with pytest.raises(ValueError):  # JSON has no NaN
        serialize_output("DetectFaces", {"FaceDetails": [{"Confidence": float("nan")}]})


def test_a_checked_server_fails_the_test_when_its_log_reports_a_dropped_member(tmp_path):
    server = CheckedServer(data_dir=tmp_path / "data")
    server.log_path.write_text(f"WARNING DetectFaces: member 'Debug' of X is {DROPPED}\n")
    with pytest.raises(pytest.fail.Exception, match="Debug"):
        server.cleanup()
    quiet = CheckedServer(data_dir=tmp_path / "other")
    quiet.log_path.write_text("INFO DetectFaces 200 12.0ms\n")
    quiet.cleanup()
