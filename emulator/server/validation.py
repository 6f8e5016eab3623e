"""Generic input checking against the botocore service model (no per-operation code).

Walks the operation's input shape once: JSON types that cannot be read as the modelled
type answer SerializationException (as AWS's JSON protocol does); every constraint
violation (required, enum, length, range, pattern) is collected and answered together as
ValidationException in AWS's own message form:

    1 validation error detected: Value 'bad id!' at 'collectionId' failed to satisfy
    constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+

Blobs arrive base64-encoded and leave this module as bytes; timestamps as datetimes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
from functools import cache
from typing import Any

from botocore.model import Shape

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.service_model import operation_model


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    # The model's patterns are Java regexes; Python lacks \p{..} classes, so map the three
    # the model uses onto their nearest Python equivalents.
    translated = pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\d").replace(r"\p{Z}", r"\s")
    try:
        return re.compile(translated)
    except re.error:
        return None


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _render(value: Any, shape: Shape) -> str:
    """The value as AWS prints it in a validation message (Java's toString of the value)."""
    if shape.type_name == "blob" and isinstance(value, bytes | bytearray):
        n = len(value)
        return f"'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]'"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "'true'" if value else "'false'"
    if isinstance(value, list):
        return "'[" + ", ".join(str(v) for v in value) + "]'"
    if isinstance(value, dict):
        return "'{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}'"
    return f"'{value}'"


class _Walker:
    def __init__(self) -> None:
        self.violations: list[str] = []

    def violate(self, value: Any, shape: Shape, path: str, constraint: str) -> None:
        rendered = "null" if value is None else _render(value, shape)
        self.violations.append(
            f"Value {rendered} at '{path}' failed to satisfy constraint: {constraint}"
        )

    def check(self, value: Any, shape: Shape, path: str) -> Any:
        kind = shape.type_name
        reader = getattr(self, f"_read_{kind}", None)
        if reader is None:  # pragma: no cover - every type of the model is handled
            return value
        return reader(value, shape, path)

    # -- aggregates ---------------------------------------------------------------------------
    def _read_structure(self, value: Any, shape: Shape, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise errors.SerializationException(
                f"Expected an object at '{path or 'body'}', got {_json_type(value)}"
            )
        out: dict[str, Any] = {}
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                self.violate(None, members[name], _join(path, name), "Member must not be null")
        for name, member_value in value.items():
            member = members.get(name)
            if member is None or member_value is None:
                # AWS's JSON protocol ignores members it does not know, and null means absent.
                continue
            out[name] = self.check(member_value, member, _join(path, name))
        return out

    def _read_list(self, value: Any, shape: Shape, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise errors.SerializationException(
                f"Expected a list at '{path}', got {_json_type(value)}"
            )
        self._length(value, len(value), shape, path)
        if shape.member.type_name in _AGGREGATES:
            return [
                self.check(item, shape.member, f"{path}.{i}.member")
                for i, item in enumerate(value, 1)
            ]
        # A list of scalars: AWS reports a bad element once, at the list, with every
        # constraint of the member shape ("Member must satisfy constraint: [...]").
        inner = _Walker()
        items = [inner.check(item, shape.member, path) for item in value]
        if inner.violations:
            self.violate(value, shape, path, _member_constraint("Member", shape.member))
        return items

    def _read_map(self, value: Any, shape: Shape, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise errors.SerializationException(
                f"Expected an object at '{path}', got {_json_type(value)}"
            )
        self._length(value, len(value), shape, path)
        # Bad keys and bad scalar values are each reported once, at the map, keys first, with
        # every constraint of the key (value) shape, as AWS does.
        keys, values = _Walker(), _Walker()
        out: dict[str, Any] = {}
        for key, item in value.items():
            keys.check(key, shape.key, path)
            if shape.value.type_name in _AGGREGATES:
                out[key] = self.check(item, shape.value, f"{path}.{key}.member")
            else:
                out[key] = values.check(item, shape.value, path)
        if keys.violations:
            self.violate(value, shape, path, _member_constraint("Map keys", shape.key))
        if values.violations:
            self.violate(value, shape, path, _member_constraint("Map value", shape.value))
        return out

    # -- scalars ------------------------------------------------------------------------------
    def _read_string(self, value: Any, shape: Shape, path: str) -> str:
        if not isinstance(value, str):
            raise errors.SerializationException(
                f"Expected a string at '{path}', got {_json_type(value)}"
            )
        if shape.enum and value not in shape.enum:
            self.violate(
                value,
                shape,
                path,
                "Member must satisfy enum value set: [" + ", ".join(shape.enum) + "]",
            )
            return value
        self._length(value, len(value), shape, path)
        pattern = shape.metadata.get("pattern")
        if pattern and value:
            compiled = _compiled(pattern)
            if compiled is not None and not compiled.fullmatch(value):
                self.violate(
                    value, shape, path, f"Member must satisfy regular expression pattern: {pattern}"
                )
        return value

    def _read_blob(self, value: Any, shape: Shape, path: str) -> bytes:
        if not isinstance(value, str):
            raise errors.SerializationException(
                f"Expected a base64-encoded string at '{path}', got {_json_type(value)}"
            )
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise errors.SerializationException(
                f"Value at '{path}' is not valid base64: {exc}"
            ) from None
        self._length(data, len(data), shape, path)
        return data

    def _read_integer(self, value: Any, shape: Shape, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise errors.SerializationException(
                f"Expected an integer at '{path}', got {_json_type(value)}"
            )
        if isinstance(value, float):
            if not value.is_integer():
                raise errors.SerializationException(f"Expected an integer at '{path}', got {value}")
            value = int(value)
        self._range(value, shape, path)
        return value

    _read_long = _read_integer

    def _read_float(self, value: Any, shape: Shape, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise errors.SerializationException(
                f"Expected a number at '{path}', got {_json_type(value)}"
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise errors.SerializationException(f"Expected a finite number at '{path}'")
        # Checked and shown as the float the service reads (150 -> '150.0', as Java prints it).
        self._range(number, shape, path)
        return number

    _read_double = _read_float

    def _read_boolean(self, value: Any, shape: Shape, path: str) -> bool:
        if not isinstance(value, bool):
            raise errors.SerializationException(
                f"Expected a boolean at '{path}', got {_json_type(value)}"
            )
        return value

    def _read_timestamp(self, value: Any, shape: Shape, path: str) -> dt.datetime:
        if isinstance(value, bool):
            raise errors.SerializationException(f"Expected a timestamp at '{path}', got boolean")
        try:
            if isinstance(value, int | float):
                return dt.datetime.fromtimestamp(value, tz=dt.UTC)
            if isinstance(value, str):
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, OverflowError, OSError):
            pass
        raise errors.SerializationException(f"Expected a timestamp at '{path}', got {value!r}")

    # -- constraints --------------------------------------------------------------------------
    def _length(self, value: Any, length: int, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.violate(
                value, shape, path, f"Member must have length greater than or equal to {low}"
            )
        elif high is not None and length > high:
            self.violate(
                value, shape, path, f"Member must have length less than or equal to {high}"
            )

    def _range(self, value: int | float, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.violate(
                value, shape, path, f"Member must have value greater than or equal to {_num(low)}"
            )
        elif high is not None and value > high:
            self.violate(
                value, shape, path, f"Member must have value less than or equal to {_num(high)}"
            )


_AGGREGATES = ("structure", "list", "map")


def _member_constraint(subject: str, shape: Shape) -> str:
    """`Member must satisfy constraint: [...]` listing every constraint of `shape`."""
    rules: list[str] = []
    if shape.enum:
        rules.append("Member must satisfy enum value set: [" + ", ".join(shape.enum) + "]")
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    what = "length" if shape.type_name in ("string", "blob") else "value"
    if high is not None:
        rules.append(f"Member must have {what} less than or equal to {_num(high)}")
    if low is not None:
        rules.append(f"Member must have {what} greater than or equal to {_num(low)}")
    if shape.metadata.get("pattern"):
        rules.append(f"Member must satisfy regular expression pattern: {shape.metadata['pattern']}")
    return f"{subject} must satisfy constraint: [" + ", ".join(rules) + "]"


def _num(n: int | float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def _join(path: str, member: str) -> str:
    return f"{path}.{_lower_first(member)}" if path else _lower_first(member)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def validate_input(operation: str, body: Any) -> dict[str, Any]:
    """The request body checked and converted; raises the AWS error a bad body earns."""
    shape = operation_model(operation).input_shape
    walker = _Walker()
    if shape is None:
        if not isinstance(body, dict):
            raise errors.SerializationException("Expected a JSON object as the request body")
        return {}
    params = walker._read_structure(body, shape, "")
    if walker.violations:
        n = len(walker.violations)
        noun = "error" if n == 1 else "errors"
        raise errors.ValidationException(
            f"{n} validation {noun} detected: " + "; ".join(walker.violations)
        )
    return params
