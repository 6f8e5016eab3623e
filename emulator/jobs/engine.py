"""The job engine: every asynchronous Rekognition operation runs on it.

Jobs live in the server's SQLite database (schema 2 of store/migrations.py), scoped by
(account, region) like every other resource:

- `submit` commits the job (IN_PROGRESS, so a Describe/Get right after the call sees it)
  with its ClientRequestToken before it returns: the same token and parameters give the
  same job, and no second one; other parameters are IdempotentParameterMismatchException.
  Open jobs per (account, region) are capped (LimitExceededException).
- A bounded pool of worker threads runs jobs first come, first served; a kind marked
  long-running (a stream processor) gets a thread of its own until it is stopped.
- A run stores its result items as it goes, tagged with its attempt; the final status, the
  result document and the completion notification (the outbox) commit in one transaction,
  then the notification is published. At start, unfinished jobs are queued again (their
  cut-short attempt's items discarded) and unpublished notifications are published.
- Finished jobs are kept `retention_days` (AWS: 7), then purged with their tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.jobs.context import JobContext, JobFailed, Superseded
from rekognition_emulator.emulator.jobs.kinds import JobKind, kind_for
from rekognition_emulator.emulator.jobs.notify import Publish, encode, video_message
from rekognition_emulator.emulator.jobs.records import (
    FAILED,
    FINISHED,
    IN_PROGRESS,
    JOB_COLUMNS,
    STOPPED,
    SUCCEEDED,
    JobRecord,
)
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.sql import chunks, marks

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.config import Config
    from rekognition_emulator.emulator.server.context import AppState
    from rekognition_emulator.emulator.store.db import Database
    from rekognition_emulator.emulator.store.tokens import PageTokens

log = logging.getLogger("rekognition_emulator.jobs")

# A notification that fails for another reason than a missing topic (an external SNS that
# is down) is tried again with growing pauses, this many times in all.
PUBLISH_TRIES = 8
Arrange = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _json_default(value: Any) -> Any:
    # Kinds hand numpy scalars and arrays over as they come out of the models.
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "timestamp"):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} cannot be stored in a job")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_json_default)


class JobEngine:
    def __init__(
        self,
        db: Database,
        tokens: PageTokens,
        *,
        workers: int = 2,
        max_concurrent_jobs: int = 20,
        retention_days: float = 7.0,
        sync: bool = False,
        publish: Publish | None = None,
        state: AppState | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.tokens = tokens
        self.workers = max(1, workers)
        self.max_concurrent_jobs = max_concurrent_jobs
        self.retention_days = retention_days
        self.sync = sync
        self.publish = publish
        self.state = state
        self.clock = clock
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._lock = threading.Lock()  # guards the four collections below
        self._running: dict[int, JobContext] = {}
        self._events: dict[int, threading.Event] = {}
        self._delivering: set[int] = set()
        self._threads: set[threading.Thread] = set()
        self._arranged: OrderedDict[tuple[int, int, str], list[dict[str, Any]]] = OrderedDict()
        self._closing = threading.Event()

    @classmethod
    def from_config(
        cls,
        db: Database,
        tokens: PageTokens,
        config: Config,
        *,
        publish: Publish | None = None,
        state: AppState | None = None,
    ) -> JobEngine:
        return cls(
            db,
            tokens,
            workers=config.job_workers,
            max_concurrent_jobs=config.max_concurrent_jobs,
            retention_days=config.job_retention_days,
            sync=config.sync_jobs,
            publish=publish,
            state=state,
        )

    # -- life -----------------------------------------------------------------------------------
    def start(self) -> JobEngine:
        """Purge expired jobs, queue the unfinished ones again, start the threads."""
        self.purge()
        unfinished = (
            self.db.reader()
            .execute("SELECT pk, kind FROM jobs WHERE status = ? ORDER BY pk", (IN_PROGRESS,))
            .fetchall()
        )
        if unfinished:
            log.info("%d unfinished jobs queued again", len(unfinished))
        for pk, kind in unfinished:
            self._dispatch(pk, kind_for(kind))
        for n in range(self.workers):
            self._spawn(self._worker, f"job-worker-{n + 1}")
        self._spawn(self._housekeeper, "job-housekeeper")
        return self

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        def run() -> None:
            try:
                target()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _dispatch(self, pk: int, spec: JobKind | None) -> None:
        if spec is not None and spec.long_running:
            self._spawn(lambda: self._run(pk), f"job-{pk}")
        else:
            self._queue.put(pk)

    def close(self) -> None:
        """Stop: running jobs are asked to stop and left IN_PROGRESS for the next start."""
        if self._closing.is_set():
            return
        self._closing.set()
        with self._lock:
            running = list(self._running.values())
            threads = list(self._threads)
        for ctx in running:
            ctx._interrupted = True
            ctx._request_stop()
        for _ in range(self.workers):
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout=30)

    def reset(self) -> None:
        """Forget every job (the admin reset); running ones are stopped and discarded."""
        with self._lock:
            running = list(self._running.values())
        for ctx in running:
            ctx._request_stop()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        with self.db.transaction() as conn:
            for table in ("job_results", "job_tokens", "job_outbox", "jobs"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        with self._lock:
            self._arranged.clear()
            events = list(self._events.values())
            self._events.clear()
        for event in events:
            event.set()

    # -- submit ---------------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        *,
        account: str,
        region: str,
        params: dict[str, Any],
        client_token: str | None = None,
        notification: dict[str, Any] | None = None,
        job_id: str | None = None,
        wait_seconds: float | None = 0.0,
    ) -> JobRecord:
        """Start a job of `kind` (or find the one `client_token` started) and return it after
        at most `wait_seconds` (None: when it is finished; Config.sync_jobs makes every
        submit wait so, long-running kinds excepted).

        `params` are the job's parameters (stored, handed to the kind, and hashed without
        their ClientRequestToken for idempotency); `notification` is the Start call's
        NotificationChannel ({"SNSTopicArn", "RoleArn"}); `job_id` overrides the kind's
        id format (ids must be unique within the account and region).
        """
        spec = kind_for(kind)
        if spec is None:
            raise ValueError(f"no job kind {kind!r} is registered")
        hashed = hashlib.sha256(
            _dumps(
                [kind, {k: v for k, v in params.items() if k != "ClientRequestToken"}, notification]
            ).encode()
        ).hexdigest()
        new = False
        with self.db.transaction() as conn:
            pk = None
            if client_token is not None:
                pk = self._known_token(conn, account, region, client_token, kind, hashed)
            if pk is None:
                if spec.limited:
                    self._check_limit(conn, account, region)
                pk = self._insert(conn, spec, account, region, params, notification, job_id)
                if client_token is not None:
                    conn.execute(
                        "INSERT INTO job_tokens "
                        "(account, region, token, kind, params_hash, job_pk) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (account, region, client_token, kind, hashed, pk),
                    )
                new = True
        if new:
            self._dispatch(pk, spec)
        wait = None if self.sync and not spec.long_running else wait_seconds
        return self._await(pk, wait)

    def _known_token(
        self,
        conn: sqlite3.Connection,
        account: str,
        region: str,
        token: str,
        kind: str,
        hashed: str,
    ) -> int | None:
        row = conn.execute(
            "SELECT kind, params_hash, job_pk FROM job_tokens "
            "WHERE account = ? AND region = ? AND token = ?",
            (account, region, token),
        ).fetchone()
        if row is None:
            return None
        # A token reused by another Start operation is a mismatch too (VIDEO.md: AWS calls
        # it "unpredictable").
        if (row[0], row[1]) != (kind, hashed):
            raise errors.IdempotentParameterMismatchException(
                f"The ClientRequestToken: {token} you have supplied is already in use."
            )
        return row[2]

    def _check_limit(self, conn: sqlite3.Connection, account: str, region: str) -> None:
        (open_jobs,) = conn.execute(
            "SELECT count(*) FROM jobs WHERE account = ? AND region = ? AND status = ? "
            "AND limited = 1",
            (account, region, IN_PROGRESS),
        ).fetchone()
        if open_jobs >= self.max_concurrent_jobs:
            # AWS's form (VIDEO.md section 2); the caller's user is not known: its account root.
            raise errors.LimitExceededException(
                f"{open_jobs} open Jobs for User arn:aws:iam::{account}:root "
                f"Maximum limit: {self.max_concurrent_jobs}"
            )

    def _insert(
        self,
        conn: sqlite3.Connection,
        spec: JobKind,
        account: str,
        region: str,
        params: dict[str, Any],
        notification: dict[str, Any] | None,
        job_id: str | None,
    ) -> int:
        try:
            (pk,) = conn.execute(
                "INSERT INTO jobs (job_id, account, region, kind, status, limited, params, "
                "notification, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
                (
                    job_id or spec.new_id(),
                    account,
                    region,
                    spec.name,
                    IN_PROGRESS,
                    int(spec.limited),
                    _dumps(params),
                    _dumps(notification) if notification else None,
                    self.clock(),
                ),
            ).fetchone()
        except sqlite3.IntegrityError:
            raise ValueError(f"a job with the id {job_id} exists in {account} {region}") from None
        return pk

    # -- read -------------------------------------------------------------------------------------
    def _record(self, pk: int) -> JobRecord | None:
        row = (
            self.db.reader()
            .execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE pk = ?", (pk,))
            .fetchone()
        )
        return None if row is None else JobRecord.from_row(row)

    def get(self, account: str, region: str, job_id: str) -> JobRecord:
        """The job `job_id` of this account and region; ResourceNotFoundException if none."""
        row = (
            self.db.reader()
            .execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE account = ? AND region = ? AND job_id = ?",
                (account, region, job_id),
            )
            .fetchone()
        )
        if row is None:
            raise errors.ResourceNotFoundException(f"The job id: {job_id} does not exist")
        return JobRecord.from_row(row)

    def find(self, job_id: str) -> list[JobRecord]:
        """Jobs of that id in any account and region (the admin page's lookup)."""
        rows = (
            self.db.reader()
            .execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ? ORDER BY pk", (job_id,))
            .fetchall()
        )
        return [JobRecord.from_row(r) for r in rows]

    def list(
        self,
        *,
        account: str | None = None,
        region: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 1000,
        before: int | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first; `status` QUEUED means IN_PROGRESS and not started yet;
        `before` (a JobRecord.pk) starts after that job, for the next page of a listing."""
        where: list[str] = []
        args: list[Any] = []
        if before is not None:
            where.append("pk < ?")
            args.append(before)
        for column, value in (("account", account), ("region", region), ("kind", kind)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if status == "QUEUED":
            where.append("status = ? AND started_at IS NULL")
            args.append(IN_PROGRESS)
        elif status:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {JOB_COLUMNS} FROM jobs {clause} ORDER BY pk DESC LIMIT ?",
                (*args, limit),
            )
            .fetchall()
        )
        return [JobRecord.from_row(r) for r in rows]

    def wait(
        self, account: str, region: str, job_id: str, timeout: float | None = None
    ) -> JobRecord:
        """The job once it is finished, or as it is after `timeout` seconds."""
        return self._await(self.get(account, region, job_id).pk, timeout)

    def _await(self, pk: int, timeout: float | None) -> JobRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                event = self._events.setdefault(pk, threading.Event())
            record = self._record(pk)
            if record is None:
                raise errors.ResourceNotFoundException("the job no longer exists")
            left = None if deadline is None else deadline - time.monotonic()
            if record.finished or (left is not None and left <= 0):
                return record
            event.wait(left)

    def _wake(self, pk: int) -> None:
        with self._lock:
            event = self._events.pop(pk, None)
        if event is not None:
            event.set()

    def results(
        self,
        job: JobRecord,
        *,
        purpose: str,
        max_results: int,
        next_token: str | None = None,
        arrange: Arrange | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a finished job's result items and the NextToken of the next (None on
        the last page; nothing while the job runs).

        Without `arrange` the items come in the order the job stored them, paged in SQL.
        `arrange` (sort, aggregate) maps all stored items to the list a Get presents; it
        runs once per (job, purpose) and its output is kept for the following pages.
        `purpose` names the presentation (e.g. "GetLabelDetection|NAME|TIMESTAMPS"): a
        NextToken is only good for the job and purpose that issued it.
        """
        if job.status not in FINISHED:
            return [], None
        scope = f"job|{job.account}|{job.region}|{job.job_id}|{purpose}"
        cursor = self.tokens.read(scope, next_token) if next_token else 0
        if arrange is None:
            rows = (
                self.db.reader()
                .execute(
                    "SELECT seq, item FROM job_results WHERE job_pk = ? AND attempt = ? "
                    "AND seq >= ? ORDER BY seq LIMIT ?",
                    (job.pk, job.attempts, cursor, max_results + 1),
                )
                .fetchall()
            )
            items = [json.loads(r[1]) for r in rows[:max_results]]
            more = rows[max_results][0] if len(rows) > max_results else None
        else:
            arranged = self._arranged_items(job, purpose, arrange)
            items = arranged[cursor : cursor + max_results]
            more = cursor + max_results if cursor + max_results < len(arranged) else None
        return items, None if more is None else self.tokens.issue(scope, more)

    def _arranged_items(
        self, job: JobRecord, purpose: str, arrange: Arrange
    ) -> list[dict[str, Any]]:
        key = (job.pk, job.attempts, purpose)
        with self._lock:
            cached = self._arranged.get(key)
            if cached is not None:
                self._arranged.move_to_end(key)
                return cached
        rows = (
            self.db.reader()
            .execute(
                "SELECT item FROM job_results WHERE job_pk = ? AND attempt = ? ORDER BY seq",
                (job.pk, job.attempts),
            )
            .fetchall()
        )
        arranged = arrange([json.loads(r[0]) for r in rows])
        with self._lock:
            self._arranged[key] = arranged
            while len(self._arranged) > 8:
                self._arranged.popitem(last=False)
        return arranged

    # -- stop -------------------------------------------------------------------------------------
    def stop(self, account: str, region: str, job_id: str) -> JobRecord:
        """Ask a job to stop: a queued one ends STOPPED now, a running one when its kind
        returns (it sees `job.stopping`). A finished job is left as it is."""
        job = self.get(account, region, job_id)
        ended = False
        with self.db.transaction() as conn:
            row = conn.execute("SELECT status FROM jobs WHERE pk = ?", (job.pk,)).fetchone()
            if row is not None and row[0] == IN_PROGRESS:
                conn.execute("UPDATE jobs SET stop_requested = 1 WHERE pk = ?", (job.pk,))
                with self._lock:
                    ctx = self._running.get(job.pk)
                if ctx is not None:
                    ctx._request_stop()
                else:
                    self._finalize(conn, job.pk, STOPPED, None, None)
                    ended = True
        if ended:
            self._wake(job.pk)
        return self._record(job.pk) or job

    # -- run --------------------------------------------------------------------------------------
    def _worker(self) -> None:
        while not self._closing.is_set():
            pk = self._queue.get()
            if pk is None or self._closing.is_set():
                return
            try:
                self._run(pk)
            except Exception:
                log.exception("job %d could not be run", pk)

    def _run(self, pk: int) -> None:
        claimed = self._claim(pk)
        if claimed is None:
            return
        ctx, spec = claimed
        result: dict[str, Any] | None = None
        message: str | None = None
        try:
            if spec is None:
                raise JobFailed(f"This emulator has no job kind {ctx.kind}: it cannot run the job.")
            result = spec.run(ctx) or {}
            status = STOPPED if ctx.stopping else SUCCEEDED
        except JobFailed as exc:
            status, message, result = FAILED, str(exc), exc.result
        except Superseded:
            status = ""
        except Exception as exc:
            if ctx._interrupted:
                status = STOPPED
            else:
                log.exception("job %s (%s) failed unexpectedly", ctx.job_id, ctx.kind)
                status = FAILED
                message = (
                    f"The job failed with an unexpected error ({type(exc).__name__}); "
                    "the emulator's log has the details."
                )
        if status == "" or (ctx._interrupted and status != SUCCEEDED):
            # Deleted meanwhile, or cut short by a shutdown: the next start runs it again.
            with self._lock:
                self._running.pop(pk, None)
            return
        self._finish(ctx, status, result, message)

    def _claim(self, pk: int) -> tuple[JobContext, JobKind | None] | None:
        ended = False
        ctx = None
        with self.db.transaction() as conn:
            row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE pk = ?", (pk,)).fetchone()
            job = None if row is None else JobRecord.from_row(row)
            with self._lock:
                busy = pk in self._running
            if job is None or job.status != IN_PROGRESS or busy:
                return None
            if job.stop_requested:
                self._finalize(conn, pk, STOPPED, None, None)
                ended = True
            else:
                attempt = job.attempts + 1
                conn.execute(
                    "UPDATE jobs SET attempts = ?, started_at = ?, progress = 0, "
                    "result_count = 0 WHERE pk = ?",
                    (attempt, self.clock(), pk),
                )
                # What a run cut short by a crash stored is not part of this one.
                conn.execute(
                    "DELETE FROM job_results WHERE job_pk = ? AND attempt < ?", (pk, attempt)
                )
                ctx = JobContext(
                    self,
                    pk,
                    job.job_id,
                    job.account,
                    job.region,
                    job.kind,
                    job.params,
                    attempt,
                    self.state,
                )
                with self._lock:
                    self._running[pk] = ctx
        if ended:
            self._wake(pk)
            return None
        assert ctx is not None and job is not None
        return ctx, kind_for(job.kind)

    def _finish(
        self,
        ctx: JobContext,
        status: str,
        result: dict[str, Any] | None,
        message: str | None,
    ) -> None:
        pk = ctx.pk
        with self._lock:
            # Kept from the housekeeper until this thread has published it.
            self._delivering.add(pk)
        notify = False
        try:
            try:
                with self.db.transaction() as conn:
                    row = conn.execute(
                        "SELECT status, attempts FROM jobs WHERE pk = ?", (pk,)
                    ).fetchone()
                    if row is None or row[0] != IN_PROGRESS or row[1] != ctx.attempt:
                        raise Superseded
                    if ctx._pending:
                        self._insert_results(conn, ctx, ctx._next_seq, ctx._pending)
                    notify = self._finalize(conn, pk, status, result, message)
            except Superseded:
                pass
            finally:
                with self._lock:
                    self._running.pop(pk, None)
            if notify:
                # Before the waiters wake: a sync Start answers once the message is out.
                self._deliver(pk)
        finally:
            with self._lock:
                self._delivering.discard(pk)
            self._wake(pk)

    def _finalize(
        self,
        conn: sqlite3.Connection,
        pk: int,
        status: str,
        result: dict[str, Any] | None,
        message: str | None,
    ) -> bool:
        """The final status, result and notification of job `pk`, in the caller's
        transaction; True when a notification was queued in the outbox."""
        now = self.clock()
        (attempt,) = conn.execute("SELECT attempts FROM jobs WHERE pk = ?", (pk,)).fetchone()
        conn.execute("DELETE FROM job_results WHERE job_pk = ? AND attempt <> ?", (pk, attempt))
        conn.execute(
            "UPDATE jobs SET status = ?, result = ?, status_message = ?, finished_at = ?, "
            "progress = CASE WHEN ? = 'SUCCEEDED' THEN 1.0 ELSE progress END WHERE pk = ?",
            (status, _dumps(result) if result is not None else None, message, now, status, pk),
        )
        if status == STOPPED:
            return False
        job = JobRecord.from_row(
            conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE pk = ?", (pk,)).fetchone()
        )
        if not job.notification or not job.notification.get("SNSTopicArn"):
            return False
        spec = kind_for(job.kind)
        body = (spec.message if spec is not None and spec.message else video_message)(job)
        conn.execute(
            "INSERT INTO job_outbox (job_pk, topic_arn, message, next_try_at) VALUES (?, ?, ?, ?)",
            (pk, job.notification["SNSTopicArn"], encode(body), now),
        )
        return True

    # -- what a run reports -------------------------------------------------------------------------
    def _write_progress(self, ctx: JobContext, fraction: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET progress = ? WHERE pk = ? AND attempts = ? AND status = ?",
                (fraction, ctx.pk, ctx.attempt, IN_PROGRESS),
            )

    def _store_results(self, ctx: JobContext, first: int, items: list[dict[str, Any]]) -> None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT attempts, status FROM jobs WHERE pk = ?", (ctx.pk,)
            ).fetchone()
            if row is None or row[0] != ctx.attempt or row[1] != IN_PROGRESS:
                raise Superseded
            self._insert_results(conn, ctx, first, items)

    def _insert_results(
        self, conn: sqlite3.Connection, ctx: JobContext, first: int, items: list[dict[str, Any]]
    ) -> None:
        conn.executemany(
            "INSERT INTO job_results (job_pk, attempt, seq, item) VALUES (?, ?, ?, ?)",
            [(ctx.pk, ctx.attempt, first + i, _dumps(item)) for i, item in enumerate(items)],
        )
        conn.execute("UPDATE jobs SET result_count = ? WHERE pk = ?", (first + len(items), ctx.pk))

    # -- notifications ------------------------------------------------------------------------------
    def _deliver(self, pk: int) -> None:
        """Publish job `pk`'s outbox message (the caller holds it in `_delivering`)."""
        row = (
            self.db.reader()
            .execute(
                "SELECT o.topic_arn, o.message, o.tries, j.account, j.region, j.job_id "
                "FROM job_outbox o JOIN jobs j ON j.pk = o.job_pk WHERE o.job_pk = ?",
                (pk,),
            )
            .fetchone()
        )
        if row is None:
            return
        topic, message, tries, account, region, job_id = row
        message_id = None
        retry_at = None
        if self.publish is None:
            outcome = "not sent: this emulator has no SNS service to publish to"
            log.warning("job %s: completion message %s", job_id, outcome)
        else:
            try:
                message_id = self.publish(account, region, topic, message)
                outcome = "published"
            except LookupError:
                outcome = f"not sent: the topic {topic} does not exist"
                log.warning("job %s: completion message %s", job_id, outcome)
            except Exception as exc:
                tries += 1
                if tries < PUBLISH_TRIES:
                    retry_at = self.clock() + min(60.0, 2.0**tries)
                    outcome = f"not sent yet ({tries} tries): {type(exc).__name__}: {exc}"
                else:
                    outcome = f"not sent after {tries} tries: {type(exc).__name__}: {exc}"
                log.warning("job %s: completion message %s", job_id, outcome)
        with self.db.transaction() as conn:
            if retry_at is None:
                conn.execute("DELETE FROM job_outbox WHERE job_pk = ?", (pk,))
            else:
                conn.execute(
                    "UPDATE job_outbox SET tries = ?, next_try_at = ? WHERE job_pk = ?",
                    (tries, retry_at, pk),
                )
            conn.execute(
                "UPDATE jobs SET notify_outcome = ?, message_id = ?, notified_at = ? WHERE pk = ?",
                (outcome, message_id, self.clock() if message_id else None, pk),
            )

    def deliver_due(self) -> int:
        """Publish the outbox messages that are due (after a restart: all of them)."""
        due = [
            r[0]
            for r in self.db.reader().execute(
                "SELECT job_pk FROM job_outbox WHERE next_try_at <= ? ORDER BY job_pk",
                (self.clock(),),
            )
        ]
        sent = 0
        for pk in due:
            with self._lock:
                if pk in self._delivering:
                    continue
                self._delivering.add(pk)
            try:
                self._deliver(pk)
                sent += 1
            except Exception:
                log.exception("could not publish the completion message of job %d", pk)
            finally:
                with self._lock:
                    self._delivering.discard(pk)
        return sent

    def _housekeeper(self) -> None:
        next_purge = time.monotonic() + 3600
        while not self._closing.is_set():
            try:
                self.deliver_due()
                if time.monotonic() >= next_purge:
                    self.purge()
                    next_purge = time.monotonic() + 3600
            except Exception:
                if self._closing.is_set():
                    return
                log.exception("job housekeeping failed")
            self._closing.wait(1.0)

    # -- retention ----------------------------------------------------------------------------------
    def purge(self) -> int:
        """Delete the jobs finished more than `retention_days` ago; returns how many."""
        cutoff = self.clock() - self.retention_days * 86400
        with self.db.transaction() as conn:
            pks = [
                r[0]
                for r in conn.execute(
                    "SELECT pk FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?",
                    (cutoff,),
                )
            ]
            for part in chunks(pks):
                for table, column in (
                    ("job_results", "job_pk"),
                    ("job_tokens", "job_pk"),
                    ("job_outbox", "job_pk"),
                    ("jobs", "pk"),
                ):
                    conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks(part)})", part)  # noqa: S608
        if pks:
            log.info("%d jobs finished more than %g days ago purged", len(pks), self.retention_days)
        return len(pks)
