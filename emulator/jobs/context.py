"""What a job kind's function is given: its job, and the ways to report on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rekognition_emulator.emulator.jobs.engine import JobEngine
    from rekognition_emulator.emulator.server.context import AppState


class JobFailed(Exception):
    """Raised by a kind: the job ends FAILED with this message as its StatusMessage (and
    `result`, if given, as its result document)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


class Superseded(Exception):
    """The job was deleted (admin reset, retention) or re-run while this run went on."""


class JobContext:
    """One run of one job. `params` are what the Start call stored, as JSON gives them back."""

    # Progress is written at most this often (a kind may report every frame).
    PROGRESS_INTERVAL = 0.5
    FLUSH_ITEMS = 1000
    FLUSH_SECONDS = 1.0

    def __init__(
        self,
        engine: JobEngine,
        pk: int,
        job_id: str,
        account: str,
        region: str,
        kind: str,
        params: dict[str, Any],
        attempt: int,
        state: AppState | None,
    ) -> None:
        self._engine = engine
        self.pk = pk
        self.job_id = job_id
        self.account = account
        self.region = region
        self.kind = kind
        self.params = params
        self.attempt = attempt  # 1 for the first run, more after a restart cut one short
        self.state = state
        self._stop = threading.Event()
        self._interrupted = False  # stopped by the server's shutdown, not by a user
        self._next_seq = 0
        self._pending: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self._last_progress = 0.0

    # -- reporting -------------------------------------------------------------------------
    def progress(self, fraction: float) -> None:
        """How far the job is (0..1), shown by /_emulator/jobs."""
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_progress < self.PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self._engine._write_progress(self, min(max(float(fraction), 0.0), 1.0))

    def store_results(self, items: Iterable[dict[str, Any]]) -> int:
        """Append result items (in the order a Get* lists them by default); they become
        visible with the job's final status. Returns how many were given.

        Items are written in batches (every FLUSH_ITEMS items or FLUSH_SECONDS), the last
        one in the transaction that records the final status: a job that reports one frame
        at a time does not pay one fsynced commit per frame."""
        batch = list(items)
        self._pending.extend(batch)
        if (
            len(self._pending) >= self.FLUSH_ITEMS
            or time.monotonic() - self._last_flush >= self.FLUSH_SECONDS
        ):
            self._flush()
        return len(batch)

    def _flush(self) -> None:
        if self._pending:
            self._engine._store_results(self, self._next_seq, self._pending)
            self._next_seq += len(self._pending)
            self._pending = []
        self._last_flush = time.monotonic()

    # -- stopping --------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        """A stop was asked for (StopStreamProcessor, the admin reset): return soon."""
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early when a stop is asked for; True if it was."""
        return self._stop.wait(seconds)

    def _request_stop(self) -> None:
        self._stop.set()
