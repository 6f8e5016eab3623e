"""A video job and a kill -9: after the restart the job runs again from the start, finishes
once, and its completion message reaches the subscribed queue once; the per-analysis
sampling setting (--video-sample-ms) is honoured."""

from __future__ import annotations

import json
import time

import boto3

from rekognition_emulator.emulator.testing import EmulatorProcess, all_pages, wait_for_job
from tests.conftest import make_client
from tests.test_aws_services import video_setup
from tests.test_jobs_crash import admin_page, settled_page
from tests.video_clips import mot_clip


def test_a_job_cut_short_by_a_kill_finishes_after_the_restart(tmp_path, testdata):
    args = ["--video-sample-ms", "PersonTracking=400"]
    server = EmulatorProcess(data_dir=tmp_path / "data", args=args)
    server.start()
    try:
        session = boto3.Session(
            aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
        )
        made = video_setup(session, "restart", endpoint_url=server.endpoint)
        s3 = make_client("s3", server.endpoint)
        s3.create_bucket(Bucket="videos")
        s3.put_object(Bucket="videos", Key="crowd.mp4", Body=mot_clip(testdata).read_bytes())
        rekognition = make_client("rekognition", server.endpoint)
        job_id = rekognition.start_person_tracking(
            Video={"S3Object": {"Bucket": "videos", "Name": "crowd.mp4"}},
            NotificationChannel={"SNSTopicArn": made["topic_arn"], "RoleArn": made["role_arn"]},
        )["JobId"]
        deadline = time.monotonic() + 60
        while admin_page(server.endpoint, job_id)["status"] != "IN_PROGRESS":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        server.kill()
    finally:
        server.stop()

    again = EmulatorProcess(data_dir=tmp_path / "data", args=args)
    again.start()
    try:
        rekognition = make_client("rekognition", again.endpoint)
        answer = wait_for_job(rekognition.get_person_tracking, job_id, timeout=120)
        assert answer["JobStatus"] == "SUCCEEDED"
        page = settled_page(again.endpoint, job_id)
        assert page["attempts"] == 2
        assert page["notification"]["outcome"] == "published"
        persons = [
            p for pg in all_pages(rekognition.get_person_tracking, job_id) for p in pg["Persons"]
        ]
        # Sampled every 400 ms, as configured: 0, 400 ... 4800 (25 fps: exact multiples).
        assert sorted({p["Timestamp"] for p in persons}) == list(range(0, 5000, 400))
        sqs = make_client("sqs", again.endpoint)
        queue = sqs.get_queue_url(QueueName="AmazonRekognition-restart")["QueueUrl"]
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        messages = [json.loads(json.loads(m["Body"])["Message"]) for m in received["Messages"]]
        assert [(m["JobId"], m["Status"]) for m in messages] == [(job_id, "SUCCEEDED")]
    finally:
        again.cleanup()
