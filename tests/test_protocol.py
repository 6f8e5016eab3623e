"""The AWS JSON 1.1 front door, through boto3, the AWS CLI and raw HTTP against live servers."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import socket
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.server.service_model import operation_model, operation_names
from tests.conftest import make_client
from tests.shape_check import assert_valid_response, validate_responses
from tests.wire import SECRET_MARKER, call, implemented_operations

AWS = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "aws")


def aws_cli(endpoint: str, *args: str, env: dict[str, str] | None = None):
    exe = AWS if os.path.exists(AWS) else "aws"
    full_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **(env or {}),
    }
    return subprocess.run(
        [exe, *args, "--endpoint-url", endpoint, "--output", "json"],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def unimplemented(probe) -> str:
    """An operation with no required input that the probe server does not serve (all 75 are
    built: the probe's table leaves one out, so the 501 path stays tested)."""
    implemented = set(implemented_operations(probe.endpoint))
    for name in sorted(operation_names()):
        shape = operation_model(name).input_shape
        if name not in implemented and (shape is None or not shape.required_members):
            return name
    pytest.fail("the probe server serves every operation: nothing answers 501")


def assert_error_reply(reply, status: int, code: str) -> dict:
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"
    body = reply.json
    assert set(body) == {"__type", "message"}, body
    assert body["__type"] == code, body
    assert reply.headers["x-amzn-errortype"] == code
    uuid.UUID(reply.headers["x-amzn-requestid"])
    assert isinstance(body["message"], str) and body["message"]
    return body


# -- unimplemented operations -------------------------------------------------------------
def test_unimplemented_operation_raw(probe, unimplemented):
    endpoint = probe.endpoint
    body = assert_error_reply(call(endpoint, unimplemented, {}), 501, "NotImplementedException")
    assert unimplemented in body["message"]


def test_unimplemented_operation_boto3(probe, unimplemented):
    rekognition = make_client("rekognition", probe.endpoint)
    with pytest.raises(ClientError) as info:
        getattr(rekognition, xform_name(unimplemented))()
    error = info.value.response
    assert error["Error"]["Code"] == "NotImplementedException"
    assert unimplemented in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    request_id = error["ResponseMetadata"]["RequestId"]
    assert request_id == error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    uuid.UUID(request_id)


def test_unimplemented_operation_cli(probe, unimplemented):
    endpoint = probe.endpoint
    result = aws_cli(endpoint, "rekognition", xform_name(unimplemented, "-"))
    assert result.returncode != 0
    assert "NotImplementedException" in result.stderr
    assert unimplemented in result.stderr


def test_every_operation_of_the_model_is_routed(endpoint):
    """All 75 operations reach the dispatcher: none is unknown, none crashes on `{}`."""
    names = operation_names()
    assert len(names) >= 75
    for name in names:
        reply = call(endpoint, name, {})
        assert reply.error_type != "UnknownOperationException", (name, reply)
        assert reply.status in (200, 400, 501), (name, reply)
        if reply.status == 501:
            assert reply.error_type == "NotImplementedException" and name in reply.json["message"]


# -- unknown targets ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "RekognitionService.NoSuchOperation",
        "RekognitionService.listCollections",
        "RekognitionService.",
        "ListCollections",
        "Rekognition.ListCollections",
        "AWSCognitoIdentityService.ListCollections",
    ],
)
def test_unknown_target(endpoint, target):
    reply = call(endpoint, None, {}, target=target)
    assert_error_reply(reply, 400, "UnknownOperationException")


def test_json_body_without_target_is_an_unknown_operation(endpoint):
    reply = call(endpoint, None, {"CollectionId": "x"})
    body = assert_error_reply(reply, 400, "UnknownOperationException")
    assert "X-Amz-Target" in body["message"]


# -- malformed bodies ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b"{bad json",
        b'{"CollectionId": ',
        b"[]",
        b'["CollectionId"]',
        b'"a string"',
        b"42",
        b"null",
        b"true",
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
    ],
    ids=lambda r: repr(r[:16]),
)
@pytest.mark.parametrize("operation", ["CreateCollection", "unimplemented"])
def test_malformed_body_is_a_serialization_exception(probe, unimplemented, raw, operation):
    endpoint = probe.endpoint
    op = unimplemented if operation == "unimplemented" else operation
    assert_error_reply(call(endpoint, op, raw=raw), 400, "SerializationException")


@pytest.mark.parametrize(
    "operation, body",
    [
        ("CreateCollection", {"CollectionId": 42}),
        ("CreateCollection", {"CollectionId": ["a"]}),
        ("ListCollections", {"MaxResults": "ten"}),
        ("ListCollections", {"MaxResults": 1.5}),
        ("ListCollections", {"MaxResults": True}),
        ("DetectFaces", {"Image": "not an object"}),
        ("DetectFaces", {"Image": {"Bytes": 12}}),
        ("DetectFaces", {"Image": {"Bytes": "not base64!!"}}),
        ("DetectFaces", {"Image": {"Bytes": "aGVsbG8="}, "Attributes": "ALL"}),
        ("SearchFaces", {"CollectionId": "c", "FaceId": "f", "FaceMatchThreshold": "high"}),
        ("TagResource", {"ResourceArn": "a" * 20, "Tags": ["k", "v"]}),
    ],
)
def test_wrong_json_types_are_serialization_exceptions(endpoint, operation, body):
    assert_error_reply(call(endpoint, operation, body), 400, "SerializationException")


