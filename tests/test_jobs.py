"""The job engine in process: real SQLite files, the test kinds of tests/job_kinds.py, and
completion messages published through moto's SNS to an SQS queue subscribed to the topic.

(The crash behaviour, kill -9 of a live server mid-job, is in tests/test_jobs_crash.py.)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.sns.exceptions import SNSNotFoundError
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from starlette.requests import Request

from rekognition_emulator.emulator.jobs import SUCCEEDED, JobEngine, JobRecord, admin
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.context import AppState
from rekognition_emulator.emulator.store.db import Database
from rekognition_emulator.emulator.store.tokens import PageTokens, load_secret
from tests import job_kinds
from tests.job_kinds import gate, step_item

REGION = "us-east-1"


def moto_publish(account: str, region: str, topic_arn: str, message: str) -> str:
    """What the shell's aws.sns.publish does with the embedded SNS (interfaces.md)."""
    try:
        return sns_backends[account][region].publish(message=message, arn=topic_arn)
    except SNSNotFoundError as exc:
        raise LookupError(str(exc)) from None


@dataclass
class Inbox:
    """An SNS topic with an SQS queue subscribed to it, in moto, for one test's account."""

    account: str
    topic_arn: str
    queue: str

    @property
    def channel(self) -> dict[str, str]:
        return {
            "SNSTopicArn": self.topic_arn,
            "RoleArn": f"arn:aws:iam::{self.account}:role/AmazonRekognitionServiceRole",
        }

    def messages(self) -> list[dict[str, Any]]:
        """Every completion message delivered so far (the SNS envelope's Message)."""
        got = sqs_backends[self.account][REGION].receive_message(self.queue, 10, 0, 30)
        return [json.loads(json.loads(m.body)["Message"]) for m in got]


@pytest.fixture
def inbox() -> Inbox:
    account = "".join(secrets.choice("0123456789") for _ in range(12))
    topic = sns_backends[account][REGION].create_topic("AmazonRekognitionJobs")
    queue = sqs_backends[account][REGION].create_queue("job-inbox")
    sns_backends[account][REGION].subscribe(topic.arn, queue.queue_arn, "sqs")
    return Inbox(account, topic.arn, "job-inbox")


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_engine(tmp_path: Path, clock: Clock) -> Iterator:
    opened: list[tuple[JobEngine, Database]] = []

    def make(**options: Any) -> JobEngine:
        db = Database.open(tmp_path / "data")
        tokens = PageTokens(load_secret(tmp_path / "data" / "pagination.key"))
        options.setdefault("publish", moto_publish)
        engine = JobEngine(db, tokens, clock=clock, **options).start()
        opened.append((engine, db))
        return engine

    yield make
    for engine, db in opened:
        engine.close()
        db.close()


@pytest.fixture
def jobs(make_engine) -> JobEngine:
    return make_engine()


def submit(engine: JobEngine, kind: str, account: str = "111122223333", **options: Any):
    params = options.pop("params", {})
    return engine.submit(kind, account=account, region=REGION, params=params, **options)


def all_items(engine: JobEngine, job: JobRecord, page: int, **options: Any) -> list[list]:
    pages, token = [], None
    while True:
        items, token = engine.results(
            job, purpose="test", max_results=page, next_token=token, **options
        )
        pages.append(items)
        if token is None:
            return pages


# -- running and reading ---------------------------------------------------------------------
def test_a_job_runs_and_its_results_come_page_by_page(jobs):
    job = submit(jobs, "TestSteps", params={"Steps": 25}, wait_seconds=None)
    assert job.status == SUCCEEDED and job.progress == 1.0 and job.attempts == 1
    assert len(job.job_id) == 64 and set(job.job_id) <= set("0123456789abcdef")
    assert job.result == {"Steps": 25, "Attempt": 1}
    assert job.result_count == 25

    pages = all_items(jobs, job, 10)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [item for p in pages for item in p] == [step_item(i) for i in range(25)]
    # Exactly one page: no NextToken at all.
    assert jobs.results(job, purpose="test", max_results=25) == (
        [step_item(i) for i in range(25)],
        None,
    )


