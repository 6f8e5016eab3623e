"""The checker and the derived requests are themselves tested: a contract suite that cannot
see a wrong type, an unknown member or a bad enum would pass anything."""

from __future__ import annotations

import botocore.session
import pytest

from rekognition_emulator.conformance.derive import minimal_input, valid_string, violations
from rekognition_emulator.conformance.shapes import check_output, matches_pattern

MODEL = botocore.session.get_session().get_service_model("rekognition")
DETECT_FACES = MODEL.operation_model("DetectFaces").output_shape
DESCRIBE = MODEL.operation_model("DescribeCollection").output_shape
LIST_TAGS = MODEL.operation_model("ListTagsForResource").output_shape
IMAGE = b"\xff\xd8\xff" + b"0" * 100


def good_face() -> dict:
    return {
        "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.1},
        "Confidence": 99.9,
        "Pose": {"Roll": 1.5, "Yaw": -2, "Pitch": 3.0},
        "Quality": {"Brightness": 50.0, "Sharpness": 60.0},
        "Landmarks": [{"Type": "eyeLeft", "X": 0.4, "Y": 0.2}],
        "Emotions": [{"Type": "HAPPY", "Confidence": 90.0}],
        "AgeRange": {"Low": 20, "High": 30},
    }


def test_a_conforming_response_passes() -> None:
    assert check_output({"FaceDetails": [good_face()]}, DETECT_FACES) == []
    assert check_output({}, DETECT_FACES) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda f: f.update(Confidence="99"), "FaceDetails[0].Confidence: expected a number"),
        (lambda f: f.update(Extra=1), "FaceDetail has no member 'Extra'"),
        (lambda f: f["Emotions"][0].update(Type="JOYFUL"), "'JOYFUL' is not in the enum"),
        (lambda f: f.update(Confidence=100.5), "above the maximum 100"),
        (lambda f: f["AgeRange"].update(Low=20.0), "AgeRange.Low: expected an integer"),
        (lambda f: f["AgeRange"].update(Low=True), "AgeRange.Low: expected an integer"),
        (lambda f: f.update(Landmarks={"Type": "eyeLeft"}), "Landmarks: expected an array"),
        (lambda f: f.update(Pose=None), "Pose: is null"),
        (lambda f: f["Pose"].update(Yaw=float("nan")), "not a finite number"),
    ],
)
def test_each_departure_from_the_model_is_named(mutate, expected: str) -> None:
    face = good_face()
    mutate(face)
    problems = check_output({"FaceDetails": [face]}, DETECT_FACES)
    assert any(expected in p for p in problems), problems


def test_timestamps_are_epoch_numbers_on_the_wire_and_may_be_text_once_parsed() -> None:
    body = {"FaceCount": 0, "CreationTimestamp": 1_700_000_000.5}
    assert check_output(body, DESCRIBE) == []
    text = {**body, "CreationTimestamp": "2023-11-14T22:13:20+00:00"}
    assert any("epoch seconds" in p for p in check_output(text, DESCRIBE, "wire"))
    assert check_output(text, DESCRIBE, "parsed") == []
    millis = {**body, "CreationTimestamp": 1_700_000_000_000}
    assert any("between 2000 and 2100" in p for p in check_output(millis, DESCRIBE))


def test_maps_check_keys_and_values() -> None:
    assert check_output({"Tags": {"team": "x"}}, LIST_TAGS) == []
    problems = check_output({"Tags": {"team": 5}}, LIST_TAGS)
    assert any("expected a string" in p for p in problems), problems


def test_required_members_and_empty_outputs() -> None:
    liveness = MODEL.operation_model("CreateFaceLivenessSession").output_shape
    assert any("required member" in p for p in check_output({}, liveness))
    assert check_output({}, None) == []
    assert check_output({"A": 1}, None) != []


def _string_shapes_with_patterns():
    seen = {}
    for op in MODEL.operation_names:
        stack = [MODEL.operation_model(op).input_shape]
        while stack:
            shape = stack.pop()
            if shape is None or shape.name in seen:
                continue
            seen[shape.name] = shape
            if shape.type_name == "structure":
                stack += list(shape.members.values())
            elif shape.type_name == "list":
                stack.append(shape.member)
            elif shape.type_name == "map":
                stack += [shape.key, shape.value]
    return [s for s in seen.values() if s.type_name == "string" and s.metadata.get("pattern")]


@pytest.mark.parametrize("shape", _string_shapes_with_patterns(), ids=lambda s: s.name)
def test_derived_strings_satisfy_every_input_pattern(shape) -> None:
    value = valid_string(shape)
    meta = shape.metadata
    assert meta.get("min", 0) <= len(value) <= meta.get("max", 10**9)
    if value:
        assert matches_pattern(value, meta["pattern"]) is not False


@pytest.mark.parametrize("operation", sorted(MODEL.operation_names))
def test_derived_violations_break_exactly_the_named_constraint(operation: str) -> None:
    op = MODEL.operation_model(operation)
    base = minimal_input(op.input_shape, IMAGE)
    for violation in violations(op, IMAGE):
        params = violation.apply(base)
        node = params
        for name in violation.members[:-1]:
            node = node[name]
        value = node[violation.members[-1]]
        assert value == violation.value
        if violation.kind == "pattern":
            pattern = violation.constraint.split("pattern ", 1)[1].rsplit(" of ", 1)[0]
            assert matches_pattern(value, pattern) is False
