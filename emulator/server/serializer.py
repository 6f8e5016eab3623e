"""An operation's result -> its AWS JSON 1.1 response body, walking the output shape.

    body = serialize_output("DetectFaces", {"FaceDetails": [...]})

Handlers return plain dicts and never order them by hand: the service model's output shape
says what goes on the wire and in which order, as AWS's own serializers do.
- structures: members in the model's order; a None member is absent (AWS JSON never sends
  null); a member the model does not have is dropped and reported in the log (a warning
  containing DROPPED, once per operation, shape and member): it is a handler bug, and the
  test suite fails when a server's log shows one;
- timestamps: epoch seconds (a datetime, naive = UTC, or a number as it is);
- blobs: base64;
- numbers and booleans: as given (handlers round floats to float32 where AWS does); numpy
  scalars and arrays become plain numbers and lists;
- lists and maps: element by element.
A value of the wrong kind for its shape (a string where a structure belongs ...) raises
TypeError: the app answers InternalServerError, as for any handler bug.

Each operation's output shape is compiled once into nested converter functions, so a
response costs one pass over the result plus `json.dumps`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape

from rekognition_emulator.emulator.server.service_model import operation_model

log = logging.getLogger("rekognition_emulator")

# Every report of a dropped member contains this text (tests look for it in server logs).
DROPPED = "not in the service model; dropped from the response"

Converter = Callable[[Any], Any]

_reported: set[tuple[str, str, str]] = set()
_reported_lock = threading.Lock()


def serialize_output(operation: str, result: Mapping[str, Any]) -> bytes:
    """The response body of `operation` for the handler's `result`."""
    value = _compile(operation)(result)
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _report(operation: str, shape: str, members: list[str]) -> None:
    for member in members:
        key = (operation, shape, member)
        with _reported_lock:
            if key in _reported:
                continue
            _reported.add(key)
        log.warning("%s: member %r of %s is %s", operation, member, shape, DROPPED)


# Values of these exact types go to json.dumps unchanged, with no converter call: a response
# is mostly strings and floats, and a call per value would double the cost of serialising.
_STRINGS = frozenset({str})
_NUMBERS = frozenset({bool, int, float})
_NONE: frozenset[type] = frozenset()


@dataclass
class _Node:
    convert: Converter
    plain: frozenset[type]  # exact types that need no conversion


@cache
def _compile(operation: str) -> Converter:
    shape = operation_model(operation).output_shape
    if shape is None:  # no output in the model: everything a handler returns is extra
        return _structure(operation, "(no output shape)", [])
    return _node(operation, shape, {}).convert


def _node(operation: str, shape: Shape, memo: dict[str, _Node]) -> _Node:
    if shape.name in memo:
        return memo[shape.name]
    kind = shape.type_name
    if kind == "structure":
        members: list[tuple[str, frozenset[type], Converter]] = []
        # Registered (with its converter) before its members are built, so a shape that
        # contains itself resolves.
        memo[shape.name] = node = _Node(_structure(operation, shape.name, members), _NONE)
        for name, member in shape.members.items():
            child = _node(operation, member, memo)
            members.append((name, child.plain, child.convert))
        return node
    if kind == "list":
        node = _Node(_list(_node(operation, shape.member, memo)), _NONE)
    elif kind == "map":
        node = _Node(_map(_node(operation, shape.value, memo)), _NONE)
    elif kind == "timestamp":  # JSON 1.1's epoch seconds (the model sets no other format)
        node = _Node(_epoch, _NUMBERS - {bool})
    elif kind == "blob":
        node = _Node(_blob, _NONE)
    elif kind in ("integer", "long", "float", "double", "boolean"):
        node = _Node(_scalar, _NUMBERS)
    else:  # string (enums included)
        node = _Node(_string, _STRINGS)
    memo[shape.name] = node
    return node


def _structure(
    operation: str, name: str, members: list[tuple[str, frozenset[type], Converter]]
) -> Converter:
    def convert(value: Any) -> dict[str, Any]:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise TypeError(f"{operation}: {name} must be a mapping, not {type(value).__name__}")
        out: dict[str, Any] = {}
        found = 0
        for member, plain, convert_member in members:  # the model's order
            item = value.get(member)
            if item is None:
                found += member in value
                continue
            found += 1
            out[member] = item if type(item) in plain else convert_member(item)
        if found != len(value):
            known = {m for m, _, _ in members}
            _report(operation, name, [k for k in value if k not in known])
        return out

    return convert


def _list(member: _Node) -> Converter:
    plain, convert_item = member.plain, member.convert

    def convert(value: Any) -> list[Any]:
        if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
            raise TypeError(f"a list member must be a sequence, not {type(value).__name__}")
        if hasattr(value, "tolist"):  # a numpy array
            value = value.tolist()
        if plain and set(map(type, value)) <= plain:  # e.g. a list of ids: nothing to convert
            return value if type(value) is list else list(value)
        return [item if type(item) in plain else convert_item(item) for item in value]

    return convert


def _map(value_node: _Node) -> Converter:
    plain, convert_value = value_node.plain, value_node.convert

    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise TypeError(f"a map must be a mapping, not {type(value).__name__}")
        return {str(k): v if type(v) in plain else convert_value(v) for k, v in value.items()}

    return convert


_PLAIN = (bool, int, float)


def _scalar(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # a numpy scalar
        return value.item()
    if isinstance(value, _PLAIN):  # e.g. an IntEnum
        return value
    raise TypeError(f"a number or boolean member cannot hold {type(value).__name__}")


def _string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    raise TypeError(f"a string member cannot hold {type(value).__name__}")


def _epoch(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return _scalar(value)


def _blob(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    return _string(value)  # already base64
