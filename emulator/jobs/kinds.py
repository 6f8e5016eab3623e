"""Job kinds, registered by handler modules like operations:

    @job_kind("StartLabelDetection")
    def run(job: JobContext) -> dict: ...

A kind's function runs on the engine's worker pool; it reads `job.params`, reports
`job.progress(...)`, stores its result items with `job.store_results(...)`, and returns the
job's result document (what every Get* page repeats, e.g. VideoMetadata). Raising
`JobFailed(message)` ends the job FAILED with that StatusMessage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.server import ids

if TYPE_CHECKING:
    from rekognition_emulator.emulator.jobs.context import JobContext
    from rekognition_emulator.emulator.jobs.records import JobRecord

Run = Callable[["JobContext"], "dict[str, Any] | None"]
Message = Callable[["JobRecord"], "dict[str, Any]"]


def hex64() -> str:
    """A job id as Rekognition Video makes them: 64 lowercase hex digits."""
    return ids.new_hex("JobId", 32)


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Run
    new_id: Callable[[], str] = hex64
    # Counts toward the account's limit of open jobs (Config.max_concurrent_jobs).
    limited: bool = True
    # Runs on a thread of its own until stopped (stream processors), not on the pool.
    long_running: bool = False
    # The completion notification's body; None: the stored-video form (notify.py).
    message: Message | None = None


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str,
    *,
    new_id: Callable[[], str] = hex64,
    limited: bool = True,
    long_running: bool = False,
    message: Message | None = None,
) -> Callable[[Run], Run]:
    def register(fn: Run) -> Run:
        existing = _KINDS.get(name)
        if existing is not None and existing.run is not fn:
            raise ValueError(f"job kind {name} registered twice")
        _KINDS[name] = JobKind(name, fn, new_id, limited, long_running, message)
        return fn

    return register


def kind_for(name: str) -> JobKind | None:
    """The registered kind `name` (every handler module imported first, as for operations)."""
    if name not in _KINDS:
        from rekognition_emulator.emulator.server.registry import load_handlers

        load_handlers()
    return _KINDS.get(name)
