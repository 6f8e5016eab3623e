"""A job as stored: what Get*, Describe* and the admin pages read."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
STOPPED = "STOPPED"  # a stop was asked for (stream processors, cancelled jobs)
FINISHED = (SUCCEEDED, FAILED, STOPPED)

JOB_COLUMNS = (
    "pk, job_id, account, region, kind, status, params, notification, progress, "
    "status_message, result, result_count, attempts, stop_requested, submitted_at, "
    "started_at, finished_at, notify_outcome, message_id, notified_at"
)


@dataclass(frozen=True)
class JobRecord:
    pk: int
    job_id: str
    account: str
    region: str
    kind: str
    status: str
    params: dict[str, Any]
    notification: dict[str, Any] | None  # {"SNSTopicArn", "RoleArn"} as the Start call gave it
    progress: float  # 0..1
    status_message: str | None
    result: dict[str, Any] | None  # the document the kind returned
    result_count: int  # result items stored
    attempts: int  # runs started (more than one after a restart cut a run short)
    stop_requested: bool
    submitted_at: float
    started_at: float | None  # of the latest run
    finished_at: float | None
    notify_outcome: str | None
    message_id: str | None
    notified_at: float | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> JobRecord:
        return cls(
            pk=row[0],
            job_id=row[1],
            account=row[2],
            region=row[3],
            kind=row[4],
            status=row[5],
            params=json.loads(row[6]),
            notification=json.loads(row[7]) if row[7] else None,
            progress=row[8],
            status_message=row[9],
            result=json.loads(row[10]) if row[10] else None,
            result_count=row[11],
            attempts=row[12],
            stop_requested=bool(row[13]),
            submitted_at=row[14],
            started_at=row[15],
            finished_at=row[16],
            notify_outcome=row[17],
            message_id=row[18],
            notified_at=row[19],
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def queued(self) -> bool:
        """Waiting for a worker (IN_PROGRESS as AWS reports it, not started yet)."""
        return self.status == IN_PROGRESS and self.started_at is None

    def admin(self) -> dict[str, Any]:
        """The /_emulator/jobs view: status, progress, timings, notification outcome."""
        ran = None
        if self.started_at is not None:
            ran = (self.finished_at or dt.datetime.now(tz=dt.UTC).timestamp()) - self.started_at
        return {
            "job_id": self.job_id,
            "account": self.account,
            "region": self.region,
            "kind": self.kind,
            "status": "QUEUED" if self.queued else self.status,
            "status_message": self.status_message,
            "progress": round(self.progress, 4),
            "attempts": self.attempts,
            "stop_requested": self.stop_requested,
            "submitted_at": _iso(self.submitted_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "run_seconds": None if ran is None else round(ran, 3),
            "result_items": self.result_count,
            "notification": None
            if self.notification is None
            else {
                "topic_arn": self.notification.get("SNSTopicArn"),
                "outcome": self.notify_outcome or "pending",
                "message_id": self.message_id,
                "notified_at": _iso(self.notified_at),
            },
            "params": self.params,
        }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="milliseconds")
