"""AWS JSON 1.1: X-Amz-Target -> operation, body -> dict, error -> body (results: serializer.py)."""

from __future__ import annotations

import json
from typing import Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.service_model import operation_names, target_prefix

CONTENT_TYPE = "application/x-amz-json-1.1"


def operation_from_target(target: str | None) -> str:
    prefix = target_prefix()
    if not target:
        raise errors.UnknownOperationException(
            "No X-Amz-Target header: an AWS JSON 1.1 request must name its operation "
            f"as '{prefix}.<Operation>'."
        )
    service, _, name = target.partition(".")
    if service != prefix or name not in _operation_set():
        raise errors.UnknownOperationException(
            f"Unknown operation '{target}': the service is {prefix} and it has no such operation."
        )
    return name


_OPERATIONS: frozenset[str] | None = None


def _operation_set() -> frozenset[str]:
    global _OPERATIONS
    if _OPERATIONS is None:
        _OPERATIONS = frozenset(operation_names())
    return _OPERATIONS


def parse_body(body: bytes) -> Any:
    if not body.strip():
        # The SDKs always send at least "{}"; an empty body reads as no members.
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise errors.SerializationException(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise errors.SerializationException("The request body must be a JSON object.")
    return parsed


def error_body(error: errors.AWSError) -> bytes:
    return json.dumps({"__type": error.code, "message": error.message}).encode()
