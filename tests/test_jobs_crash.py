"""kill -9 and the job engine, on a live server: a job cut short completes once after the
restart, with one notification, and a notification committed but not yet published when
the server died is published once after the restart.

The server runs tests/job_probe.py's StartLabelDetection / GetLabelDetection (a TestSteps
job: JobTag "steps=N:delay=S") and its notifier, which appends every completion message to
a file that outlives the process (an embedded SNS dies with the process it lives in).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.conftest import REPO, make_client
from tests.job_kinds import step_item

CHANNEL = {
    "SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionJobs",
    "RoleArn": "arn:aws:iam::123456789012:role/AmazonRekognitionServiceRole",
}
VIDEO = {"S3Object": {"Bucket": "videos", "Name": "clip.mp4"}}


def job_server(tmp_path: Path, **env: str) -> EmulatorProcess:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return EmulatorProcess(
        data_dir=tmp_path / "data",
        env={
            "PYTHONPATH": path,
            "REKOGNITION_EMULATOR_TEST_NOTIFY_LOG": str(tmp_path / "notifications.jsonl"),
            **env,
        },
        module="tests.job_probe",
    )


def notifications(tmp_path: Path) -> list[dict[str, Any]]:
    try:
        lines = (tmp_path / "notifications.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line)["message"] for line in lines]


def admin_page(endpoint: str, job_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_emulator/jobs/{job_id}", timeout=10) as r:
        return json.loads(r.read())


def stored_job(tmp_path: Path) -> tuple[str, int]:
    with sqlite3.connect(tmp_path / "data" / "rekognition.sqlite3") as conn:
        return conn.execute("SELECT status, attempts FROM jobs").fetchone()


def wait_until(check, what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def settled_page(endpoint: str, job_id: str) -> dict[str, Any]:
    """The job's admin page once its notification is no longer pending: the message goes out
    just after the result is committed (as AWS's comes a moment after Get says SUCCEEDED)."""

    def page() -> dict[str, Any] | None:
        found = admin_page(endpoint, job_id)
        return None if found["notification"]["outcome"] == "pending" else found

    return wait_until(page, "the notification to be sent", seconds=10)


def all_labels(rek, job_id: str) -> list[dict[str, Any]]:
    wait_until(
        lambda: rek.get_label_detection(JobId=job_id)["JobStatus"] != "IN_PROGRESS",
        "the job to finish",
    )
    labels, token = [], None
    while True:
        page = rek.get_label_detection(
            JobId=job_id, MaxResults=15, **({"NextToken": token} if token else {})
        )
        assert page["JobStatus"] == "SUCCEEDED"
        labels += page["Labels"]
        token = page.get("NextToken")
        if not token:
            return labels


def test_a_job_cut_short_by_kill_9_completes_once_after_the_restart(tmp_path):
    start = {
        "Video": VIDEO,
        "JobTag": "steps=60:delay=0.05",
        "ClientRequestToken": "crash-test-1",
        "NotificationChannel": CHANNEL,
    }
    server = job_server(tmp_path)
    try:
        rek = make_client("rekognition", server.start())
        job_id = rek.start_label_detection(**start)["JobId"]
        wait_until(lambda: admin_page(server.endpoint, job_id)["result_items"] > 0, "stored items")
        server.kill()
    finally:
        server.cleanup()
    assert stored_job(tmp_path) == ("IN_PROGRESS", 1)  # killed mid-run, as meant
    with sqlite3.connect(tmp_path / "data" / "rekognition.sqlite3") as conn:
        (cut_short,) = conn.execute("SELECT count(*) FROM job_results").fetchone()
    assert 0 < cut_short < 60  # items of the first run, to be discarded by the second
    assert notifications(tmp_path) == []

    server = job_server(tmp_path)
    try:
        rek = make_client("rekognition", server.start())
        # The token still names the job: no second one.
        assert rek.start_label_detection(**start)["JobId"] == job_id
        labels = all_labels(rek, job_id)
        assert labels == [step_item(i) for i in range(60)]
        page = settled_page(server.endpoint, job_id)
        assert page["status"] == "SUCCEEDED" and page["attempts"] == 2
        assert page["notification"]["outcome"] == "published"
        (message,) = notifications(tmp_path)
        assert message["JobId"] == job_id and message["Status"] == "SUCCEEDED"
        assert message["JobTag"] == start["JobTag"]
        assert message["Video"] == {"S3ObjectName": "clip.mp4", "S3Bucket": "videos"}
        server.stop()
        # A later start finds nothing left to do or to send.
        rek = make_client("rekognition", server.start())
        assert len(all_labels(rek, job_id)) == 60
        time.sleep(1.5)  # past the housekeeper's first rounds
        assert len(notifications(tmp_path)) == 1
    finally:
        server.cleanup()


def test_a_message_committed_but_not_published_is_published_once_after_kill_9(tmp_path):
    mark = tmp_path / "crashed-while-publishing"
    server = job_server(tmp_path, REKOGNITION_EMULATOR_TEST_CRASH_MARK=str(mark))
    try:
        rek = make_client("rekognition", server.start())
        job_id = rek.start_label_detection(
            Video=VIDEO, JobTag="steps=3:delay=0", NotificationChannel=CHANNEL
        )["JobId"]
        assert server.proc is not None
        assert server.proc.wait(timeout=60) == -9  # the notifier killed it mid-publish
    finally:
        server.cleanup()
    assert mark.exists() and notifications(tmp_path) == []
    assert stored_job(tmp_path) == ("SUCCEEDED", 1)

    server = job_server(tmp_path, REKOGNITION_EMULATOR_TEST_CRASH_MARK=str(mark))
    try:
        rek = make_client("rekognition", server.start())
        (message,) = wait_until(lambda: notifications(tmp_path), "the notification")
        assert message["JobId"] == job_id and message["Status"] == "SUCCEEDED"
        assert [label["Label"]["Name"] for label in all_labels(rek, job_id)] == [
            "step-000",
            "step-001",
            "step-002",
        ]
        assert admin_page(server.endpoint, job_id)["notification"]["outcome"] == "published"
        time.sleep(1.5)
        assert len(notifications(tmp_path)) == 1
    finally:
        server.cleanup()