def test_results_are_arranged_at_read_time_and_tokens_belong_to_their_request(jobs):
    job = submit(jobs, "TestSteps", params={"Steps": 12}, wait_seconds=None)

    def by_confidence(items: list[dict]) -> list[dict]:
        return sorted(items, key=lambda i: (-i["Label"]["Confidence"], i["Timestamp"]))

    pages = all_items(jobs, job, 5, arrange=by_confidence)
    assert [item for p in pages for item in p] == by_confidence([step_item(i) for i in range(12)])
    _, token = jobs.results(job, purpose="test", max_results=5)
    other = submit(jobs, "TestSteps", params={"Steps": 12}, wait_seconds=None)
    for wrong in (
        lambda: jobs.results(job, purpose="another sort", max_results=5, next_token=token),
        lambda: jobs.results(other, purpose="test", max_results=5, next_token=token),
        lambda: jobs.results(job, purpose="test", max_results=5, next_token=token + "x"),
    ):
        with pytest.raises(errors.InvalidPaginationTokenException):
            wrong()


def test_a_job_is_visible_right_after_submit_and_a_bounded_wait_returns(jobs):
    job = submit(jobs, "TestGate", params={"Gate": "visible"})
    assert job.status == "IN_PROGRESS"
    assert jobs.get("111122223333", REGION, job.job_id).job_id == job.job_id
    # A bounded wait (what CreateProjectVersion does) returns with the job still running.
    started = time.monotonic()
    again = submit(jobs, "TestGate", params={"Gate": "visible"}, wait_seconds=0.2)
    assert again.status == "IN_PROGRESS" and again.job_id != job.job_id
    assert jobs.wait("111122223333", REGION, job.job_id, timeout=0.2).status == "IN_PROGRESS"
    assert time.monotonic() - started < 10  # bounded: it did not wait for the job
    gate("visible").set()
    assert jobs.wait("111122223333", REGION, job.job_id).status == SUCCEEDED


def test_jobs_are_scoped_by_account_and_region(jobs):
    job = submit(jobs, "TestSteps", params={"Steps": 1}, wait_seconds=None)
    for account, region in (("999988887777", REGION), ("111122223333", "eu-west-1")):
        with pytest.raises(errors.ResourceNotFoundException):
            jobs.get(account, region, job.job_id)


def test_sync_jobs_makes_a_submit_return_the_finished_job(make_engine):
    engine = make_engine(sync=True)
    assert submit(engine, "TestSteps", params={"Steps": 5, "Delay": 0.01}).status == SUCCEEDED


def test_failures_end_the_job_failed_with_a_message(jobs, inbox, caplog):
    failed = submit(
        jobs,
        "TestSteps",
        account=inbox.account,
        params={"Steps": 3, "Fail": True},
        notification=inbox.channel,
        wait_seconds=None,
    )
    assert failed.status == "FAILED"
    assert failed.status_message == "step 3 failed as the test asked"
    assert failed.result == {"Steps": 3}
    boom = submit(jobs, "TestBoom", wait_seconds=None)
    assert boom.status == "FAILED" and "RuntimeError" in boom.status_message
    assert "the test kind exploded" in caplog.text  # the details are in the log
    assert [m["Status"] for m in inbox.messages()] == ["FAILED"]


