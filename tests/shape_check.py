"""Check a Rekognition response against its operation's output shape in the botocore model.

    from tests.shape_check import assert_valid_response, validate_responses

    resp = rekognition.detect_faces(Image=...)
    assert_valid_response("DetectFaces", resp)            # the dict boto3 returned

    validate_responses(rekognition)                        # or: check every call's raw body
    rekognition.list_collections()                         # raises AssertionError if off-shape

What is checked, recursively: the JSON type of every member (structure, list, map, string,
integer/long, float/double, boolean, timestamp, blob), enum values, required members,
string/blob/list/map lengths, numeric ranges and string patterns as the model states them,
and no member the model does not know.

Two modes:
- boto3 (default): the dict a boto3 call returns. Timestamps are datetimes, blobs bytes;
  `ResponseMetadata` is ignored. boto3's parser silently DROPS members it does not know and
  null values, so this mode cannot see those: use `raw=True` (or `validate_responses`) to
  catch them.
- raw (`raw=True`): the JSON body as sent on the wire. Timestamps are epoch seconds (numbers),
  blobs base64 strings, and a `null` anywhere is a problem (AWS omits absent members).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape

__all__ = [
    "ShapeProblems",
    "assert_valid_response",
    "response_problems",
    "validate_responses",
]

SERVICE = "rekognition"


class ShapeProblems(AssertionError):
    """A response that does not fit its output shape; `problems` lists every misfit."""

    def __init__(self, operation: str, problems: list[str]) -> None:
        self.operation = operation
        self.problems = problems
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"{operation} response does not match the service model ({len(problems)} "
            f"problem{'s' if len(problems) != 1 else ''}):\n  {shown}{more}"
        )


@cache
def _operation_model(service: str, operation: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation)


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    # The model's patterns are Java regexes; map the Unicode classes Python's re lacks.
    translated = pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\d").replace(r"\p{Z}", r"\s")
    try:
        return re.compile(translated)
    except re.error:
        return None


class _Checker:
    def __init__(self, raw: bool) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def problem(self, path: str, text: str) -> None:
        self.problems.append(f"{path or '<response>'}: {text}")

    def check(self, value: Any, shape: Shape, path: str) -> None:
        if value is None:
            if self.raw:
                self.problem(path, "null (AWS omits absent members instead of sending null)")
            return
        getattr(self, f"_{shape.type_name}", self._unknown)(value, shape, path)

    def _unknown(self, value: Any, shape: Shape, path: str) -> None:
        self.problem(path, f"shape {shape.name} has unsupported type {shape.type_name}")

    # -- aggregates ----------------------------------------------------------------------
    def _structure(self, value: Any, shape: Shape, path: str, top: bool = False) -> None:
        if not isinstance(value, dict):
            self.problem(path, f"expected an object ({shape.name}), got {_kind(value)}")
            return
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                self.problem(_join(path, name), f"required member of {shape.name} is missing")
        for name, member_value in value.items():
            if top and name == "ResponseMetadata" and not self.raw:
                continue
            member = members.get(name)
            if member is None:
                self.problem(_join(path, name), f"not a member of {shape.name}")
                continue
            self.check(member_value, member, _join(path, name))

    def _list(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, list):
            self.problem(path, f"expected a list ({shape.name}), got {_kind(value)}")
            return
        self._length(len(value), shape, path)
        for i, item in enumerate(value):
            self.check(item, shape.member, f"{path}[{i}]")

    def _map(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a map ({shape.name}), got {_kind(value)}")
            return
        self._length(len(value), shape, path)
        for key, item in value.items():
            self.check(key, shape.key, f"{path}{{key {key!r}}}")
            self.check(item, shape.value, f"{path}[{key!r}]")

    # -- scalars -------------------------------------------------------------------------
    def _string(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, str):
            self.problem(path, f"expected a string ({shape.name}), got {_kind(value)}")
            return
        if shape.enum:
            if value not in shape.enum:
                self.problem(path, f"{value!r} is not in the enum {shape.name} {shape.enum}")
            return
        self._length(len(value), shape, path)
        pattern = shape.metadata.get("pattern")
        if pattern and value:
            compiled = _pattern(pattern)
            if compiled is not None and not compiled.fullmatch(value):
                self.problem(path, f"{value!r} does not match the pattern {pattern}")

    def _blob(self, value: Any, shape: Shape, path: str) -> None:
        if self.raw:
            if not isinstance(value, str):
                self.problem(path, f"expected a base64 string (blob), got {_kind(value)}")
                return
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                self.problem(path, "blob is not valid base64")
                return
        else:
            if not isinstance(value, bytes | bytearray):
                read = getattr(value, "read", None)  # a StreamingBody is fine as it is
                if read is None:
                    self.problem(path, f"expected bytes (blob), got {_kind(value)}")
                return
            data = bytes(value)
        self._length(len(data), shape, path)

    def _integer(self, value: Any, shape: Shape, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer ({shape.name}), got {_kind(value)}")
            return
        self._range(value, shape, path)

    _long = _integer

    def _float(self, value: Any, shape: Shape, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a number ({shape.name}), got {_kind(value)}")
            return
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(path, f"{value} is not a finite number")
            return
        self._range(value, shape, path)

    _double = _float

    def _boolean(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, bool):
            self.problem(path, f"expected a boolean, got {_kind(value)}")

    def _timestamp(self, value: Any, shape: Shape, path: str) -> None:
        if self.raw:
            # AWS JSON 1.1 sends timestamps as epoch seconds.
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.problem(path, f"expected epoch seconds (timestamp), got {_kind(value)}")
        elif not isinstance(value, dt.datetime):
            self.problem(path, f"expected a datetime (timestamp), got {_kind(value)}")

    # -- constraints ---------------------------------------------------------------------
    def _length(self, n: int, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and n < low:
            self.problem(path, f"length {n} is under the minimum {low} of {shape.name}")
        if high is not None and n > high:
            self.problem(path, f"length {n} is over the maximum {high} of {shape.name}")

    def _range(self, value: float, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.problem(path, f"{value} is under the minimum {low} of {shape.name}")
        if high is not None and value > high:
            self.problem(path, f"{value} is over the maximum {high} of {shape.name}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _kind(value: Any) -> str:
    return type(value).__name__


def response_problems(
    operation: str, response: Any, *, raw: bool = False, service: str = SERVICE
) -> list[str]:
    """Every way `response` departs from `operation`'s output shape (empty when it fits)."""
    shape = _operation_model(service, operation).output_shape
    checker = _Checker(raw)
    if shape is None:
        extra = [k for k in (response or {}) if raw or k != "ResponseMetadata"]
        return [f"{k}: the operation has no output members" for k in extra]
    checker._structure(response, shape, "", top=True)
    return checker.problems


def assert_valid_response(
    operation: str, response: Any, *, raw: bool = False, service: str = SERVICE
) -> None:
    """Raise ShapeProblems (an AssertionError) unless `response` fits the output shape."""
    problems = response_problems(operation, response, raw=raw, service=service)
    if problems:
        raise ShapeProblems(operation, problems)


def validate_responses(client: Any) -> Any:
    """Make `client` check the raw JSON body of every successful call; returns the client.

    The check runs on the wire body (so unknown members and nulls are caught, which boto3's
    parser would hide); a misfit raises ShapeProblems out of the API call.
    """
    service = client.meta.service_model.service_name

    def check(http_response: Any, model: OperationModel, **_: Any) -> None:
        if http_response.status_code != 200:
            return
        body = http_response.content or b"{}"
        try:
            parsed = json.loads(body)
        except ValueError:
            raise ShapeProblems(model.name, [f"body is not JSON: {body[:200]!r}"]) from None
        assert_valid_response(model.name, parsed, raw=True, service=service)

    event = f"after-call.{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.register(event, check, unique_id=f"shape-check-{id(client)}")
    return client
