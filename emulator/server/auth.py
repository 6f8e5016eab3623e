"""SigV4: read who is calling (access key, region) and, in strict mode, check the signature.

Verification rebuilds the request from the signed headers only and runs botocore's own
SigV4Auth (canonical request -> string to sign -> signature), so the emulator agrees
with every SDK byte for byte.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.config import (
    DEFAULT_REGION,
    Config,
    account_for_access_key,
)

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<akid>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*"
    r"Signature=(?P<signature>[0-9a-f]+)"
)
MAX_SKEW = dt.timedelta(minutes=5)
SERVICE = "rekognition"
SIGV4_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Caller:
    access_key: str | None
    region: str
    account: str
    service: str | None = None
    date: str | None = None
    signed_headers: tuple[str, ...] = ()
    signature: str | None = None


def parse_authorization(header: str | None) -> Caller:
    """The caller from an Authorization header; anonymous (default account/region) if none."""
    if not header:
        return Caller(None, DEFAULT_REGION, account_for_access_key(None))
    match = _AUTH_RE.match(header.strip())
    if match is None:
        raise errors.IncompleteSignatureException(
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            "in the AWS4-HMAC-SHA256 format"
        )
    akid = match["akid"]
    return Caller(
        access_key=akid,
        region=match["region"],
        account=account_for_access_key(akid),
        service=match["service"],
        date=match["date"],
        signed_headers=tuple(match["signed"].split(";")),
        signature=match["signature"],
    )


def identify(
    config: Config,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    now: dt.datetime | None = None,
) -> Caller:
    """Who is calling; in strict mode also proves the request was signed by a known key.

    `headers` must be keyed in lower case with the values exactly as received.
    """
    header = headers.get("authorization")
    if config.auth == "off":
        try:
            return parse_authorization(header)
        except errors.AWSError:
            # Auth off accepts anything, even a header we cannot read.
            return parse_authorization(None)
    if not header:
        raise errors.MissingAuthenticationTokenException("Missing Authentication Token")
    caller = parse_authorization(header)
    secret = config.credentials.get(caller.access_key or "")
    if secret is None:
        raise errors.UnrecognizedClientException(
            "The security token included in the request is invalid."
        )
    if caller.service != SERVICE:
        # A client set up with another signing name would be refused by AWS, so here too.
        raise errors.InvalidSignatureException(
            f"Credential should be scoped to correct service: '{SERVICE}'. "
        )
    _check_timestamp(headers, now or dt.datetime.now(dt.UTC))
    _check_signature(caller, secret, method, url, headers, body)
    return caller


def _check_timestamp(headers: dict[str, str], now: dt.datetime) -> None:
    stamp = headers.get("x-amz-date")
    if not stamp:
        raise errors.IncompleteSignatureException("Authorization requires an X-Amz-Date header")
    try:
        when = dt.datetime.strptime(stamp, SIGV4_TIME_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise errors.IncompleteSignatureException(
            f"X-Amz-Date {stamp!r} is not in the form YYYYMMDDTHHMMSSZ"
        ) from None
    if abs(now - when) > MAX_SKEW:
        raise errors.InvalidSignatureException(
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - MAX_SKEW).strftime(SIGV4_TIME_FORMAT)} "
            f"({now.strftime(SIGV4_TIME_FORMAT)} - 5 min.)"
            if when < now
            else f"Signature not yet current: {stamp} is still later than "
            f"{(now + MAX_SKEW).strftime(SIGV4_TIME_FORMAT)} "
            f"({now.strftime(SIGV4_TIME_FORMAT)} + 5 min.)"
        )


def _check_signature(
    caller: Caller, secret: str, method: str, url: str, headers: dict[str, str], body: bytes
) -> None:
    signed = {name: headers[name] for name in caller.signed_headers if name in headers}
    missing = [name for name in caller.signed_headers if name not in headers]
    if missing:
        raise errors.InvalidSignatureException(
            f"Signed header(s) missing from the request: {', '.join(missing)}"
        )
    declared = headers.get("x-amz-content-sha256")
    if declared and declared != "UNSIGNED-PAYLOAD" and declared != hashlib.sha256(body).hexdigest():
        raise errors.InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    request = AWSRequest(method=method, url=url, headers=signed, data=body)
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(caller.access_key, secret), caller.service or "", caller.region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, caller.signature or ""):
        raise errors.InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details."
        )