# -- notifications ----------------------------------------------------------------------------
def test_the_completion_message_reaches_the_queue_once(jobs, inbox):
    params = {
        "Video": {"S3Object": {"Bucket": "videos", "Name": "clip.mp4"}},
        "JobTag": "nightly-run",
        "Steps": 3,
    }
    job = submit(
        jobs,
        "TestSteps",
        account=inbox.account,
        params=params,
        notification=inbox.channel,
        wait_seconds=None,
    )
    # The waiters wake once the message is out.
    (message,) = inbox.messages()
    assert list(message) == ["JobId", "Status", "API", "JobTag", "Timestamp", "Video"]
    assert message["JobId"] == job.job_id and message["Status"] == SUCCEEDED
    assert message["API"] == "TestSteps" and message["JobTag"] == "nightly-run"
    assert message["Video"] == {"S3ObjectName": "clip.mp4", "S3Bucket": "videos"}
    done = jobs.get(inbox.account, REGION, job.job_id)
    assert message["Timestamp"] == int(round(done.finished_at * 1000))
    assert done.notify_outcome == "published" and done.message_id


def test_a_missing_topic_is_recorded_and_the_job_still_succeeds(jobs, inbox, caplog):
    channel = {**inbox.channel, "SNSTopicArn": inbox.topic_arn + "-gone"}
    job = submit(jobs, "TestSteps", account=inbox.account, notification=channel, wait_seconds=None)
    record = jobs.get(inbox.account, REGION, job.job_id)
    assert record.status == SUCCEEDED
    assert record.notify_outcome == f"not sent: the topic {channel['SNSTopicArn']} does not exist"
    assert channel["SNSTopicArn"] in caplog.text
    assert inbox.messages() == []


def test_a_publish_that_fails_is_tried_again_and_delivered_once(make_engine, inbox, clock):
    calls: list[str] = []

    def flaky(account: str, region: str, topic: str, message: str) -> str:
        calls.append(message)
        if len(calls) == 1:
            raise ConnectionError("SNS endpoint unreachable")
        return moto_publish(account, region, topic, message)

    engine = make_engine(publish=flaky)
    job = submit(
        engine, "TestSteps", account=inbox.account, notification=inbox.channel, wait_seconds=None
    )
    first = engine.get(inbox.account, REGION, job.job_id).notify_outcome
    assert first.startswith("not sent yet (1 tries): ConnectionError")
    clock.offset += 5  # past the retry pause
    deadline = time.monotonic() + 30
    while engine.get(inbox.account, REGION, job.job_id).notify_outcome != "published":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(calls) == 2 and len(inbox.messages()) == 1


# -- idempotency and limits -------------------------------------------------------------------
def test_the_same_token_and_parameters_give_the_same_job_and_one_message(jobs, inbox):
    def start() -> JobRecord:
        return submit(
            jobs,
            "TestSteps",
            account=inbox.account,
            params={"Steps": 4, "JobTag": "once", "ClientRequestToken": "tok-1"},
            client_token="tok-1",
            notification=inbox.channel,
        )

    first = start()
    second = start()
    assert second.job_id == first.job_id
    jobs.wait(inbox.account, REGION, first.job_id)
    third = start()  # after it finished: still the same job, not a new run
    assert third.job_id == first.job_id and third.attempts == 1
    assert len(jobs.list(account=inbox.account)) == 1
    assert [m["JobId"] for m in inbox.messages()] == [first.job_id]


def test_the_same_token_with_other_parameters_is_a_mismatch(jobs):
    submit(jobs, "TestSteps", params={"Steps": 4}, client_token="tok-2")
    expected = "The ClientRequestToken: tok-2 you have supplied is already in use."
    for other in (
        {"kind": "TestSteps", "params": {"Steps": 5}},
        {"kind": "TestSteps", "params": {"Steps": 4}, "notification": {"SNSTopicArn": "x"}},
        {"kind": "TestGate", "params": {"Steps": 4}},  # another Start operation
    ):
        with pytest.raises(errors.IdempotentParameterMismatchException) as raised:
            submit(jobs, other.pop("kind"), client_token="tok-2", **other)
        assert str(raised.value) == expected
    # Tokens are per account and region.
    elsewhere = submit(jobs, "TestSteps", account="999988887777", client_token="tok-2")
    assert elsewhere.account == "999988887777"


