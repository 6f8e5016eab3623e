"""Check a Rekognition response against its operation's output shape in the botocore model.

    from tests.shape_check import assert_valid_response, validate_responses

    resp = rekognition.detect_faces(Image=...)
    assert_valid_response("DetectFaces", resp)            # the dict boto3 returned

    validate_responses(rekognition)                        # or: check every call's raw body
    rekognition.list_collections()                         # raises AssertionError if off-shape

The checking itself is the conformance suite's (`conformance.shapes`); this module adapts it
to the tests: a boto3 dict is turned back into its wire form (datetimes to epoch seconds,
bytes to base64, ResponseMetadata dropped) first. boto3's parser silently drops members it
does not know and nulls, so `raw=True` / `validate_responses` (the JSON body as sent) is the
stricter check.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel

from rekognition_emulator.conformance.shapes import check_output

__all__ = ["ShapeProblems", "assert_valid_response", "response_problems", "validate_responses"]

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
    return botocore.session.get_session().get_service_model(service).operation_model(operation)


def _to_wire(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value


def response_problems(
    operation: str, response: Any, *, raw: bool = False, service: str = SERVICE
) -> list[str]:
    """Every way `response` departs from `operation`'s output shape (empty when it fits)."""
    if not raw:
        response = _to_wire({k: v for k, v in (response or {}).items() if k != "ResponseMetadata"})
    return check_output(response, _operation_model(service, operation).output_shape, mode="wire")


def assert_valid_response(
    operation: str, response: Any, *, raw: bool = False, service: str = SERVICE
) -> None:
    """Raise ShapeProblems (an AssertionError) unless `response` fits the output shape."""
    problems = response_problems(operation, response, raw=raw, service=service)
    if problems:
        raise ShapeProblems(operation, problems)


def validate_responses(client: Any) -> Any:
    """Make `client` check the raw JSON body of every successful call; returns the client."""
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
