"""SNS, SQS, IAM and Kinesis on the emulator's port, as a Rekognition user's code calls them:
AWS's stored-video example setup with AWS_ENDPOINT_URL set for every service, SQS long polls
beside other traffic, state kept across a kill -9, and other services' own errors."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.conftest import make_client
from tests.wire import call

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "rekognition.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture(scope="module")
def server():
    proc = EmulatorProcess()
    proc.start()
    yield proc
    proc.cleanup()


def queue_policy(queue_arn: str, topic_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "SQS:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


def video_setup(session: boto3.Session, name: str, **client_args) -> dict:
    """The calls of AWS's stored-video example (aws-doc-sdk-examples, rekognition_video_detection.py):
    a topic, a queue allowed to receive from it and subscribed to it, a role Rekognition may
    assume with a policy that lets it publish."""
    sns = session.client("sns", **client_args)
    sqs = session.client("sqs", **client_args)
    iam = session.client("iam", **client_args)
    topic_arn = sns.create_topic(Name=f"AmazonRekognition-{name}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"AmazonRekognition-{name}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": queue_policy(queue_arn, topic_arn)}
    )
    subscription_arn = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)[
        "SubscriptionArn"
    ]
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    policy = iam.create_policy(
        PolicyName=f"{name}-publish",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "SNS:Publish", "Resource": topic_arn}],
            }
        ),
    )
    iam.attach_role_policy(RoleName=f"{name}-role", PolicyArn=policy["Policy"]["Arn"])
    return {
        "topic_arn": topic_arn,
        "queue_url": queue_url,
        "queue_arn": queue_arn,
        "subscription_arn": subscription_arn,
        "role_arn": role["Role"]["Arn"],
        "role_id": role["Role"]["RoleId"],
        "policy_arn": policy["Policy"]["Arn"],
    }


def test_stored_video_example_with_aws_endpoint_url(server, monkeypatch):
    # The user's code is unchanged: only the environment points every service here.
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    session = boto3.Session()
    made = video_setup(session, "example")
    assert made["topic_arn"] == "arn:aws:sns:us-east-1:123456789012:AmazonRekognition-example"
    assert made["subscription_arn"].startswith(made["topic_arn"] + ":")
    assert made["role_arn"] == "arn:aws:iam::123456789012:role/example-role"

    sns, sqs, iam = (session.client(s) for s in ("sns", "sqs", "iam"))
    attached = iam.list_attached_role_policies(RoleName="example-role")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [made["policy_arn"]]
    # The managed policy some AWS examples attach instead exists too.
    iam.attach_role_policy(
        RoleName="example-role",
        PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonRekognitionServiceRole",
    )
    policy = sqs.get_queue_attributes(QueueUrl=made["queue_url"], AttributeNames=["Policy"])
    assert (
        json.loads(policy["Attributes"]["Policy"])["Statement"][0]["Resource"]
        == (made["queue_arn"])
    )
    subs = sns.list_subscriptions_by_topic(TopicArn=made["topic_arn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("sqs", made["queue_arn"])]

    # A message published to the topic arrives on the queue, in SNS's envelope.
    sns.publish(TopicArn=made["topic_arn"], Message=json.dumps({"JobId": "j1"}))
    messages = sqs.receive_message(QueueUrl=made["queue_url"], WaitTimeSeconds=5)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["TopicArn"] == made["topic_arn"]
    assert json.loads(envelope["Message"]) == {"JobId": "j1"}

    # Rekognition answers on the same endpoint.
    assert "CollectionIds" in session.client("rekognition").list_collections()


def test_kinesis_stream_round_trip(server):
    kinesis = make_client("kinesis", server.endpoint)
    kinesis.create_stream(StreamName="faces-out", ShardCount=1)
    description = kinesis.describe_stream(StreamName="faces-out")["StreamDescription"]
    assert description["StreamStatus"] == "ACTIVE"
    assert description["StreamARN"] == "arn:aws:kinesis:us-east-1:123456789012:stream/faces-out"
    kinesis.put_record(StreamName="faces-out", Data=b'{"face": 1}', PartitionKey="k")
    iterator = kinesis.get_shard_iterator(
        StreamName="faces-out",
        ShardId=description["Shards"][0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in records] == [b'{"face": 1}']


def test_accounts_are_kept_apart(server):
    # A 12-digit access key is that account, for every service as for Rekognition.
    other = make_client("sns", server.endpoint, access_key="444455556666")
    arn = other.create_topic(Name="theirs")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:444455556666:theirs"
    mine = make_client("sns", server.endpoint)
    assert arn not in [t["TopicArn"] for t in mine.list_topics()["Topics"]]


def test_a_long_poll_blocks_nothing_and_a_publish_wakes_it(server):
    sns = make_client("sns", server.endpoint)
    sqs = make_client("sqs", server.endpoint, read_timeout=30)
    topic = sns.create_topic(Name="wake")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="wake")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    got: dict = {}

    def poll() -> None:
        started = time.monotonic()
        got["reply"] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10)
        got["seconds"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    # While the poll waits: Rekognition and SNS answer.
    assert make_client("rekognition", server.endpoint).list_collections()["CollectionIds"] == []
    sns.publish(TopicArn=topic, Message="wake up")
    assert poller.is_alive() or "reply" in got  # the poll was waiting, not finished early
    poller.join(timeout=15)
    body = json.loads(got["reply"]["Messages"][0]["Body"])
    assert body["Message"] == "wake up"
    assert got["seconds"] < 9  # woken by the publish, not by the end of the wait


def test_many_long_polls_leave_room_for_rekognition(server):
    sqs = make_client("sqs", server.endpoint, read_timeout=30, max_pool_connections=50)
    queue_url = sqs.create_queue(QueueName="crowd")["QueueUrl"]
    # More waiting polls than the server's general thread pool (40) has threads.
    polls = [
        threading.Thread(
            target=sqs.receive_message, kwargs={"QueueUrl": queue_url, "WaitTimeSeconds": 4}
        )
        for _ in range(45)
    ]
    for t in polls:
        t.start()
    time.sleep(1)
    started = time.monotonic()
    make_client("rekognition", server.endpoint).list_collections()
    answered_in = time.monotonic() - started
    alive = sum(t.is_alive() for t in polls)
    for t in polls:
        t.join(timeout=20)
    assert alive >= 40, "the polls should still have been waiting"
    assert answered_in < 3, f"Rekognition waited {answered_in:.1f}s behind the long polls"


def _query_call(endpoint: str, path: str, params: dict) -> tuple[int, ET.Element]:
    """One SQS call in the query protocol (form body, XML answer), as older SDKs make it."""
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"})
    request = AWSRequest(
        method="POST",
        url=endpoint + path,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials("AKIAQUERY", "secret"), "sqs", "us-east-1").add_auth(request)
    reply = call(endpoint, None, raw=body.encode(), headers=dict(request.headers), path=path)
    return reply.status, ET.fromstring(reply.body)


def test_sqs_query_protocol(server):
    status, root = _query_call(server.endpoint, "/", {"Action": "CreateQueue", "QueueName": "old"})
    assert status == 200, ET.tostring(root)
    url = next(e.text for e in root.iter() if e.tag.endswith("QueueUrl"))
    path = urllib.parse.urlsplit(url).path
    status, _ = _query_call(server.endpoint, path, {"Action": "SendMessage", "MessageBody": "m"})
    assert status == 200
    status, root = _query_call(server.endpoint, path, {"Action": "ReceiveMessage"})
    assert [e.text for e in root.iter() if e.tag.split("}")[-1] == "Body"] == ["m"]


@pytest.mark.parametrize(
    "service, call_it, code, title",
    [
        ("dynamodb", lambda c: c.list_tables(), "UnknownOperationException", "DynamoDB"),
        ("sts", lambda c: c.get_caller_identity(), "InvalidAction", "STS"),
        ("ec2", lambda c: c.describe_instances(), "InvalidAction", "EC2"),
        ("lambda", lambda c: c.list_functions(), "UnknownOperationException", "Lambda"),
    ],
)
def test_other_services_get_their_own_error_naming_them(server, service, call_it, code, title):
    client = make_client(service, server.endpoint)
    with pytest.raises(ClientError) as info:
        call_it(client)
    error = info.value.response["Error"]
    assert error["Code"] == code
    assert f"does not serve {title}" in error["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unsigned_unknown_action_is_an_invalid_action(server):
    reply = call(
        server.endpoint,
        None,
        raw=b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 400
    assert b"<Code>InvalidAction</Code>" in reply.body


# -- what survives a restart --------------------------------------------------------------
def _describe_everything(endpoint: str, made: dict) -> dict:
    sns = make_client("sns", endpoint)
    sqs = make_client("sqs", endpoint)
    iam = make_client("iam", endpoint)
    kinesis = make_client("kinesis", endpoint)
    queue_url = sqs.get_queue_url(QueueName="AmazonRekognition-kept")["QueueUrl"]
    return {
        "topic": sns.get_topic_attributes(TopicArn=made["topic_arn"])["Attributes"]["DisplayName"],
        "topic_tags": sns.list_tags_for_resource(ResourceArn=made["topic_arn"])["Tags"],
        "subscriptions": [
            (s["SubscriptionArn"], s["Endpoint"])
            for s in sns.list_subscriptions_by_topic(TopicArn=made["topic_arn"])["Subscriptions"]
        ],
        "raw": sns.get_subscription_attributes(SubscriptionArn=made["subscription_arn"])[
            "Attributes"
        ]["RawMessageDelivery"],
        "queue": sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["Policy", "VisibilityTimeout", "QueueArn"]
        )["Attributes"],
        "role": iam.get_role(RoleName="kept-role")["Role"]["RoleId"],
        "attached": iam.list_attached_role_policies(RoleName="kept-role")["AttachedPolicies"],
        "inline": iam.list_role_policies(RoleName="kept-role")["PolicyNames"],
        "policy": iam.get_policy(PolicyArn=made["policy_arn"])["Policy"]["DefaultVersionId"],
        "stream": kinesis.describe_stream_summary(StreamName="kept")["StreamDescriptionSummary"][
            "OpenShardCount"
        ],
    }


def test_resources_survive_a_kill_9_and_still_work(tmp_path):
    first = EmulatorProcess(data_dir=tmp_path / "data")
    first.start()
    try:
        session = boto3.Session(
            aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="s", region_name="us-east-1"
        )
        args = {"endpoint_url": first.endpoint, "config": Config(retries={"max_attempts": 1})}
        made = video_setup(session, "kept", **args)
        sns = session.client("sns", **args)
        sns.set_topic_attributes(
            TopicArn=made["topic_arn"], AttributeName="DisplayName", AttributeValue="Jobs"
        )
        sns.tag_resource(ResourceArn=made["topic_arn"], Tags=[{"Key": "team", "Value": "vision"}])
        sns.set_subscription_attributes(
            SubscriptionArn=made["subscription_arn"],
            AttributeName="RawMessageDelivery",
            AttributeValue="true",
        )
        sqs = session.client("sqs", **args)
        sqs.set_queue_attributes(QueueUrl=made["queue_url"], Attributes={"VisibilityTimeout": "45"})
        iam = session.client("iam", **args)
        iam.put_role_policy(
            RoleName="kept-role",
            PolicyName="inline",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                }
            ),
        )
        iam.create_policy_version(
            PolicyArn=made["policy_arn"],
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "SNS:*", "Resource": "*"}],
                }
            ),
            SetAsDefault=True,
        )
        session.client("kinesis", **args).create_stream(StreamName="kept", ShardCount=2)
        before = _describe_everything(first.endpoint, made)
    finally:
        first.kill()  # SIGKILL right after the last success: no shutdown hook runs
    assert before["policy"] == "v2"

    second = EmulatorProcess(data_dir=tmp_path / "data")
    second.start()
    try:
        after = _describe_everything(second.endpoint, made)
        # Queue URLs follow the port; everything else is as the clients were told.
        assert after == before
        # The restored subscription delivers (raw delivery: the bare message).
        make_client("sns", second.endpoint).publish(TopicArn=made["topic_arn"], Message="again")
        sqs = make_client("sqs", second.endpoint)
        url = sqs.get_queue_url(QueueName="AmazonRekognition-kept")["QueueUrl"]
        assert url.startswith(second.endpoint)
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
        assert messages[0]["Body"] == "again"
        # Reset forgets them, on disk too.
        assert call(second.endpoint, None, raw=b"", path="/_emulator/reset").status == 200
        assert make_client("sns", second.endpoint).list_topics()["Topics"] == []
    finally:
        second.stop()
    third = EmulatorProcess(data_dir=tmp_path / "data")
    third.start()
    try:
        assert make_client("iam", third.endpoint).list_roles()["Roles"] == []
        assert make_client("kinesis", third.endpoint).list_streams()["StreamNames"] == []
    finally:
        third.cleanup()


def test_js_sdk_v3_sns_and_sqs_on_the_port(server, tmp_path):
    from rekognition_emulator.conformance.js_runner import ensure_installed

    work, why = ensure_installed()
    if work is None:
        pytest.skip(why)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "endpoint": server.endpoint,
                "region": "eu-west-1",
                "accessKeyId": "AKIAJS",
                "secretAccessKey": "secret",
                "name": "js-jobs",
                "message": '{"Status":"SUCCEEDED"}',
            }
        )
    )
    proc = subprocess.run(
        ["node", str(work / "sns_sqs.js"), str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    result = json.loads(proc.stdout or "{}")
    assert "error" not in result, (result, proc.stderr[-2000:])
    assert result["topicArn"] == "arn:aws:sns:eu-west-1:123456789012:js-jobs"
    assert result["queueUrl"] == f"{server.endpoint}/123456789012/js-jobs"
    assert json.loads(json.loads(result["bodies"][0])["Message"]) == {"Status": "SUCCEEDED"}
    assert result["missingTopicError"] == "NotFoundException"