def test_non_finite_numbers_are_serialization_exceptions(endpoint):
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        raw = b'{"CollectionId": "c", "FaceId": "f", "FaceMatchThreshold": ' + literal + b"}"
        assert_error_reply(call(endpoint, "SearchFaces", raw=raw), 400, "SerializationException")


def test_empty_body_reads_as_no_members(probe, unimplemented):
    endpoint = probe.endpoint
    # Empty means {}: the request is dispatched (here to the 501 of an unimplemented operation).
    assert call(endpoint, unimplemented, raw=b"").status == 501
    reply = call(endpoint, "CreateCollection", raw=b"")
    assert_error_reply(reply, 400, "ValidationException")


# -- error and response envelopes ---------------------------------------------------------
def test_request_ids_are_unique_uuids(probe, unimplemented):
    endpoint = probe.endpoint
    ids = {call(endpoint, unimplemented, {}).headers["x-amzn-requestid"] for _ in range(20)}
    assert len(ids) == 20
    for value in ids:
        uuid.UUID(value)


def test_success_carries_request_id_and_fits_the_model(probe):
    reply = call(probe.endpoint, "ListCollections", {})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"
    # The probe echoes the request id its handler saw: it is the header's.
    assert reply.json["FaceModelVersions"][1] == reply.headers["x-amzn-requestid"]
    assert "x-amzn-errortype" not in reply.headers
    assert_valid_response("ListCollections", reply.json, raw=True)


def test_boto3_success_and_shape(probe):
    client = validate_responses(make_client("rekognition", probe.endpoint))
    response = client.list_collections()
    assert_valid_response("ListCollections", response)
    assert response["CollectionIds"] == ["123456789012", "us-east-1"]
    meta = response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200 and meta["RequestId"] == response["FaceModelVersions"][1]


def test_serialiser_converts_datetimes_and_numpy_scalars(probe):
    client = validate_responses(make_client("rekognition", probe.endpoint))
    response = client.describe_collection(CollectionId="probe")
    assert response["FaceCount"] == 3 and response["UserCount"] == 0
    assert response["CreationTimestamp"] == dt.datetime(2024, 1, 2, 3, 4, 5, 500000, dt.UTC)
    raw = call(probe.endpoint, "DescribeCollection", {"CollectionId": "probe"}).json
    assert raw["CreationTimestamp"] == 1704164645.5  # epoch seconds on the wire


def test_cli_success(probe):
    result = aws_cli(probe.endpoint, "rekognition", "list-collections", "--region", "ap-south-1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["CollectionIds"] == ["123456789012", "ap-south-1"]


# -- unexpected failures ------------------------------------------------------------------
def test_unexpected_exception_is_an_internal_server_error_without_traceback(probe):
    reply = call(probe.endpoint, "DetectLabels", {"Image": {"Bytes": "aGVsbG8="}})
    body = assert_error_reply(reply, 500, "InternalServerError")
    for leak in (SECRET_MARKER, "Traceback", "RuntimeError", "File ", ".py"):
        assert leak not in reply.body.decode(), reply.body
    assert reply.headers["x-amzn-requestid"] in body["message"]
    # ... and the operator finds the whole story in the log.
    log = probe.log()
    assert "Traceback" in log and SECRET_MARKER in log
    assert reply.headers["x-amzn-requestid"] in log


def test_internal_server_error_through_boto3(probe):
    client = make_client("rekognition", probe.endpoint)
    with pytest.raises(client.exceptions.InternalServerError) as info:
        client.detect_labels(Image={"Bytes": b"hello"})
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert SECRET_MARKER not in str(info.value)


def test_failure_while_serialising_is_an_internal_server_error(probe):
    reply = call(probe.endpoint, "DetectText", {"Image": {"Bytes": "aGVsbG8="}})
    assert_error_reply(reply, 500, "InternalServerError")
    assert "object" not in reply.json["message"]


# -- other paths --------------------------------------------------------------------------
def test_health(endpoint, server):
    health = call(endpoint, None, method="GET", path="/_emulator/health").json
    assert health["status"] == "ok"
    assert health["auth"] == "off"
    assert health["data_dir"] == str(server.data_dir)
    assert health["s3"] == "embedded"
    assert isinstance(health["operations_implemented"], list)
    assert "version" in health and "models" in health


def test_reset_answers(probe):
    reply = call(probe.endpoint, None, raw=b"", method="POST", path="/_emulator/reset")
    assert reply.status == 200 and reply.json == {"reset": True}


def test_everything_else_is_s3(endpoint):
    reply = call(endpoint, None, raw=b"", method="GET", path="/")
    assert reply.status == 200
    assert b"ListAllMyBucketsResult" in reply.body
    assert "x-amzn-errortype" not in reply.headers


def test_concurrent_requests(probe):
    def one(_: int) -> int:
        return call(probe.endpoint, "ListCollections", {}).status

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert set(pool.map(one, range(64))) == {200}


def test_server_keeps_serving_after_bad_input(probe, unimplemented):
    endpoint = probe.endpoint
    url = urlsplit(endpoint)
    # Garbage that is not HTTP at all, a request cut off mid-body, and a lying length.
    for junk in (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: RekognitionService.ListCollections\r\n"
        b"Content-Length: 100\r\n\r\n{",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    ):
        with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            try:
                sock.recv(65536)
            except OSError:
                pass
    for raw in (b"{", b"[]", b"\x00" * 1000):
        call(endpoint, "CreateCollection", raw=raw)
    call(endpoint, None, {}, target="Nope.Nope")
    health = call(endpoint, None, method="GET", path="/_emulator/health")
    assert health.status == 200 and health.json["status"] == "ok"
    assert call(endpoint, unimplemented, {}).status == 501
