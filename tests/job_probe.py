"""Test-only operations and notifier for a live server's job engine (tests/test_jobs_crash.py).

tests/jobs_site/sitecustomize.py installs them in the server's child process:

    StartLabelDetection  submits a TestSteps job: JobTag "steps=N:delay=S" says how many
                         steps and how long each takes; ClientRequestToken and
                         NotificationChannel as AWS has them
    GetLabelDetection    the job's status and one page of its items (MaxResults, NextToken)

The completion notifier appends each message to the file REKOGNITION_EMULATOR_TEST_NOTIFY_LOG
(fsynced: it must survive the SIGKILL of the server). If REKOGNITION_EMULATOR_TEST_CRASH_MARK
names a file that does not exist yet, the first publish creates it and kills the server
with SIGKILL instead of publishing: a crash after the job's result is committed.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from typing import Any

from rekognition_emulator.emulator.jobs import engine, notify
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from tests import job_kinds  # noqa: F401 - registers the test kinds


def start(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    settings = dict(part.split("=", 1) for part in params.get("JobTag", "").split(":") if part)
    job = engine(ctx.state).submit(
        "TestSteps",
        account=ctx.account,
        region=ctx.region,
        params={
            **params,
            "Steps": int(settings.get("steps", 10)),
            "Delay": float(settings.get("delay", 0)),
        },
        client_token=params.get("ClientRequestToken"),
        notification=params.get("NotificationChannel"),
    )
    return {"JobId": job.job_id}


def get(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    jobs = engine(ctx.state)
    job = jobs.get(ctx.account, ctx.region, params["JobId"])
    out: dict[str, Any] = {"JobStatus": job.status}
    if job.status_message:
        out["StatusMessage"] = job.status_message
    items, token = jobs.results(
        job,
        purpose="GetLabelDetection",
        max_results=min(params.get("MaxResults") or 1000, 1000),
        next_token=params.get("NextToken"),
    )
    if job.finished:
        out["Labels"] = items
    if token:
        out["NextToken"] = token
    return out


def publish_to_file(account: str, region: str, topic_arn: str, message: str) -> str:
    mark = os.environ.get("REKOGNITION_EMULATOR_TEST_CRASH_MARK")
    if mark and not os.path.exists(mark):
        with open(mark, "w") as f:
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    message_id = str(uuid.uuid4())
    line = json.dumps({"topic": topic_arn, "message": json.loads(message), "id": message_id})
    with open(os.environ["REKOGNITION_EMULATOR_TEST_NOTIFY_LOG"], "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    return message_id


def install(registry: Any) -> None:
    original = registry.load_handlers

    def load_handlers() -> None:
        original()
        registry._HANDLERS.update({"StartLabelDetection": start, "GetLabelDetection": get})

    registry.load_handlers = load_handlers

    def publisher(state: AppState) -> notify.Publish:
        return publish_to_file

    notify.default_publisher = publisher  # type: ignore[assignment]
