"""Calls through boto3 with the raw wire response kept, and the checks they record.

Every call is recorded as a `Check` against its operation. A valid call passes when the
server answers 200 with the JSON 1.1 headers and a body whose every member conforms to the
operation's output shape (checked on the raw body, because boto3 drops members it does not
know). An error case passes when the server answers the expected exception name with the
right status, both the `__type` body member and the `x-amzn-ErrorType` header, a message,
and a name the operation can return (modelled for it, or a protocol-level one).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from rekognition_emulator.conformance.shapes import check_output

# Errors AWS answers at the protocol level, for any operation, without the model naming them.
PROTOCOL_ERRORS = frozenset(
    {
        "ValidationException",
        "SerializationException",
        "UnknownOperationException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
        "AccessDeniedException",
        "ThrottlingException",
        "InternalServerError",
    }
)
SERVER_ERRORS = frozenset({"InternalServerError", "ThrottlingException"})
CONTENT_TYPE = "application/x-amz-json-1.1"

Expect = Callable[[dict[str, Any]], list[str]]


@dataclass
class Check:
    operation: str
    client: str  # boto3 | cli | js
    kind: str  # call | error | probe
    name: str
    ok: bool
    detail: str = ""
    shape_checked: bool = False  # a success body validated against the output shape


class StepFailed(Exception):
    """A scenario step failed: later steps that depend on it cannot run."""


@dataclass
class RawResponse:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _short(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _redact(params: dict[str, Any]) -> dict[str, Any]:
    """Request parameters fit for a report: image bytes replaced by their size."""

    def walk(v: Any) -> Any:
        if isinstance(v, bytes | bytearray):
            return f"<{len(v)} bytes>"
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v] if len(v) <= 8 else [walk(v[0]), f"... {len(v)} items"]
        return v

    return walk(params)


class Harness:
    """boto3 clients pointed at the endpoint, and the record of every check made."""

    def __init__(
        self,
        endpoint: str,
        implemented: set[str],
        *,
        region: str = "us-east-1",
        access_key: str = "AKIACONFORMANCE",
        secret_key: str = "conformance-secret",
    ) -> None:
        self.endpoint = endpoint
        self.implemented = implemented
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.checks: list[Check] = []
        self._last = RawResponse()
        self.last_error_code = ""  # the exception name of the last failed `call`
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        # One attempt: a retried 5xx would hide the first answer and slow the run.
        base = {"retries": {"max_attempts": 1, "mode": "standard"}, "read_timeout": 180}
        self.rekognition = session.client(
            "rekognition", endpoint_url=endpoint, config=Config(**base)
        )
        # Clients check required members and minimum lengths before sending; the error
        # cases must reach the server, so they go through a client that checks nothing.
        self.unchecked = session.client(
            "rekognition", endpoint_url=endpoint, config=Config(parameter_validation=False, **base)
        )
        self.s3 = session.client("s3", endpoint_url=endpoint, config=Config(**base))
        self.model = self.rekognition.meta.service_model
        for client in (self.rekognition, self.unchecked):
            client.meta.events.register("after-call.rekognition", self._capture)

    def _capture(self, http_response: Any, **_: Any) -> None:
        self._last = RawResponse(
            status=http_response.status_code,
            headers={k.lower(): v for k, v in http_response.headers.items()},
            body=http_response.content or b"",
        )

    def has(self, *operations: str) -> bool:
        return all(op in self.implemented for op in operations)

    def record(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    # -- valid calls ------------------------------------------------------------------------
    def call(
        self,
        operation: str,
        params: dict[str, Any] | None = None,
        *,
        name: str = "",
        expect: Expect | None = None,
        unchecked: bool = False,
    ) -> dict[str, Any]:
        """Make a call that must succeed; returns the raw response body as parsed JSON.

        `expect` returns the problems it finds in the body (semantic checks beyond shape).
        Raises StepFailed when the call does not conform, after recording why.
        """
        params = params or {}
        label = name or f"{operation} {_short(_redact(params), 120)}"
        client = self.unchecked if unchecked else self.rekognition
        self._last = RawResponse()
        self.last_error_code = ""
        try:
            getattr(client, xform_name(operation))(**params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            self.last_error_code = err.get("Code", "")
            detail = (
                f"request {_short(_redact(params))} -> HTTP {self._last.status} "
                f"{err.get('Code')}: {err.get('Message')}"
            )
            self.record(Check(operation, "boto3", "call", label, False, detail))
            raise StepFailed(detail) from None
        except Exception as exc:  # a parse failure in boto3 is a conformance failure too
            detail = f"request {_short(_redact(params))} -> {type(exc).__name__}: {exc}"
            self.record(Check(operation, "boto3", "call", label, False, detail))
            raise StepFailed(detail) from None
        problems = self._success_problems(operation)
        body: dict[str, Any] = {}
        if not problems:
            body = json.loads(self._last.body or b"{}")
            if expect is not None:
                try:
                    problems = expect(body)
                except Exception as exc:  # a checker tripping on a malformed body
                    problems = [f"{type(exc).__name__} while checking the body: {exc}"]
        if problems:
            detail = (
                f"request {_short(_redact(params))} -> "
                + "; ".join(problems[:8])
                + (f" (+{len(problems) - 8} more)" if len(problems) > 8 else "")
                + f"; body {_short(self._last.body.decode('utf-8', 'replace'))}"
            )
            self.record(Check(operation, "boto3", "call", label, False, detail, shape_checked=True))
            raise StepFailed(detail)
        self.record(Check(operation, "boto3", "call", label, True, shape_checked=True))
        return body

    def _success_problems(self, operation: str) -> list[str]:
        raw = self._last
        problems: list[str] = []
        if raw.status != 200:
            problems.append(f"HTTP status {raw.status}, expected 200")
        ctype = raw.headers.get("content-type", "")
        if not ctype.startswith(CONTENT_TYPE):
            problems.append(f"Content-Type {ctype!r}, expected {CONTENT_TYPE}")
        if not raw.headers.get("x-amzn-requestid"):
            problems.append("no x-amzn-RequestId header")
        try:
            body = json.loads(raw.body or b"")
        except ValueError as exc:
            return [*problems, f"body is not JSON: {exc}"]
        if not isinstance(body, dict):
            return [*problems, f"body is a JSON {type(body).__name__}, not an object"]
        output = self.model.operation_model(operation).output_shape
        return problems + check_output(body, output, "wire")

    # -- error cases ------------------------------------------------------------------------
    def expect_error(
        self,
        operation: str,
        params: dict[str, Any],
        code: str,
        *,
        name: str,
        message_contains: str | None = None,
        client: Any = None,
    ) -> bool:
        """Make a call that must fail with `code`; records the check, returns whether it held."""
        client = client or self.unchecked
        self._last = RawResponse()
        problems: list[str] = []
        got = "success"
        try:
            getattr(client, xform_name(operation))(**params)
            problems.append(
                f"expected {code}, got HTTP {self._last.status} success: "
                f"{_short(self._last.body.decode('utf-8', 'replace'), 300)}"
            )
        except ClientError as exc:
            err = exc.response.get("Error", {})
            got = err.get("Code", "")
            message = err.get("Message") or ""
            problems += self._error_problems(operation, code, got, message)
            if message_contains and message_contains not in message and got == code:
                problems.append(f"message {message!r} does not mention {message_contains!r}")
        except Exception as exc:
            problems.append(f"expected {code}, got {type(exc).__name__}: {exc}")
        ok = not problems
        detail = "" if ok else f"request {_short(_redact(params))} -> " + "; ".join(problems)
        self.record(Check(operation, "boto3", "error", f"{name} -> {code}", ok, detail))
        return ok

    def _error_problems(self, operation: str, expected: str, got: str, message: str) -> list[str]:
        raw = self._last
        problems: list[str] = []
        if got != expected:
            problems.append(f"expected {expected}, got {got} ({message!r})")
        want_status = 500 if got in SERVER_ERRORS else 400
        if got == "NotImplementedException":
            want_status = 501
        if raw.status != want_status:
            problems.append(f"HTTP status {raw.status} for {got}, expected {want_status}")
        ctype = raw.headers.get("content-type", "")
        if not ctype.startswith(CONTENT_TYPE):
            problems.append(f"Content-Type {ctype!r} on an error, expected {CONTENT_TYPE}")
        header = raw.headers.get("x-amzn-errortype", "")
        if header.split(":", 1)[0] != got:
            problems.append(f"x-amzn-ErrorType header {header!r}, expected {got!r}")
        try:
            body = json.loads(raw.body or b"")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            problems.append(f"error body is not a JSON object: {raw.body[:200]!r}")
        else:
            type_name = str(body.get("__type", ""))
            if type_name.rsplit("#", 1)[-1] != got:
                problems.append(f"body __type {type_name!r}, expected {got!r}")
            text = body.get("message", body.get("Message"))
            if not isinstance(text, str) or not text.strip():
                problems.append("error body has no message")
        if not raw.headers.get("x-amzn-requestid"):
            problems.append("no x-amzn-RequestId header")
        modelled = {e.name for e in self.model.operation_model(operation).error_shapes}
        if got and got not in modelled | PROTOCOL_ERRORS and got != "NotImplementedException":
            problems.append(
                f"{got} is not an error {operation} can return (model: {sorted(modelled)})"
            )
        return problems