def test_open_jobs_are_limited_per_account_and_region(make_engine):
    engine = make_engine(max_concurrent_jobs=3, workers=1)
    opened = [submit(engine, "TestGate", params={"Gate": f"limit-{i}"}) for i in range(3)]
    with pytest.raises(errors.LimitExceededException) as raised:
        submit(engine, "TestGate", params={"Gate": "limit-3"})
    assert str(raised.value) == (
        "3 open Jobs for User arn:aws:iam::111122223333:root Maximum limit: 3"
    )
    # Other accounts and regions have their own room; kinds outside the limit do not count.
    submit(engine, "TestSteps", account="999988887777")
    engine.submit("TestSteps", account="111122223333", region="eu-west-1", params={})
    stream = submit(engine, "TestStream")
    # A finished job makes room for another.
    gate("limit-0").set()
    engine.wait("111122223333", REGION, opened[0].job_id)
    fourth = submit(engine, "TestGate", params={"Gate": "limit-3"})
    for i in (1, 2, 3):
        gate(f"limit-{i}").set()
    assert engine.wait("111122223333", REGION, fourth.job_id).status == SUCCEEDED
    engine.stop("111122223333", REGION, stream.job_id)


# -- stop, restart, retention -----------------------------------------------------------------
def test_a_long_running_job_runs_until_stopped(make_engine):
    engine = make_engine(workers=1)
    stream = submit(engine, "TestStream")
    blocker = submit(engine, "TestGate", params={"Gate": "stop-test"})  # holds the one worker
    queued = submit(engine, "TestSteps")
    time.sleep(0.2)
    assert engine.get("111122223333", REGION, stream.job_id).started_at is not None
    assert engine.get("111122223333", REGION, queued.job_id).queued

    # A queued job stops at once; a running one when its kind sees the request.
    assert engine.stop("111122223333", REGION, queued.job_id).status == "STOPPED"
    engine.stop("111122223333", REGION, stream.job_id)
    stopped = engine.wait("111122223333", REGION, stream.job_id, timeout=30)
    assert stopped.status == "STOPPED" and stopped.result["Ticks"] > 0
    gate("stop-test").set()
    assert engine.wait("111122223333", REGION, blocker.job_id).status == SUCCEEDED
    assert engine.wait("111122223333", REGION, queued.job_id).result is None


def test_a_shutdown_leaves_running_jobs_to_the_next_start(make_engine, inbox):
    first = make_engine()
    job = submit(
        first,
        "TestSteps",
        account=inbox.account,
        params={"Steps": 400, "Delay": 0.01},
        notification=inbox.channel,
    )
    deadline = time.monotonic() + 30
    while first.get(inbox.account, REGION, job.job_id).result_count == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first.close()
    first.db.close()
    left = Database.open(first.db.path.parent)
    row = left.reader().execute("SELECT status, attempts FROM jobs").fetchone()
    left.close()
    assert row == ("IN_PROGRESS", 1)

    second = make_engine()
    done = second.wait(inbox.account, REGION, job.job_id, timeout=60)
    assert done.status == SUCCEEDED and done.attempts == 2 and done.result["Attempt"] == 2
    items = [i for p in all_items(second, done, 1000) for i in p]
    assert items == [step_item(i) for i in range(400)]
    assert [m["JobId"] for m in inbox.messages()] == [job.job_id]


