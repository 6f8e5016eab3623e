"""Which service a request is for, read as AWS's front ends read it."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rekognition_emulator.emulator.server.router import Destination, route

JSON_10 = "application/x-amz-json-1.0"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def signed(service: str, *, target: str | None = None, body: bytes = b"", ctype=FORM):
    headers = {"Content-Type": ctype}
    if target:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url="http://127.0.0.1:4590/", data=body, headers=headers)
    SigV4Auth(Credentials("111122223333", "s"), service, "eu-west-1").add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


@pytest.mark.parametrize(
    "service, target, body, action",
    [
        ("sns", None, b"Action=CreateTopic&Name=t&Version=2010-03-31", "CreateTopic"),
        ("iam", None, b"Action=CreateRole&Version=2010-05-08", "CreateRole"),
        ("sqs", "AmazonSQS.CreateQueue", b"{}", "CreateQueue"),
        ("kinesis", "Kinesis_20131202.PutRecord", b"{}", "PutRecord"),
        ("dynamodb", "DynamoDB_20120810.ListTables", b"{}", "ListTables"),
        ("sts", None, b"Action=GetCallerIdentity&Version=2011-06-15", "GetCallerIdentity"),
    ],
)
def test_the_credential_scope_names_the_service(service, target, body, action):
    headers = signed(service, target=target, body=body, ctype=JSON_10 if target else FORM)
    dest = route("POST", "/", "", headers, body)
    assert dest == Destination(service, action, "eu-west-1", "111122223333")


def test_presigned_urls_are_read_from_the_query():
    request = AWSRequest(method="GET", url="http://127.0.0.1:4590/bucket/key")
    SigV4QueryAuth(Credentials("AKID", "s"), "s3", "us-west-2").add_auth(request)
    query = request.url.split("?", 1)[1]
    assert route("GET", "/bucket/key", query, {}, b"") == Destination(
        "s3", None, "us-west-2", "AKID"
    )


def test_a_rekognition_target_wins_over_a_misscoped_signature():
    headers = signed(
        "s3", target="RekognitionService.ListCollections", ctype="application/x-amz-json-1.1"
    )
    assert route("POST", "/", "", headers, b"{}").service == "rekognition"


@pytest.mark.parametrize(
    "query, body, service",
    [
        ("", b"Action=Publish&TopicArn=x&Version=2010-03-31", "sns"),
        ("Action=ListRoles&Version=2010-05-08", b"", "iam"),
        ("", b"Action=ListQueues&Version=2012-11-05", "sqs"),
        # No version: the action says which served service it is.
        ("", b"Action=CreateTopic", "sns"),
        ("", b"Action=GetCallerIdentity", None),
    ],
)
def test_unsigned_query_requests_by_version_then_action(query, body, service):
    headers = {"content-type": FORM} if body else {}
    assert route("POST", "/", query, headers, body).service == service


def test_unsigned_sqs_query_call_on_a_queue_url():
    body = b"Action=AddPermission&Label=l"  # also an SNS action: the queue URL decides
    dest = route("POST", "/123456789012/jobs", "", {"content-type": FORM}, body)
    assert dest.service == "sqs"


@pytest.mark.parametrize(
    "method, headers, service",
    [
        ("POST", {"x-amz-target": "AmazonSQS.ListQueues", "content-type": JSON_10}, "sqs"),
        ("POST", {"x-amz-target": "DynamoDB_20120810.ListTables"}, "DynamoDB_20120810"),
        ("POST", {"x-amz-target": "ListCollections"}, "rekognition"),
        ("POST", {"content-type": "application/x-amz-json-1.1"}, "rekognition"),
        ("GET", {"content-type": "application/x-amz-json-1.1"}, "s3"),
        ("GET", {}, "s3"),
        ("PUT", {"authorization": "AWS AKID:c2lnbmF0dXJl"}, "s3"),  # SigV2
    ],
)
def test_unsigned_requests(method, headers, service):
    assert route(method, "/", "", headers, b"").service == service
