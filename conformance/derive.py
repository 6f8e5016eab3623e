"""Requests derived from the service model alone: a minimal valid input, and inputs that
break exactly one of the model's constraints (pattern, enum, length, range) or leave out a
required member. These give every implemented operation its generic error cases without
any per-operation code.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, Shape

from rekognition_emulator.conformance.shapes import matches_pattern

ACCOUNT = "123456789012"
REGION = "us-east-1"

# Values tried, in order, for a string member with a pattern: the first one that matches the
# pattern and fits the length limits is used. Together they satisfy every pattern in the
# Rekognition model (test_shapes checks that).
_PATTERN_CANDIDATES = (
    "conformance",
    "conformance-1",
    "11111111-2222-3333-4444-555555555555",
    "1",
    "1.0.0",
    "{}",
    f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/conformance/1",
    f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/conformance/version/v1/1",
    f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/conformance/dataset/train/1",
    f"arn:aws:rekognition:{REGION}:{ACCOUNT}:streamprocessor/conformance",
    f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/conformance",
    f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/conformance/1",
    f"arn:aws:iam::{ACCOUNT}:role/conformance",
    f"arn:aws:sns:{REGION}:{ACCOUNT}:conformance",
    "",
)

# Values tried for a pattern violation: each must stay within the length limits so that the
# pattern is the only constraint broken.
_PATTERN_BREAKERS = ("bad id!", "!", " ", "\u65e5\u672c", "a\u0000b")


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def valid_string(shape: Shape) -> str:
    if shape.enum:
        return shape.enum[0]
    low = shape.metadata.get("min") or 0
    high = shape.metadata.get("max")
    pattern = shape.metadata.get("pattern")
    if pattern:
        for candidate in _PATTERN_CANDIDATES:
            if len(candidate) < low or (high is not None and len(candidate) > high):
                continue
            if candidate == "" and low == 0:
                return candidate
            if candidate and matches_pattern(candidate, pattern) is not False:
                return candidate
    return "a" * max(low, 1) if high is None or high >= 1 else ""


def minimal_input(shape: Shape | None, image: bytes, depth: int = 0) -> Any:
    """A value for `shape` that satisfies every constraint, with required members only.

    `image` fills image blobs, so that a derived request that passes validation carries a
    real photo.
    """
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        if shape.name == "Image":
            # No required member, but the service needs Bytes or S3Object.
            return {"Bytes": image}
        for name in shape.required_members:
            out[name] = minimal_input(shape.members[name], image, depth + 1)
        return out
    if kind == "list":
        count = max(shape.metadata.get("min") or 0, 1)
        return [minimal_input(shape.member, image, depth + 1) for _ in range(count)]
    if kind == "map":
        count = shape.metadata.get("min") or 0
        return {
            f"{valid_string(shape.key)}{i or ''}": minimal_input(shape.value, image, depth + 1)
            for i in range(count)
        }
    if kind == "string":
        return valid_string(shape)
    if kind == "blob":
        if shape.name == "ImageBlob":
            return image
        return b"a" * max(shape.metadata.get("min") or 0, 1)
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        value = int(low) if low is not None else 1
        return min(value, int(high)) if high is not None else value
    if kind in ("float", "double"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        value = float(low) if low is not None else 1.0
        return min(value, float(high)) if high is not None else value
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return dt.datetime.now(dt.UTC)
    raise ValueError(f"no minimal value for {kind} {shape.name}")


@dataclass(frozen=True)
class Violation:
    kind: str  # pattern | enum | length | range
    members: tuple[str, ...]  # path of model member names from the input's top level
    value: Any
    constraint: str  # what is broken, for the report

    @property
    def wire_path(self) -> str:
        """The member path as AWS writes it in a validation message (`image.s3Object.bucket`)."""
        return ".".join(lower_first(m) for m in self.members)

    def apply(self, params: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(params)
        node = out
        for name in self.members[:-1]:
            child = node.get(name)
            if not isinstance(child, dict):
                child = {}
                node[name] = child
            node = child
        node[self.members[-1]] = self.value
        return out


def _violations_of(shape: Shape, members: tuple[str, ...], image: bytes) -> Iterator[Violation]:
    """Every single-constraint violation this member's shape allows, cheapest first."""
    kind = shape.type_name
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    where = f"{shape.name}"
    if kind == "string":
        if shape.enum:
            yield Violation("enum", members, "NOT_A_MODELLED_VALUE", f"enum of {where}")
            return
        pattern = meta.get("pattern")
        if pattern:
            for breaker in _PATTERN_BREAKERS:
                fits = (low is None or len(breaker) >= low) and (
                    high is None or len(breaker) <= high
                )
                if fits and matches_pattern(breaker, pattern) is False:
                    yield Violation("pattern", members, breaker, f"pattern {pattern} of {where}")
                    break
        if high is not None and high < 10_000:
            yield Violation(
                "length", members, "a" * (int(high) + 1), f"max length {high} of {where}"
            )
        if low:
            yield Violation("length", members, "", f"min length {low} of {where}")
    elif kind == "list":
        if low:
            yield Violation("length", members, [], f"min length {low} of {where}")
        if high is not None and high < 5_000:
            item = minimal_input(shape.member, image)
            yield Violation(
                "length", members, [item] * (int(high) + 1), f"max length {high} of {where}"
            )
        if getattr(shape.member, "enum", None):
            yield Violation(
                "enum", members, ["NOT_A_MODELLED_VALUE"], f"enum of {shape.member.name}"
            )
    elif kind in ("integer", "long", "float", "double"):
        step = 1 if kind in ("integer", "long") else 0.5
        if high is not None:
            yield Violation("range", members, high + step, f"max {high} of {where}")
        if low is not None:
            yield Violation("range", members, low - step, f"min {low} of {where}")


def violations(op: OperationModel, image: bytes, depth: int = 2) -> list[Violation]:
    """One violation per kind (pattern, enum, length, range), top-level members first."""
    shape = op.input_shape
    if shape is None:
        return []
    found: dict[str, Violation] = {}
    frontier: list[tuple[Shape, tuple[str, ...]]] = [(shape, ())]
    for _ in range(depth):
        nested: list[tuple[Shape, tuple[str, ...]]] = []
        for parent, prefix in frontier:
            for name, member in parent.members.items():
                path = (*prefix, name)
                if member.type_name == "structure":
                    nested.append((member, path))
                    continue
                if member.type_name == "blob":
                    continue  # a blob's length limit is 5 MB: too costly to break generically
                for violation in _violations_of(member, path, image):
                    found.setdefault(violation.kind, violation)
        frontier = nested
    order = ("pattern", "enum", "length", "range")
    return [found[k] for k in order if k in found]
