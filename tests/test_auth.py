"""SigV4: strict verification and auth off, through boto3, the CLI and hand-signed requests.

The probe servers answer ListCollections with the caller as the emulator read it:
CollectionIds [account, region], FaceModelVersions [access key, request id].
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from unittest import mock

import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.auth import identify, parse_authorization
from rekognition_emulator.emulator.server.config import DEFAULT_ACCOUNT, account_for_access_key
from rekognition_emulator.emulator.server.config import Config as EmulatorConfig
from tests.conftest import make_client
from tests.test_protocol import assert_error_reply, aws_cli
from tests.wire import CONTENT_TYPE, TARGET, call, probe_server

KEY, SECRET = "AKIDSTRICTTEST", "strict-secret"
ACCOUNT_KEY, ACCOUNT_SECRET = "111122223333", "account-secret"


@pytest.fixture(scope="module")
def strict():
    server = probe_server(
        args=[
            "--auth",
            "strict",
            "--credentials",
            f"{KEY}:{SECRET}",
            "--credentials",
            f"{ACCOUNT_KEY}:{ACCOUNT_SECRET}",
        ]
    )
    server.start()
    yield server.endpoint
    server.cleanup()


@pytest.fixture(scope="module")
def loose():
    server = probe_server()
    server.start()
    yield server.endpoint
    server.cleanup()


def signed(
    endpoint: str,
    body: bytes = b"{}",
    *,
    key: str = KEY,
    secret: str = SECRET,
    region: str = "us-east-1",
    operation: str = "ListCollections",
    when: dt.datetime | None = None,
    extra: dict[str, str] | None = None,
    service: str = "rekognition",
) -> dict[str, str]:
    """Headers of a request signed with botocore's SigV4Auth (optionally at another time)."""
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Target": f"{TARGET}.{operation}",
            **(extra or {}),
        },
    )
    signer = SigV4Auth(Credentials(key, secret), service, region)
    now = (when or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        signer.add_auth(request)
    return dict(request.headers.items())


def echo(reply) -> dict:
    assert reply.status == 200, reply
    ids, versions = reply.json["CollectionIds"], reply.json["FaceModelVersions"]
    return {"account": ids[0], "region": ids[1], "key": versions[0]}


# -- strict: what passes ------------------------------------------------------------------
def test_boto3_call_passes(strict):
    client = make_client("rekognition", strict, region="eu-west-2", access_key=KEY, secret=SECRET)
    response = client.list_collections()
    assert response["CollectionIds"] == [DEFAULT_ACCOUNT, "eu-west-2"]
    assert response["FaceModelVersions"][0] == KEY


def test_twelve_digit_key_is_the_account(strict):
    client = make_client(
        "rekognition",
        strict,
        region="ap-northeast-1",
        access_key=ACCOUNT_KEY,
        secret=ACCOUNT_SECRET,
    )
    assert client.list_collections()["CollectionIds"] == [ACCOUNT_KEY, "ap-northeast-1"]


def test_cli_call_passes(strict):
    result = aws_cli(
        strict,
        "rekognition",
        "list-collections",
        env={
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "sa-east-1",
        },
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["CollectionIds"] == [DEFAULT_ACCOUNT, "sa-east-1"]


def test_js_sdk_style_signature_passes(strict):
    # The JS SDK signs nine headers, among them x-amz-content-sha256 and amz-sdk-invocation-id.
    body = b"{}"
    headers = signed(
        strict,
        body,
        extra={
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
            "amz-sdk-invocation-id": str(uuid.uuid4()),
            "amz-sdk-request": "attempt=1; max=3",
            "x-amz-user-agent": "aws-sdk-js/3.0.0",
        },
    )
    assert "amz-sdk-invocation-id" in headers["Authorization"]
    assert echo(call(strict, None, raw=body, headers=headers))["key"] == KEY


def test_signature_within_the_window_passes(strict):
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    assert echo(call(strict, None, raw=b"{}", headers=signed(strict, when=when)))["key"] == KEY


# -- strict: what fails -------------------------------------------------------------------
def expect(strict_reply, code: str) -> str:
    return assert_error_reply(strict_reply, 400, code)["message"]


def test_wrong_secret(strict):
    client = make_client("rekognition", strict, access_key=KEY, secret="not-the-secret")
    with pytest.raises(ClientError) as info:
        client.list_collections()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_wrong_secret_cli(strict):
    result = aws_cli(
        strict,
        "rekognition",
        "list-collections",
        env={"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "nope"},
    )
    assert result.returncode != 0
    assert "InvalidSignatureException" in result.stderr


@pytest.mark.parametrize("minutes", [-6, 6, -60 * 24])
def test_timestamp_outside_five_minutes(strict, minutes):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    message = expect(
        call(strict, None, raw=b"{}", headers=signed(strict, when=when)),
        "InvalidSignatureException",
    )
    assert ("expired" if minutes < 0 else "not yet current") in message


def test_unknown_key(strict):
    client = make_client("rekognition", strict, access_key="AKIDUNKNOWN", secret=SECRET)
    with pytest.raises(ClientError) as info:
        client.list_collections()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_no_authorization_raw(strict):
    reply = call(strict, "ListCollections", {})
    expect(reply, "MissingAuthenticationTokenException")


def test_unsigned_boto3(strict):
    client = make_client("rekognition", strict, signature_version=UNSIGNED)
    with pytest.raises(ClientError) as info:
        client.list_collections()
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"


def test_unsigned_cli(strict):
    result = aws_cli(strict, "rekognition", "list-collections", "--no-sign-request")
    assert result.returncode != 0
    assert "MissingAuthenticationTokenException" in result.stderr


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "AWS4-HMAC-SHA256 Credential=AKID", "AWS AKID:signature", "garbage"],
)
def test_unreadable_authorization(strict, header):
    reply = call(strict, "ListCollections", {}, headers={"Authorization": header})
    expect(reply, "IncompleteSignatureException")


def test_body_changed_after_signing(strict):
    headers = signed(strict, b'{"MaxResults": 1}')
    reply = call(strict, None, raw=b'{"MaxResults": 2}', headers=headers)
    expect(reply, "InvalidSignatureException")


def test_target_changed_after_signing(strict):
    headers = signed(strict)
    headers["X-Amz-Target"] = f"{TARGET}.DescribeCollection"
    expect(call(strict, None, raw=b"{}", headers=headers), "InvalidSignatureException")


def test_host_changed_after_signing(strict):
    headers = signed(strict.replace("127.0.0.1", "localhost"))
    expect(call(strict, None, raw=b"{}", headers=headers), "InvalidSignatureException")


def test_region_changed_after_signing(strict):
    headers = signed(strict, region="us-west-2")
    headers["Authorization"] = headers["Authorization"].replace("/us-west-2/", "/us-east-1/")
    expect(call(strict, None, raw=b"{}", headers=headers), "InvalidSignatureException")


def test_signature_for_another_service(strict):
    # Valid SigV4, but scoped to S3: AWS refuses it, so does the emulator.
    headers = signed(strict, service="s3")
    message = expect(call(strict, None, raw=b"{}", headers=headers), "InvalidSignatureException")
    assert "rekognition" in message


def test_declared_payload_hash_must_match(strict):
    headers = signed(strict, b"{}", extra={"x-amz-content-sha256": "0" * 64})
    expect(call(strict, None, raw=b"{}", headers=headers), "InvalidSignatureException")


def test_signed_header_missing_from_request(strict):
    headers = signed(strict, extra={"amz-sdk-invocation-id": "abc"})
    del headers["amz-sdk-invocation-id"]
    expect(call(strict, None, raw=b"{}", headers=headers), "InvalidSignatureException")


def test_missing_date(strict):
    headers = signed(strict)
    del headers["X-Amz-Date"]
    expect(call(strict, None, raw=b"{}", headers=headers), "IncompleteSignatureException")


def test_strict_server_keeps_serving(strict):
    client = make_client("rekognition", strict, access_key=KEY, secret=SECRET)
    assert client.list_collections()["FaceModelVersions"][0] == KEY
    health = call(strict, None, method="GET", path="/_emulator/health").json
    assert health["auth"] == "strict"


# -- auth off -----------------------------------------------------------------------------
def test_off_accepts_a_wrong_secret_and_an_unknown_key(loose):
    client = make_client("rekognition", loose, region="eu-central-1", access_key="ANY", secret="x")
    assert client.list_collections()["CollectionIds"] == [DEFAULT_ACCOUNT, "eu-central-1"]


def test_off_accepts_no_signature(loose):
    assert echo(call(loose, "ListCollections", {})) == {
        "account": DEFAULT_ACCOUNT,
        "region": "us-east-1",
        "key": "anonymous",
    }
    client = make_client("rekognition", loose, signature_version=UNSIGNED)
    assert client.list_collections()["CollectionIds"] == [DEFAULT_ACCOUNT, "us-east-1"]


def test_off_accepts_garbage_and_stale_signatures(loose):
    reply = call(loose, "ListCollections", {}, headers={"Authorization": "garbage"})
    assert echo(reply)["key"] == "anonymous"
    stale = signed(loose, when=dt.datetime.now(dt.UTC) - dt.timedelta(days=3), region="eu-north-1")
    assert echo(call(loose, None, raw=b"{}", headers=stale))["region"] == "eu-north-1"


def test_off_reads_the_account_from_a_twelve_digit_key(loose):
    client = make_client("rekognition", loose, region="us-west-1", access_key="444455556666")
    assert client.list_collections()["CollectionIds"] == ["444455556666", "us-west-1"]


def test_off_cli(loose):
    result = aws_cli(loose, "rekognition", "list-collections", "--no-sign-request")
    assert result.returncode == 0, result.stderr


# -- in process ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, account",
    [
        ("123456789012", "123456789012"),
        ("000000000001", "000000000001"),
        ("12345678901", DEFAULT_ACCOUNT),
        ("1234567890123", DEFAULT_ACCOUNT),
        ("AKIAIOSFODNN7EXAMPLE", DEFAULT_ACCOUNT),
        ("12345678901a", DEFAULT_ACCOUNT),
        (None, DEFAULT_ACCOUNT),
    ],
)
def test_account_for_access_key(key, account):
    assert account_for_access_key(key) == account


def test_parse_authorization():
    caller = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=555566667777/20240102/me-south-1/rekognition/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "ab" * 32
    )
    assert (caller.access_key, caller.account, caller.region) == (
        "555566667777",
        "555566667777",
        "me-south-1",
    )
    assert caller.service == "rekognition" and caller.date == "20240102"
    assert caller.signed_headers == ("content-type", "host", "x-amz-date", "x-amz-target")


def test_identify_strict_in_process():
    config = EmulatorConfig(auth="strict", credentials={KEY: SECRET})
    url = "http://127.0.0.1:4590/"
    headers = {k.lower(): v for k, v in signed("http://127.0.0.1:4590").items()}
    headers["host"] = "127.0.0.1:4590"  # added by the HTTP client on the wire
    caller = identify(config, "POST", url, headers, b"{}")
    assert caller.access_key == KEY
    with pytest.raises(errors.InvalidSignatureException):
        identify(config, "POST", url, headers, b"{ }")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    with pytest.raises(errors.InvalidSignatureException):
        identify(config, "POST", url, headers, b"{}", now=later)
