"""AWS's stored-video example (aws-doc-sdk-examples, python/example_code/rekognition/
rekognition_video_detection.py), run as written against the emulator's port alone: the
video uploaded to S3, an SNS topic with an SQS queue subscribed and an IAM role, each job
started with the NotificationChannel, its completion message received from the queue, and
the Get* read to the last page. Jobs run in the background here, as they do on AWS (the
session's server, tests/conftest.py)."""

from __future__ import annotations

import json

import boto3
import numpy as np
import pytest

from rekognition_emulator.conformance.videos import pyav_missing
from rekognition_emulator.emulator.testing import all_pages, wait_for_job
from tests.conftest import make_client
from tests.test_aws_services import video_setup
from tests.video_clips import mot_clip


def poll_notification(queue, job_id: str) -> dict:
    """The example's poll_notification: the queue's next message, for this job."""
    for _ in range(24):  # the example loops until a message comes; 2 minutes is plenty
        messages = queue.receive_messages(MaxNumberOfMessages=1, WaitTimeSeconds=5)
        if messages:
            body = json.loads(messages[0].body)
            message = json.loads(body["Message"])
            assert message["JobId"] == job_id
            messages[0].delete()
            return message
    raise AssertionError(f"no completion message for {job_id}")


def test_the_stored_video_example_runs_end_to_end(server, testdata):
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    endpoint = {"endpoint_url": server.endpoint}
    s3 = session.resource("s3", **endpoint)
    bucket = s3.create_bucket(Bucket="doc-example-bucket-rekognition")
    video_object = bucket.Object("mot20.mp4")
    video_object.upload_file(str(mot_clip(testdata)))
    made = video_setup(session, "doc-example-video-rekognition", **endpoint)
    queue = session.resource("sqs", **endpoint).Queue(made["queue_url"])
    rekognition = make_client("rekognition", server.endpoint)
    video = {"S3Object": {"Bucket": video_object.bucket_name, "Name": video_object.key}}
    channel = {"RoleArn": made["role_arn"], "SNSTopicArn": made["topic_arn"]}

    # Label detection, as the example's do_label_detection.
    job_id = rekognition.start_label_detection(
        Video=video, NotificationChannel=channel, JobTag="example-labels"
    )["JobId"]
    assert len(job_id) == 64 and int(job_id, 16) >= 0  # 64 lowercase hex, as AWS's
    message = poll_notification(queue, job_id)
    assert list(message) == ["JobId", "Status", "API", "JobTag", "Timestamp", "Video"]
    assert message["Status"] == "SUCCEEDED"
    assert message["API"] == "StartLabelDetection"
    assert message["JobTag"] == "example-labels"
    assert message["Video"] == {"S3ObjectName": "mot20.mp4", "S3Bucket": bucket.name}

    pages = all_pages(rekognition.get_label_detection, job_id, MaxResults=5)
    assert len(pages) > 1 and "NextToken" not in pages[-1]
    for page in pages:  # VideoMetadata and the echo on every page
        assert page["JobStatus"] == "SUCCEEDED"
        assert page["VideoMetadata"]["Format"] == "QuickTime / MOV"
        assert page["VideoMetadata"]["Codec"] == "h264"
        assert page["VideoMetadata"]["FrameRate"] == 25.0
        assert (page["VideoMetadata"]["FrameWidth"], page["VideoMetadata"]["FrameHeight"]) == (
            826,
            540,
        )
        assert page["JobId"] == job_id and page["Video"] == video
        assert page["JobTag"] == "example-labels"
        assert len(page["Labels"]) <= 5
    labels = [item for page in pages for item in page["Labels"]]
    assert labels == rekognition.get_label_detection(JobId=job_id)["Labels"]
    person = [item for item in labels if item["Label"]["Name"] == "Person"]
    # A crowd: a Person with boxes at every sampled frame of the 5 s clip.
    assert {item["Timestamp"] for item in person} == {
        0,
        520,
        1000,
        1520,
        2000,
        2520,
        3000,
        3520,
        4000,
        4520,
        5000,
    }
    assert all(len(item["Label"]["Instances"]) >= 5 for item in person)

    # Person tracking, as do_person_tracking, without a JobTag this time.
    job_id = rekognition.start_person_tracking(Video=video, NotificationChannel=channel)["JobId"]
    message = poll_notification(queue, job_id)
    assert "JobTag" not in message
    assert (message["Status"], message["API"]) == ("SUCCEEDED", "StartPersonTracking")
    persons = wait_for_job(rekognition.get_person_tracking, job_id)["Persons"]
    assert {p["Person"]["Index"] for p in persons} >= {0, 1, 2}


def test_a_video_aws_cannot_read_fails_the_job_and_says_so(server, tmp_path):
    if pyav_missing():
        pytest.skip(pyav_missing())
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:  # MPEG-4 part 2: not H.264
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    made = video_setup(session, "unreadable", endpoint_url=server.endpoint)
    s3 = make_client("s3", server.endpoint)
    s3.create_bucket(Bucket="unreadable")
    s3.put_object(Bucket="unreadable", Key="clip.mp4", Body=path.read_bytes())
    rekognition = make_client("rekognition", server.endpoint)
    queue = session.resource("sqs", endpoint_url=server.endpoint).Queue(made["queue_url"])
    job_id = rekognition.start_face_detection(
        Video={"S3Object": {"Bucket": "unreadable", "Name": "clip.mp4"}},
        NotificationChannel={"RoleArn": made["role_arn"], "SNSTopicArn": made["topic_arn"]},
    )["JobId"]
    message = poll_notification(queue, job_id)
    assert (message["Status"], message["API"]) == ("FAILED", "StartFaceDetection")
    answer = wait_for_job(rekognition.get_face_detection, job_id)
    assert answer["JobStatus"] == "FAILED"
    assert answer["StatusMessage"].startswith("Unsupported codec/format.")
    assert "mpeg4" in answer["StatusMessage"]
    assert "Faces" not in answer
