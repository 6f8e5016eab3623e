"""Which AWS service a request on the port is for.

In order, as AWS's own front ends and moto's server tell services apart:
1. an `X-Amz-Target` of Rekognition (so a mis-scoped signature still gets Rekognition's own
   InvalidSignatureException in strict mode);
2. the SigV4 credential scope (`Credential=AKID/date/region/<service>/aws4_request`) of the
   Authorization header, or of `X-Amz-Credential` in a presigned URL's query;
3. the `X-Amz-Target` prefix (`AmazonSQS.`, `Kinesis_20131202.`, ...);
4. the query protocol's `Action` (in the query or a form body), by its `Version`, else by
   which served service has that action;
5. a JSON 1.1 body with no target is a malformed Rekognition call; anything else is S3
   (path-style requests carry nothing else that names the service).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

REKOGNITION = "rekognition"
S3 = "s3"
# Served on the port besides Rekognition and S3: signing name -> the JSON target prefix it uses
# (None for the query protocol).
EMBEDDED_JSON = {"sqs": "AmazonSQS", "kinesis": "Kinesis_20131202"}
EMBEDDED_QUERY = ("sns", "sqs", "iam")
_TARGET_PREFIXES = {"RekognitionService": REKOGNITION} | {
    prefix: service for service, prefix in EMBEDDED_JSON.items()
}
SERVED = "Rekognition, S3, SNS, SQS, IAM and Kinesis"


@dataclass(frozen=True)
class Destination:
    # A signing name ("rekognition", "sns", "dynamodb" ...); for an unsigned request to a
    # service we cannot name, what the request did say (its target prefix), or None.
    service: str | None
    action: str | None = None  # the operation, when the request names it
    region: str | None = None  # from the credential scope
    access_key: str | None = None  # from the credential scope


def _scope(credential: str) -> tuple[str, str, str] | None:
    """(access key, region, service) of `AKID/date/region/service/aws4_request`."""
    parts = credential.split("/")
    if len(parts) == 5 and parts[4] == "aws4_request":
        return parts[0], parts[2], parts[3]
    return None


def _from_authorization(header: str) -> tuple[str, str, str] | None:
    # AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sns/aws4_request, SignedHeaders=...
    start = header.find("Credential=")
    if start < 0:
        return None
    value = header[start + 11 :]
    end = value.find(",")
    return _scope((value if end < 0 else value[:end]).strip())


def _from_presigned(query: str) -> tuple[str, str, str] | None:
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "X-Amz-Credential":
            return _scope(unquote(value))
    return None


def _form(query: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    """The query protocol's parameters: the URL query, plus a form body."""
    params = {k: v[0] for k, v in parse_qs(query).items()} if query else {}
    if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        params.update({k: v[0] for k, v in parse_qs(text).items()})
    return params


def route(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Destination:
    """The destination of one request (`headers` keyed in lower case)."""
    target = headers.get("x-amz-target")
    if target is not None and target.startswith("RekognitionService."):
        return Destination(REKOGNITION, target[19:])
    scope = None
    auth = headers.get("authorization")
    if auth and auth.startswith("AWS4-"):
        scope = _from_authorization(auth)
    elif "X-Amz-Credential=" in query:
        scope = _from_presigned(query)
    if target is not None:
        prefix, dot, operation = target.partition(".")
        if not dot and not scope:
            # Not `Service.Operation` at all: Rekognition's own error explains the form.
            return Destination(REKOGNITION)
        if scope:
            return Destination(scope[2], operation or None, scope[1], scope[0])
        return Destination(_TARGET_PREFIXES.get(prefix, prefix), operation or None)
    if scope and scope[2] == S3:
        return Destination(S3, None, scope[1], scope[0])
    params = _form(query, headers, body) if scope or "Action" in query or body else {}
    action = params.get("Action")
    if scope:
        return Destination(scope[2], action, scope[1], scope[0])
    if action:
        return Destination(_query_service(params.get("Version"), action, path), action)
    if method == "POST" and headers.get("content-type", "").startswith("application/x-amz-json"):
        return Destination(REKOGNITION)
    return Destination(S3)


def _query_service(version: str | None, action: str, path: str) -> str | None:
    """The served query-protocol service an unsigned `Action` belongs to, if any."""
    services = _query_services()
    if version:
        for service, (api_version, _) in services.items():
            if api_version == version:
                return service
    # SQS's query protocol sends queue calls to the queue URL: /<account>/<queue name>.
    if path.count("/") == 2 and path[1:13].isdigit() and action in services["sqs"][1]:
        return "sqs"
    for service, (_, actions) in services.items():
        if action in actions:
            return service
    return None


@functools.cache
def _query_services() -> dict[str, tuple[str, frozenset[str]]]:
    import botocore.session

    session = botocore.session.get_session()
    out = {}
    for service in EMBEDDED_QUERY:
        model = session.get_service_model(service)
        out[service] = (model.api_version, frozenset(model.operation_names))
    return out
