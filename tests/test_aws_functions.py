"""What emulator/aws/ gives the rest of the emulator (the job engine, stream processors ...):
sns.publish, kinesis.put_record, s3.head_object / put_object and the ARN builders, each
against the embedded services and against an external endpoint, checked with boto3."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import botocore.session
import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.aws import arns, kinesis, s3, sns
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.app import create_app
from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.context import AppState
from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.conftest import make_client
from tests.wire import app_server

ACCOUNT, REGION = "123456789012", "us-east-1"


class Served:
    def __init__(self, endpoint: str, state: AppState) -> None:
        self.endpoint = endpoint
        self.state = state


@pytest.fixture
def embedded(tmp_path) -> Iterator[Served]:
    """An emulator app in this process: the test calls its aws functions with its state."""
    app = create_app(Config(data_dir=tmp_path / "data"), {})
    with app_server(app) as endpoint:
        yield Served(endpoint, app.state.emulator)
        app.state.emulator.reset()  # moto's backends are this process's: leave them empty


def subscribed_queue(endpoint: str, name: str) -> tuple[str, str]:
    """(topic ARN, queue URL) of a topic with a queue subscribed to it."""
    topic = make_client("sns", endpoint).create_topic(Name=name)["TopicArn"]
    sqs = make_client("sqs", endpoint)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    make_client("sns", endpoint).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, url


def completion_message() -> str:
    # The shape of Rekognition Video's notification (shared/design/VIDEO.md section 3).
    return json.dumps(
        {
            "JobId": "0f1e2d3c" * 8,
            "Status": "SUCCEEDED",
            "API": "StartLabelDetection",
            "Timestamp": 1585084620784,
            "Video": {"S3ObjectName": "video.mp4", "S3Bucket": "b"},
        },
        separators=(",", ":"),
    )


def received(endpoint: str, queue_url: str) -> list[dict]:
    sqs = make_client("sqs", endpoint)
    reply = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)
    return [json.loads(m["Body"]) for m in reply.get("Messages", [])]


# -- sns.publish ----------------------------------------------------------------------------
def test_a_published_notification_arrives_on_the_subscribed_queue(embedded):
    topic, queue_url = subscribed_queue(embedded.endpoint, "AmazonRekognitionJobs")
    message = completion_message()
    message_id = sns.publish(embedded.state, ACCOUNT, REGION, topic, message)
    envelope = received(embedded.endpoint, queue_url)[0]
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    assert envelope["MessageId"] == message_id
    # How AWS's example reads it: json.loads(json.loads(body)["Message"])["Status"].
    assert json.loads(envelope["Message"])["Status"] == "SUCCEEDED"
    assert envelope["Message"] == message


@pytest.mark.parametrize(
    "topic",
    [
        "arn:aws:sns:us-east-1:123456789012:never-created",
        "arn:aws:sns:eu-west-3:123456789012:AmazonRekognitionJobs",
        "arn:aws:sns:us-east-1:999999999999:AmazonRekognitionJobs",
        "arn:aws:sqs:us-east-1:123456789012:AmazonRekognitionJobs",
        "not an arn",
    ],
)
def test_publishing_to_a_missing_topic_is_a_lookup_error(embedded, topic):
    make_client("sns", embedded.endpoint).create_topic(Name="AmazonRekognitionJobs")
    with pytest.raises(LookupError):
        sns.publish(embedded.state, ACCOUNT, REGION, topic, "{}")


# -- kinesis.put_record ---------------------------------------------------------------------
def read_stream(endpoint: str, name: str) -> list[tuple[bytes, str]]:
    client = make_client("kinesis", endpoint)
    shard = client.describe_stream(StreamName=name)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return [
        (r["Data"], r["PartitionKey"])
        for r in client.get_records(ShardIterator=iterator)["Records"]
    ]


def test_put_record_is_read_back_by_a_consumer(embedded):
    make_client("kinesis", embedded.endpoint).create_stream(StreamName="out", ShardCount=1)
    stream = arns.kinesis_stream(REGION, ACCOUNT, "out")
    kinesis.put_record(embedded.state, ACCOUNT, REGION, stream, b'{"FaceSearchResponse":[]}', "p1")
    kinesis.put_record(embedded.state, ACCOUNT, REGION, stream, b"\x00\xff", "p2")
    assert read_stream(embedded.endpoint, "out") == [
        (b'{"FaceSearchResponse":[]}', "p1"),
        (b"\x00\xff", "p2"),
    ]
    with pytest.raises(LookupError):
        kinesis.put_record(embedded.state, ACCOUNT, REGION, stream + "-gone", b"x", "p")
    with pytest.raises(kinesis.PutRecordError):
        kinesis.put_record(embedded.state, ACCOUNT, REGION, stream, b"x" * 1_048_577, "p")


# -- s3.head_object / put_object ------------------------------------------------------------
def test_put_then_head_object(embedded):
    client = make_client("s3", embedded.endpoint)
    client.create_bucket(Bucket="results")
    s3.put_object(embedded.state, ACCOUNT, "results", "job/1.json", b'{"ok":1}', "application/json")
    got = client.get_object(Bucket="results", Key="job/1.json")
    assert got["Body"].read() == b'{"ok":1}' and got["ContentType"] == "application/json"
    assert s3.head_object(embedded.state, ACCOUNT, "results", "job/1.json") == 8
    with pytest.raises(errors.InvalidS3ObjectException):
        s3.head_object(embedded.state, ACCOUNT, "results", "job/2.json")
    with pytest.raises(errors.InvalidS3ObjectException):
        s3.head_object(embedded.state, ACCOUNT, "no-such-bucket", "k")
    with pytest.raises(errors.InvalidS3ObjectException):
        s3.put_object(embedded.state, ACCOUNT, "no-such-bucket", "k", b"", "text/plain")
    # Written through to the data dir like a client's upload.
    assert any((embedded.state.config.data_dir / "s3").rglob("*.bin"))


def test_head_object_of_a_version(embedded):
    client = make_client("s3", embedded.endpoint)
    client.create_bucket(Bucket="versions")
    client.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket="versions", Key="v.mp4", Body=b"12345")["VersionId"]
    client.put_object(Bucket="versions", Key="v.mp4", Body=b"123")
    assert s3.head_object(embedded.state, ACCOUNT, "versions", "v.mp4", first) == 5
    assert s3.head_object(embedded.state, ACCOUNT, "versions", "v.mp4") == 3


# -- everything at an external endpoint ----------------------------------------------------
@pytest.fixture(scope="module")
def outside() -> Iterator[str]:
    """A plain emulator as the stand-in for LocalStack / moto server."""
    server = EmulatorProcess()
    server.start()
    yield server.endpoint
    server.cleanup()


@pytest.fixture
def pointed_outside(tmp_path, outside) -> Iterator[Served]:
    config = Config(
        data_dir=tmp_path / "data",
        s3_endpoint_url=outside,
        sns_endpoint_url=outside,
        sqs_endpoint_url=outside,
        kinesis_endpoint_url=outside,
    )
    app = create_app(config, {})
    with app_server(app) as endpoint:
        yield Served(endpoint, app.state.emulator)


def test_external_endpoints_receive_the_emulators_own_writes(pointed_outside, outside):
    state = pointed_outside.state
    topic, queue_url = subscribed_queue(outside, "external-jobs")
    message_id = sns.publish(state, ACCOUNT, REGION, topic, completion_message())
    envelope = received(outside, queue_url)[0]
    assert envelope["MessageId"] == message_id
    with pytest.raises(LookupError):
        sns.publish(state, ACCOUNT, REGION, topic + "-gone", "{}")

    make_client("kinesis", outside).create_stream(StreamName="external-out", ShardCount=1)
    stream = arns.kinesis_stream(REGION, ACCOUNT, "external-out")
    kinesis.put_record(state, ACCOUNT, REGION, stream, b"record", "pk")
    assert read_stream(outside, "external-out") == [(b"record", "pk")]
    with pytest.raises(LookupError):
        kinesis.put_record(state, ACCOUNT, REGION, stream + "-gone", b"x", "pk")

    make_client("s3", outside).create_bucket(Bucket="external-results")
    s3.put_object(state, ACCOUNT, "external-results", "r.json", b"{}", "application/json")
    assert s3.head_object(state, ACCOUNT, "external-results", "r.json") == 2
    with pytest.raises(errors.InvalidS3ObjectException):
        s3.head_object(state, ACCOUNT, "external-results", "missing")


@pytest.mark.parametrize(
    "service, call_it",
    [
        ("sns", lambda c: c.list_topics()),
        ("sqs", lambda c: c.list_queues()),
        ("kinesis", lambda c: c.list_streams()),
        ("s3", lambda c: c.list_buckets()),
    ],
)
def test_an_external_service_is_not_served_here(pointed_outside, outside, service, call_it):
    with pytest.raises(ClientError) as info:
        call_it(make_client(service, pointed_outside.endpoint))
    assert outside in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # IAM has no external option: still served here.
    assert make_client("iam", pointed_outside.endpoint).list_roles()["Roles"] == []


# -- ARNs --------------------------------------------------------------------------------------
def _pattern(shape: str) -> str:
    model = botocore.session.get_session().get_service_model("rekognition")
    return model.shape_for(shape).metadata["pattern"]


@pytest.mark.parametrize(
    "made, shape",
    [
        (arns.project("eu-west-1", ACCOUNT, "my-proj", 1700000000000), "ProjectArn"),
        (
            arns.project_version("eu-west-1", ACCOUNT, "p", "v.1", 1700000000001),
            "ProjectVersionArn",
        ),
        (arns.dataset("eu-west-1", ACCOUNT, "p", "TRAIN", 1700000000002), "DatasetArn"),
        (arns.stream_processor("eu-west-1", ACCOUNT, "sp"), "StreamProcessorArn"),
        (arns.kinesis_stream("eu-west-1", ACCOUNT, "s"), "KinesisDataArn"),
        (arns.sns_topic("eu-west-1", ACCOUNT, "AmazonRekognitionT"), "SNSTopicArn"),
        (arns.iam_role(ACCOUNT, "video-role"), "RoleArn"),
    ],
)
def test_arns_match_the_service_models_patterns(made, shape):
    assert re.fullmatch(_pattern(shape), made), made


def test_collection_arn_is_awss_documented_form():
    assert arns.collection("us-east-1", ACCOUNT, "my-collection") == (
        "arn:aws:rekognition:us-east-1:123456789012:collection/my-collection"
    )
    assert arns.collection("cn-north-1", ACCOUNT, "c").startswith("arn:aws-cn:rekognition:")
    parsed = arns.parse(arns.collection("us-east-1", ACCOUNT, "a/b"))
    assert (parsed.service, parsed.region, parsed.account, parsed.resource) == (
        "rekognition",
        "us-east-1",
        ACCOUNT,
        "collection/a/b",
    )
    with pytest.raises(ValueError):
        arns.parse("aws:rekognition:us-east-1:123456789012:collection/x")
