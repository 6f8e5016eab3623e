"""Face Liveness sessions: SQLite rows in the server's database (schema 4), scoped by
(account, region).

A session lives `ttl` seconds from its creation (AWS: 3 minutes); after that it reads as
EXPIRED and its results (reference and audit images, confidence) are gone, as AWS says of
its sessions. Expired rows are forgotten a day later (SessionNotFoundException then).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.server import errors

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState
    from rekognition_emulator.emulator.store.db import Database

CREATED = "CREATED"
IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
EXPIRED = "EXPIRED"
FORGET_AFTER = 86400.0  # seconds after expiry

COLUMNS = (
    "pk, session_id, account, region, client_token, status, settings, result, created_at, "
    "updated_at"
)


@dataclass(frozen=True)
class LivenessSession:
    pk: int
    session_id: str
    account: str
    region: str
    client_token: str | None
    status: str
    settings: dict[str, Any]  # KmsKeyId, Settings and the Challenge chosen for the session
    result: dict[str, Any] | None  # what the submission measured (None until then)
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> LivenessSession:
        settings, result = json.loads(row[6]), json.loads(row[7]) if row[7] else None
        return cls(*row[:6], settings, result, *row[8:10])  # type: ignore[arg-type]


def session_not_found(session_id: str) -> errors.SessionNotFoundException:
    return errors.SessionNotFoundException(f"Session ID {session_id} was not found.")


class LivenessSessions:
    def __init__(self, db: Database, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock

    def create(
        self,
        account: str,
        region: str,
        session_id: str,
        client_token: str | None,
        settings: Mapping[str, Any],
    ) -> LivenessSession:
        """A new session, or the one `client_token` made before (the same token returns the
        same session, whatever else the request says: AWS's documented idempotency)."""
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM liveness_sessions WHERE created_at < ?",
                (now - self.ttl - FORGET_AFTER,),
            )
            if client_token is not None:
                row = conn.execute(
                    f"SELECT {COLUMNS} FROM liveness_sessions "
                    "WHERE account = ? AND region = ? AND client_token = ?",
                    (account, region, client_token),
                ).fetchone()
                if row is not None:
                    return LivenessSession.from_row(row)
            row = conn.execute(
                "INSERT INTO liveness_sessions (session_id, account, region, client_token, "
                "status, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {COLUMNS}",
                (
                    session_id,
                    account,
                    region,
                    client_token,
                    CREATED,
                    json.dumps(dict(settings), separators=(",", ":")),
                    now,
                    now,
                ),
            ).fetchone()
        return LivenessSession.from_row(row)

    def get(self, account: str, region: str, session_id: str) -> LivenessSession:
        """The session as it is now (EXPIRED once its time is up); SessionNotFoundException."""
        with self.db.transaction() as conn:
            return self._current(conn, self._row(conn, account, region, session_id))

    def find(self, session_id: str) -> list[LivenessSession]:
        """Sessions of that id in any account and region (the admin endpoint's lookup)."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM liveness_sessions WHERE session_id = ? ORDER BY pk",
                (session_id,),
            ).fetchall()
            return [self._current(conn, LivenessSession.from_row(r)) for r in rows]

    def change(
        self,
        pk: int,
        decide: Callable[[LivenessSession], tuple[str, dict[str, Any] | None] | None],
    ) -> LivenessSession:
        """In one transaction: the session as it is now (expiry applied) goes to `decide`,
        which returns (status, result) to write, None to leave it, or raises to refuse."""
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM liveness_sessions WHERE pk = ?", (pk,)
            ).fetchone()
            if row is None:
                raise errors.SessionNotFoundException("The session no longer exists.")
            current = self._current(conn, LivenessSession.from_row(row))
            wanted = decide(current)
            if wanted is None:
                return current
            status, result = wanted
            return self._write(conn, current, status, result)

    def _row(
        self, conn: sqlite3.Connection, account: str, region: str, session_id: str
    ) -> LivenessSession:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM liveness_sessions "
            "WHERE account = ? AND region = ? AND session_id = ?",
            (account, region, session_id),
        ).fetchone()
        if row is None:
            raise session_not_found(session_id)
        return LivenessSession.from_row(row)

    def _current(self, conn: sqlite3.Connection, session: LivenessSession) -> LivenessSession:
        if session.status != EXPIRED and self.clock() >= session.created_at + self.ttl:
            # Its time is up: the results go with it.
            return self._write(conn, session, EXPIRED, None)
        return session

    def _write(
        self,
        conn: sqlite3.Connection,
        session: LivenessSession,
        status: str,
        result: dict[str, Any] | None,
    ) -> LivenessSession:
        row = conn.execute(
            "UPDATE liveness_sessions SET status = ?, result = ?, updated_at = ? WHERE pk = ? "
            f"RETURNING {COLUMNS}",
            (
                status,
                None if result is None else json.dumps(result, separators=(",", ":")),
                self.clock(),
                session.pk,
            ),
        ).fetchone()
        return LivenessSession.from_row(row)

    def reset(self) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM liveness_sessions")


def liveness_sessions(state: AppState) -> LivenessSessions:
    """The server's Face Liveness sessions (expiry from Config.liveness_session_seconds)."""

    def build() -> LivenessSessions:
        from rekognition_emulator.emulator.store import database

        return LivenessSessions(database(state), state.config.liveness_session_seconds)

    return state.singleton("liveness-sessions", build)
