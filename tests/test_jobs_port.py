"""The job engine's completion message reaches a user's queue through the emulator's port:
the SNS topic, the SQS queue and its subscription are made with boto3 as AWS's stored-video
example makes them, a job runs, and boto3's receive_message reads the message."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.conftest import REPO, make_client
from tests.test_aws_services import video_setup


@pytest.fixture(scope="module")
def job_server():
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    proc = EmulatorProcess(env={"PYTHONPATH": path}, module="tests.job_probe")
    proc.start()
    yield proc
    proc.cleanup()


def test_a_finished_job_is_announced_on_the_subscribed_queue(job_server):
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    made = video_setup(session, "jobs-port", endpoint_url=job_server.endpoint)
    rekognition = make_client("rekognition", job_server.endpoint)
    sqs = make_client("sqs", job_server.endpoint)

    job_id = rekognition.start_label_detection(
        Video={"S3Object": {"Bucket": "videos", "Name": "clip.mp4"}},
        NotificationChannel={"SNSTopicArn": made["topic_arn"], "RoleArn": made["role_arn"]},
        JobTag="steps=3:delay=0",
    )["JobId"]

    received = sqs.receive_message(
        QueueUrl=made["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=20
    ).get("Messages", [])
    assert len(received) == 1
    envelope = json.loads(received[0]["Body"])
    assert envelope["TopicArn"] == made["topic_arn"]
    message = json.loads(envelope["Message"])
    assert message["JobId"] == job_id
    assert message["Status"] == "SUCCEEDED"
    assert message["API"] == "TestSteps"  # the kind's name (a video kind: its Start operation)
    assert message["Video"] == {"S3ObjectName": "clip.mp4", "S3Bucket": "videos"}

    status = rekognition.get_label_detection(JobId=job_id)["JobStatus"]
    assert status == "SUCCEEDED"
