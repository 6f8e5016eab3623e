"""Completion notifications: the message a finished job publishes to its SNS topic, and the
publisher the engine uses.

The message is committed to the job's outbox row in the transaction that records the
final status, then published; a crash in between publishes it after the restart. It is
sent at least once, and twice only if the process dies in the instant between SNS taking
it and the outbox row's deletion committing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rekognition_emulator.emulator.jobs.records import JobRecord
    from rekognition_emulator.emulator.server.context import AppState

# publish(account, region, topic_arn, message) -> MessageId; LookupError: no such topic.
Publish = Callable[[str, str, str, str], str]


def video_message(job: JobRecord) -> dict[str, Any]:
    """Rekognition Video's completion message (VIDEO.md section 3): keys in this order,
    JobTag only when the Start call gave one, Timestamp in Unix milliseconds."""
    message: dict[str, Any] = {"JobId": job.job_id, "Status": job.status, "API": job.kind}
    if job.params.get("JobTag"):
        message["JobTag"] = job.params["JobTag"]
    message["Timestamp"] = int(round((job.finished_at or 0.0) * 1000))
    s3 = (job.params.get("Video") or {}).get("S3Object")
    if s3:
        message["Video"] = {"S3ObjectName": s3.get("Name"), "S3Bucket": s3.get("Bucket")}
    return message


def encode(message: dict[str, Any]) -> str:
    # Compact, as the real messages are.
    return json.dumps(message, separators=(",", ":"))


def default_publisher(state: AppState) -> Publish | None:
    """SNS as the server serves it (embedded, or the configured --sns-endpoint-url), or None
    where this build has no SNS service."""
    try:
        from rekognition_emulator.emulator.aws import sns  # type: ignore[attr-defined]
    except ImportError:
        return None
    return functools.partial(sns.publish, state)
