"""Stream processors, their tags, and what each Kinesis video stream plays: SQLite rows in the
server's database (schema 4), scoped by (account, region) like every other resource.

The store keeps the rows and the rules that are about rows (a name is unique in its account
and region; a change is one transaction that sees the row as it is). Which status may follow
which, and what AWS answers otherwise, is the handlers' (handlers/streams/): they hand
`change()` a function that reads the current row and returns the columns to write, or raises.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.tags import TAG_LIMIT

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState
    from rekognition_emulator.emulator.store.db import Database
    from rekognition_emulator.emulator.store.tokens import PageTokens

COLUMNS = (
    "pk, account, region, name, arn, kind, status, status_message, settings, session_id, "
    "session, created_at, updated_at"
)
# Columns a change may write.
WRITABLE = frozenset({"status", "status_message", "settings", "session_id", "session"})


@dataclass(frozen=True)
class StreamProcessor:
    pk: int
    account: str
    region: str
    name: str
    arn: str
    kind: str  # FACE_SEARCH | CONNECTED_HOME
    status: str
    status_message: str | None
    settings: dict[str, Any]  # the Create request's members, as updated since
    session_id: str | None
    session: dict[str, Any] | None  # the latest Start request's selectors
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StreamProcessor:
        settings, session = json.loads(row[8]), json.loads(row[10]) if row[10] else None
        return cls(*row[:8], settings, row[9], session, *row[11:13])  # type: ignore[arg-type]


def not_found(name: str) -> errors.ResourceNotFoundException:
    return errors.ResourceNotFoundException(f"Stream processor {name} does not exist.")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class StreamProcessors:
    """The server's stream processors and stream sources (`stream_processors(state)`)."""

    def __init__(
        self, db: Database, tokens: PageTokens, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.tokens = tokens
        self.clock = clock

    # -- processors -----------------------------------------------------------------------
    def create(
        self,
        account: str,
        region: str,
        name: str,
        arn: str,
        kind: str,
        settings: dict[str, Any],
        tags: Mapping[str, str] | None,
    ) -> tuple[StreamProcessor, bool]:
        """(the processor, True) when new; (the existing one, False) when a processor of that
        name exists with the same settings and tags (Name is idempotent); else
        ResourceInUseException."""
        tags = dict(tags or {})
        if len(tags) > TAG_LIMIT:
            raise errors.ServiceQuotaExceededException(
                f"A stream processor can have at most {TAG_LIMIT} tags, not {len(tags)}."
            )
        now = self.clock()
        with self.db.transaction() as conn:
            found = self._find(conn, account, region, name)
            if found is not None:
                if found.settings == settings and self._tags(conn, found.pk) == tags:
                    return found, False
                raise errors.ResourceInUseException(
                    f"A stream processor named {name} already exists with other settings."
                )
            self._check_streams_free(conn, account, region, settings)
            (pk,) = conn.execute(
                "INSERT INTO stream_processors (account, region, name, arn, kind, status, "
                "settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'STOPPED', ?, ?, ?) "
                "RETURNING pk",
                (account, region, name, arn, kind, _dumps(settings), now, now),
            ).fetchone()
            conn.executemany(
                "INSERT INTO stream_processor_tags (processor_pk, key, value) VALUES (?, ?, ?)",
                [(pk, k, v) for k, v in tags.items()],
            )
            row = conn.execute(
                f"SELECT {COLUMNS} FROM stream_processors WHERE pk = ?", (pk,)
            ).fetchone()
        return StreamProcessor.from_row(row), True

    def _find(
        self, conn: sqlite3.Connection, account: str, region: str, name: str
    ) -> StreamProcessor | None:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM stream_processors "
            "WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        ).fetchone()
        return None if row is None else StreamProcessor.from_row(row)

    def _check_streams_free(
        self, conn: sqlite3.Connection, account: str, region: str, settings: dict[str, Any]
    ) -> None:
        """A Kinesis video stream feeds one processor, a Kinesis data stream takes the records
        of one (ResourceInUseException naming the processor that has it)."""
        for path in ("$.Input.KinesisVideoStream.Arn", "$.Output.KinesisDataStream.Arn"):
            arn = settings
            for key in path[2:].split("."):
                arn = arn.get(key) if isinstance(arn, dict) else None
            if not arn:
                continue
            row = conn.execute(
                "SELECT name FROM stream_processors WHERE account = ? AND region = ? "
                "AND json_extract(settings, ?) = ?",
                (account, region, path, arn),
            ).fetchone()
            if row is not None:
                raise errors.ResourceInUseException(
                    f"The stream {arn} is already used by the stream processor {row[0]}."
                )

    def get(self, account: str, region: str, name: str) -> StreamProcessor:
        found = self._find(self.db.reader(), account, region, name)
        if found is None:
            raise not_found(name)
        return found

    def by_pk(self, pk: int) -> StreamProcessor | None:
        row = (
            self.db.reader()
            .execute(f"SELECT {COLUMNS} FROM stream_processors WHERE pk = ?", (pk,))
            .fetchone()
        )
        return None if row is None else StreamProcessor.from_row(row)

    def list(
        self, account: str, region: str, next_token: str | None, limit: int
    ) -> tuple[list[StreamProcessor], str | None]:
        """One page, oldest first; the token of the next page or None."""
        purpose = f"ListStreamProcessors|{account}|{region}"
        after = self.tokens.read(purpose, next_token) if next_token else 0
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {COLUMNS} FROM stream_processors WHERE account = ? AND region = ? "
                "AND pk > ? ORDER BY pk LIMIT ?",
                (account, region, after, limit + 1),
            )
            .fetchall()
        )
        found = [StreamProcessor.from_row(r) for r in rows[:limit]]
        token = self.tokens.issue(purpose, found[-1].pk) if len(rows) > limit else None
        return found, token

    def active(self) -> list[StreamProcessor]:
        """Processors of every account whose status says a session is on."""
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {COLUMNS} FROM stream_processors "
                "WHERE status IN ('STARTING', 'RUNNING', 'STOPPING') ORDER BY pk"
            )
            .fetchall()
        )
        return [StreamProcessor.from_row(r) for r in rows]

    def change(
        self,
        account: str,
        region: str,
        name: str,
        decide: Callable[[StreamProcessor], Mapping[str, Any] | None],
    ) -> StreamProcessor:
        """In one transaction: read the processor, let `decide` return the columns to write
        (None: nothing; it raises to refuse), write them, return the row as it is after."""
        return self._change(
            "account = ? AND region = ? AND name = ?", (account, region, name), decide, name
        )

    def change_pk(
        self, pk: int, decide: Callable[[StreamProcessor], Mapping[str, Any] | None]
    ) -> StreamProcessor | None:
        """`change` by primary key; None when the processor no longer exists."""
        try:
            return self._change("pk = ?", (pk,), decide, str(pk))
        except errors.ResourceNotFoundException:
            return None

    def _change(
        self,
        where: str,
        args: tuple[Any, ...],
        decide: Callable[[StreamProcessor], Mapping[str, Any] | None],
        name: str,
    ) -> StreamProcessor:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM stream_processors WHERE {where}", args
            ).fetchone()
            if row is None:
                raise not_found(name)
            current = StreamProcessor.from_row(row)
            columns = dict(decide(current) or {})
            if not columns:
                return current
            unknown = set(columns) - WRITABLE
            if unknown:
                raise ValueError(f"not writable columns of a stream processor: {sorted(unknown)}")
            for key in ("settings", "session"):
                if key in columns and columns[key] is not None:
                    columns[key] = _dumps(columns[key])
            columns["updated_at"] = self.clock()
            assignments = ", ".join(f"{column} = ?" for column in columns)
            conn.execute(
                f"UPDATE stream_processors SET {assignments} WHERE pk = ?",  # noqa: S608
                (*columns.values(), current.pk),
            )
            row = conn.execute(
                f"SELECT {COLUMNS} FROM stream_processors WHERE pk = ?", (current.pk,)
            ).fetchone()
        return StreamProcessor.from_row(row)

    def delete(
        self, account: str, region: str, name: str, check: Callable[[StreamProcessor], None]
    ) -> StreamProcessor:
        """Delete the processor and its tags after `check` (which raises to refuse)."""
        with self.db.transaction() as conn:
            found = self._find(conn, account, region, name)
            if found is None:
                raise not_found(name)
            check(found)
            conn.execute("DELETE FROM stream_processor_tags WHERE processor_pk = ?", (found.pk,))
            conn.execute("DELETE FROM stream_processors WHERE pk = ?", (found.pk,))
        return found

    # -- tags -------------------------------------------------------------------------------
    def _tags(self, conn: sqlite3.Connection, pk: int) -> dict[str, str]:
        rows = conn.execute(
            "SELECT key, value FROM stream_processor_tags WHERE processor_pk = ? ORDER BY key",
            (pk,),
        ).fetchall()
        return dict(rows)

    def list_tags(self, account: str, region: str, name: str) -> dict[str, str]:
        with self.db.snapshot() as conn:
            return self._tags(conn, self._pk(conn, account, region, name))

    def tag(self, account: str, region: str, name: str, tags: Mapping[str, str]) -> None:
        with self.db.transaction() as conn:
            pk = self._pk(conn, account, region, name)
            count = len(set(self._tags(conn, pk)) | set(tags))
            if count > TAG_LIMIT:
                raise errors.ServiceQuotaExceededException(
                    f"The stream processor {name} would have {count} tags; a resource can have "
                    f"at most {TAG_LIMIT}"
                )
            conn.executemany(
                "INSERT INTO stream_processor_tags (processor_pk, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (processor_pk, key) DO UPDATE SET value = excluded.value",
                [(pk, k, v) for k, v in tags.items()],
            )

    def untag(self, account: str, region: str, name: str, keys: list[str]) -> None:
        with self.db.transaction() as conn:
            pk = self._pk(conn, account, region, name)
            conn.executemany(
                "DELETE FROM stream_processor_tags WHERE processor_pk = ? AND key = ?",
                [(pk, k) for k in keys],
            )

    def _pk(self, conn: sqlite3.Connection, account: str, region: str, name: str) -> int:
        found = self._find(conn, account, region, name)
        if found is None:
            raise not_found(name)
        return found.pk

    # -- what the Kinesis video streams play ---------------------------------------------------
    def map_source(self, stream_arn: str, source: Mapping[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO stream_sources (stream_arn, source, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (stream_arn) DO UPDATE SET source = excluded.source, "
                "created_at = excluded.created_at",
                (stream_arn, _dumps(dict(source)), self.clock()),
            )

    def unmap_source(self, stream_arn: str) -> bool:
        with self.db.transaction() as conn:
            gone = conn.execute("DELETE FROM stream_sources WHERE stream_arn = ?", (stream_arn,))
            return gone.rowcount > 0

    def source(self, stream_arn: str) -> dict[str, Any] | None:
        row = (
            self.db.reader()
            .execute("SELECT source FROM stream_sources WHERE stream_arn = ?", (stream_arn,))
            .fetchone()
        )
        return None if row is None else json.loads(row[0])

    def sources(self) -> list[dict[str, Any]]:
        rows = (
            self.db.reader()
            .execute("SELECT stream_arn, source, created_at FROM stream_sources ORDER BY 1")
            .fetchall()
        )
        return [{"StreamArn": r[0], **json.loads(r[1]), "MappedAt": r[2]} for r in rows]

    def reset(self) -> None:
        """Forget every processor, tag and stream source (the admin reset)."""
        with self.db.transaction() as conn:
            for table in ("stream_processor_tags", "stream_processors", "stream_sources"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names


def stream_processors(state: AppState) -> StreamProcessors:
    """The server's stream processor store (the database and token secret the others use)."""

    def build() -> StreamProcessors:
        from rekognition_emulator.emulator.store import database
        from rekognition_emulator.emulator.store.tokens import PageTokens, load_secret

        tokens = PageTokens(load_secret(state.config.data_dir / "pagination.key"))
        return StreamProcessors(database(state), tokens)

    return state.singleton("stream-processors", build)
