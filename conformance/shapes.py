"""Check a response, member by member, against an output shape of the botocore service model.

Two modes, because two kinds of document reach us:
- `wire`: the raw JSON body the server sent. This is the strict one: an AWS JSON 1.1 body
  carries timestamps as epoch numbers and blobs as base64 strings, never nulls, and only
  the members the model has (boto3 and the JS SDK silently drop unknown members, so only
  the wire shows them).
- `parsed`: what a client printed after deserialising (the AWS CLI's JSON output, the JS
  SDK's output objects turned to JSON): timestamps may be ISO strings there.

The model's constraints on output members (enum, length, range, pattern) are facts about
what the real service can return (Confidence is a Percent 0..100, FaceId a UUID ...), so
they are checked too.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from functools import cache
from typing import Any, Literal

from botocore.model import Shape

Mode = Literal["wire", "parsed"]


@cache
def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's Java regex as a Python one (None where Python cannot express it).

    Java's \\p{L}, \\p{N}, \\p{Z} have no Python spelling; \\w, \\d, \\s are their nearest
    Python equivalents for the strings these checks meet.
    """
    translated = pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\d").replace(r"\p{Z}", r"\s")
    try:
        return re.compile(translated)
    except re.error:
        return None


def matches_pattern(value: str, pattern: str) -> bool | None:
    """True/False, or None when the pattern cannot be evaluated here.

    AWS applies the model's patterns as whole-string matches (Java's `matches()`).
    """
    compiled = compiled_pattern(pattern)
    if compiled is None:
        return None
    return compiled.fullmatch(value) is not None


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class ShapeChecker:
    """Collects every problem found in one document; `problems` is empty when it conforms."""

    def __init__(self, mode: Mode = "wire") -> None:
        self.mode = mode
        self.problems: list[str] = []

    def problem(self, path: str, text: str) -> None:
        self.problems.append(f"{path or '<body>'}: {text}")

    def check(self, value: Any, shape: Shape, path: str = "") -> None:
        if value is None:
            # A JSON null where a member is expected: AWS omits absent members instead.
            self.problem(
                path, f"is null (expected {shape.type_name} {shape.name}; AWS omits absent members)"
            )
            return
        getattr(self, f"_check_{shape.type_name}")(value, shape, path)

    # -- aggregates ---------------------------------------------------------------------------
    def _check_structure(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, dict):
            self.problem(path, f"expected an object ({shape.name}), got {_type_of(value)}")
            return
        members = shape.members
        for name in shape.required_members:
            if name not in value:
                self.problem(_join(path, name), f"required member of {shape.name} is missing")
        for name, member_value in value.items():
            member = members.get(name)
            if member is None:
                self.problem(
                    _join(path, name),
                    f"{shape.name} has no member {name!r} in the service model "
                    f"(members: {', '.join(members) or 'none'})",
                )
                continue
            self.check(member_value, member, _join(path, name))

    def _check_list(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, list):
            self.problem(path, f"expected an array ({shape.name}), got {_type_of(value)}")
            return
        self._length(len(value), shape, path)
        for i, item in enumerate(value):
            self.check(item, shape.member, f"{path}[{i}]")

    def _check_map(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, dict):
            self.problem(path, f"expected an object ({shape.name}), got {_type_of(value)}")
            return
        self._length(len(value), shape, path)
        for key, item in value.items():
            self.check(key, shape.key, f"{path}{{key {key!r}}}")
            self.check(item, shape.value, f"{path}[{key!r}]")

    # -- scalars ------------------------------------------------------------------------------
    def _check_string(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, str):
            self.problem(path, f"expected a string ({shape.name}), got {_type_of(value)} {value!r}")
            return
        if shape.enum:
            if value not in shape.enum:
                self.problem(path, f"{value!r} is not in the enum {shape.name}: {list(shape.enum)}")
            return
        self._length(len(value), shape, path)
        pattern = shape.metadata.get("pattern")
        if pattern and value and matches_pattern(value, pattern) is False:
            self.problem(path, f"{value!r} does not match the pattern of {shape.name}: {pattern}")

    def _check_blob(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, str):
            self.problem(path, f"expected a base64 string ({shape.name}), got {_type_of(value)}")
            return
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            self.problem(path, "is not valid base64")
            return
        self._length(len(data), shape, path)

    def _check_integer(self, value: Any, shape: Shape, path: str) -> None:
        # An integral float (3.0) is still wrong: boto3 would hand the user a float where the
        # real service gives an int.
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(
                path, f"expected an integer ({shape.name}), got {_type_of(value)} {value!r}"
            )
            return
        if shape.type_name == "integer" and not -(2**31) <= value < 2**31:
            self.problem(path, f"{value} does not fit a 32-bit integer")
        self._range(value, shape, path)

    _check_long = _check_integer

    def _check_float(self, value: Any, shape: Shape, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a number ({shape.name}), got {_type_of(value)} {value!r}")
            return
        if value != value or value in (float("inf"), float("-inf")):
            self.problem(path, f"{value} is not a finite number")
            return
        self._range(value, shape, path)

    _check_double = _check_float

    def _check_boolean(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, bool):
            self.problem(
                path, f"expected a boolean ({shape.name}), got {_type_of(value)} {value!r}"
            )

    def _check_timestamp(self, value: Any, shape: Shape, path: str) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # Epoch seconds; anything before 2000 or after 2100 is a unit mistake (ms, ns).
            if not 946_684_800 <= value <= 4_102_444_800:
                self.problem(path, f"timestamp {value} is not epoch seconds between 2000 and 2100")
            return
        if self.mode == "parsed" and isinstance(value, str):
            try:
                dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                return
            except ValueError:
                pass
        # The JS SDK reads JSON 1.1 timestamps with expectNumber: a string breaks it.
        self.problem(
            path, f"expected a timestamp as epoch seconds, got {_type_of(value)} {value!r}"
        )

    # -- constraints --------------------------------------------------------------------------
    def _length(self, length: int, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.problem(path, f"length {length} is below the minimum {low} of {shape.name}")
        if high is not None and length > high:
            self.problem(path, f"length {length} is above the maximum {high} of {shape.name}")

    def _range(self, value: int | float, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.problem(path, f"{value} is below the minimum {low} of {shape.name}")
        if high is not None and value > high:
            self.problem(path, f"{value} is above the maximum {high} of {shape.name}")


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def check_output(document: Any, shape: Shape | None, mode: Mode = "wire") -> list[str]:
    """Every way `document` departs from `shape` (an operation's output shape)."""
    if shape is None:
        # Operations without an output shape answer an empty object.
        if document not in ({}, None):
            return [f"<body>: the operation has no output members, got {document!r:.200}"]
        return []
    checker = ShapeChecker(mode)
    checker.check(document, shape)
    return checker.problems
