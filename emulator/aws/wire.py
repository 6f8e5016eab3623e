"""The wire of the other AWS services: one request in, one response out, and the
protocol-correct error a service's own clients can read.

moto's services are WSGI apps; `call_wsgi` runs one request through one of them in process.
`error_reply` speaks each AWS protocol's error format, so a client of a service the port does
not serve (or serves elsewhere) reads a proper error naming it, never another service's answer.
"""

from __future__ import annotations

import functools
import json
import struct
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class WireRequest:
    method: str
    host: str
    path: str  # raw path, percent-encoding kept
    query: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class WireResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def call_wsgi(app: Any, request: WireRequest, extra_headers: dict[str, str] | None = None):
    """Run `request` through a WSGI app in this thread; the whole response, buffered."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    dropped = {"host", "content-length", *(k.lower() for k in extra_headers or {})}
    builder = EnvironBuilder(
        path=request.path,
        base_url=f"http://{request.host}",
        query_string=request.query,
        method=request.method,
        headers=[(k, v) for k, v in request.headers if k.lower() not in dropped]
        + list((extra_headers or {}).items()),
        data=request.body,
    )
    app_iter, status, headers = run_wsgi_app(app, builder.get_environ(), buffered=True)
    return WireResponse(int(status.split()[0]), list(headers.items()), b"".join(app_iter))


# -- errors in each protocol --------------------------------------------------------------
JSON_CODE = "UnknownOperationException"
XML_CODE = "InvalidAction"


@functools.lru_cache(maxsize=64)
def _model_facts(service: str) -> tuple[str, str] | None:
    """(protocol, service id) of `service` (a signing name), if botocore has its model."""
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(service)
        return model.resolved_protocol, model.metadata.get("serviceId") or service
    except Exception:  # unknown to botocore, or a broken model: the error path must answer
        return None


def model_protocol(service: str) -> str | None:
    facts = _model_facts(service)
    return facts[0] if facts else None


def service_title(service: str | None) -> str:
    """How AWS names the service ("DynamoDB"), else what the request called it."""
    if not service:
        return "an unknown service"
    facts = _model_facts(service)
    return facts[1] if facts else service


def reply_protocol(service: str | None, headers: dict[str, str], has_action: bool) -> str:
    """The protocol of the client that sent this request (lower-case `headers`)."""
    if headers.get("smithy-protocol", "").lower() == "rpc-v2-cbor":
        return "smithy-rpc-v2-cbor"
    if "x-amz-target" in headers or headers.get("content-type", "").startswith(
        "application/x-amz-json"
    ):
        return "json"
    if has_action:
        return "ec2" if service == "ec2" else "query"
    known = model_protocol(service) if service else None
    return known or "query"


def error_reply(
    protocol: str,
    message: str,
    request_id: str,
    status: int = 400,
    content_type: str | None = None,
) -> WireResponse:
    """An error any client of `protocol` reads as UnknownOperationException / InvalidAction
    (`content_type`: the request's, echoed for the JSON protocols' 1.0 / 1.1)."""
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": JSON_CODE, "message": message}).encode()
        media = "application/x-amz-json-1.0" if protocol == "json" else "application/json"
        if content_type and content_type.startswith("application/x-amz-json-1."):
            media = content_type
        headers = [("Content-Type", media), ("x-amzn-ErrorType", JSON_CODE)]
    elif protocol == "smithy-rpc-v2-cbor":
        body = _cbor_map({"__type": JSON_CODE, "message": message})
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        headers.append(("x-amzn-ErrorType", JSON_CODE))
    elif protocol == "ec2":
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>\n<Response><Errors><Error>"
            f"<Code>{XML_CODE}</Code><Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif protocol == "rest-xml":  # S3's form, which botocore also reads for the others
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>\n<Error>"
            f"<Code>{XML_CODE}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml")]
    else:  # query
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>\n<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{XML_CODE}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    headers.append(("x-amzn-RequestId", request_id))
    return WireResponse(status, headers, body)


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 0x100:
        head = bytes([0x78, n])
    elif n < 0x10000:
        head = b"\x79" + struct.pack(">H", n)
    else:
        head = b"\x7a" + struct.pack(">I", n)
    return head + data


def _cbor_map(members: dict[str, str]) -> bytes:
    """A CBOR map of text to text (all an error body needs; RFC 8949 major types 3 and 5)."""
    out = bytes([0xA0 | len(members)])
    for key, value in members.items():
        out += _cbor_text(key) + _cbor_text(value)
    return out
