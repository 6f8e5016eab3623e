"""The job engine: Start*/Get* video jobs, media analysis, Custom Labels training and
dataset updates, stream processors. See engine.py for what it guarantees.

Handler modules register kinds (`@job_kind("StartLabelDetection")`) and reach the server's
engine with `engine(ctx.state)`:

    job = engine(ctx.state).submit("StartLabelDetection", account=ctx.account,
                                   region=ctx.region, params=params,
                                   client_token=params.get("ClientRequestToken"),
                                   notification=params.get("NotificationChannel"))
    return {"JobId": job.job_id}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rekognition_emulator.emulator.jobs import notify
from rekognition_emulator.emulator.jobs.context import JobContext, JobFailed
from rekognition_emulator.emulator.jobs.engine import JobEngine
from rekognition_emulator.emulator.jobs.kinds import JobKind, hex64, job_kind
from rekognition_emulator.emulator.jobs.notify import Publish, video_message
from rekognition_emulator.emulator.jobs.records import (
    FAILED,
    IN_PROGRESS,
    STOPPED,
    SUCCEEDED,
    JobRecord,
)

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

SERVICE_KEY = "jobs"


def engine(state: AppState) -> JobEngine:
    """The server's job engine, started (unfinished jobs queued again) on first use."""

    def build() -> JobEngine:
        from rekognition_emulator.emulator.store import database
        from rekognition_emulator.emulator.store.tokens import PageTokens, load_secret

        tokens = PageTokens(load_secret(state.config.data_dir / "pagination.key"))
        return JobEngine.from_config(
            database(state),
            tokens,
            state.config,
            publish=notify.default_publisher(state),
            state=state,
        ).start()

    return state.singleton(SERVICE_KEY, build)


__all__ = [
    "FAILED",
    "IN_PROGRESS",
    "STOPPED",
    "SUCCEEDED",
    "JobContext",
    "JobEngine",
    "JobFailed",
    "JobKind",
    "JobRecord",
    "Publish",
    "engine",
    "hex64",
    "job_kind",
    "video_message",
]