def test_finished_jobs_are_purged_after_the_retention_period(make_engine, clock):
    engine = make_engine(retention_days=7)
    old = submit(engine, "TestSteps", client_token="old-token", wait_seconds=None)
    clock.offset += 6 * 86400
    assert engine.purge() == 0
    recent = submit(engine, "TestSteps", wait_seconds=None)
    clock.offset += 1.5 * 86400
    assert engine.purge() == 1
    with pytest.raises(errors.ResourceNotFoundException):
        engine.get("111122223333", REGION, old.job_id)
    assert engine.get("111122223333", REGION, recent.job_id).status == SUCCEEDED
    rows = engine.db.reader().execute("SELECT count(*) FROM job_results").fetchone()[0]
    assert rows == 10  # the recent job's items only
    # The token went with its job: it may start a new one, with any parameters.
    again = submit(engine, "TestSteps", params={"Steps": 2}, client_token="old-token")
    assert again.job_id != old.job_id


def test_reset_forgets_every_job(jobs):
    running = submit(jobs, "TestGate", params={"Gate": "reset"})
    done = submit(jobs, "TestSteps", wait_seconds=None)
    jobs.reset()
    for job in (running, done):
        with pytest.raises(errors.ResourceNotFoundException):
            jobs.get("111122223333", REGION, job.job_id)
    assert submit(jobs, "TestSteps", wait_seconds=None).status == SUCCEEDED


# -- admin pages --------------------------------------------------------------------------------
def call_admin(endpoint, state: AppState, path: str, query: str = "", **path_params: str):
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [],
        "path_params": path_params,
    }
    response = asyncio.run(endpoint(Request(scope), state))
    return response.status_code, json.loads(response.body)


def test_the_admin_pages_list_and_show_jobs(jobs, inbox, tmp_path):
    state = AppState(Config(data_dir=tmp_path / "data"))
    state.singleton("jobs", lambda: jobs)
    done = submit(
        jobs, "TestSteps", account=inbox.account, notification=inbox.channel, wait_seconds=None
    )
    waiting = submit(jobs, "TestGate", params={"Gate": "admin"})
    try:
        status, body = call_admin(admin.list_jobs, state, "/_emulator/jobs")
        assert status == 200
        assert [j["job_id"] for j in body["jobs"]] == [waiting.job_id, done.job_id]
        status, body = call_admin(
            admin.list_jobs, state, "/_emulator/jobs", f"account={inbox.account}&status=succeeded"
        )
        assert [j["job_id"] for j in body["jobs"]] == [done.job_id]
        assert call_admin(admin.list_jobs, state, "/_emulator/jobs", "status=nope")[0] == 400

        status, page = call_admin(
            admin.get_job, state, f"/_emulator/jobs/{done.job_id}", job_id=done.job_id
        )
        assert status == 200
        assert page["status"] == SUCCEEDED and page["progress"] == 1.0
        assert page["kind"] == "TestSteps" and page["account"] == inbox.account
        assert page["result_items"] == 10 and page["attempts"] == 1
        assert page["submitted_at"] <= page["started_at"] <= page["finished_at"]
        assert page["notification"]["topic_arn"] == inbox.topic_arn
        assert page["notification"]["outcome"] == "published"
        assert page["notification"]["message_id"]
        missing = call_admin(admin.get_job, state, "/_emulator/jobs/nope", job_id="nope")
        assert missing[0] == 404
    finally:
        gate("admin").set()
        jobs.wait("111122223333", REGION, waiting.job_id)


def test_test_kinds_come_from_a_handler_module():
    # The engine found them by name, as it finds the kinds of handlers/ modules.
    from rekognition_emulator.emulator.jobs.kinds import kind_for

    assert kind_for("TestSteps").run is job_kinds.steps
    assert kind_for("TestStream").long_running and not kind_for("TestStream").limited


def test_many_waiters_see_the_finish(jobs):
    job = submit(jobs, "TestGate", params={"Gate": "many"})
    seen: list[str] = []
    waiters = [
        threading.Thread(
            target=lambda: seen.append(jobs.wait("111122223333", REGION, job.job_id).status)
        )
        for _ in range(8)
    ]
    for w in waiters:
        w.start()
    gate("many").set()
    for w in waiters:
        w.join(timeout=30)
    assert seen == [SUCCEEDED] * 8
