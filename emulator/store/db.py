"""The SQLite database: the source of truth for collections, faces, users and tags.

One writer connection, used under a lock, with one explicit transaction per mutating
request (`with db.transaction() as conn:`); WAL mode so that searches and listings read
committed data from their own per-thread connections without waiting for the writer.
`synchronous=FULL` fsyncs the WAL at every commit: once a handler returns, the faces it
reports exist on disk, whatever happens to the process (or the machine) next.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    arn TEXT NOT NULL,
    face_model_version TEXT NOT NULL,
    created_at REAL NOT NULL,
    face_count INTEGER NOT NULL DEFAULT 0,
    user_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, region, collection_id)
);
-- label is the face's id inside its collection's HNSW index. AUTOINCREMENT keeps labels
-- increasing and never reused, which is what lets a saved index be caught up from SQLite
-- ("every face with a label above the saved watermark is new").
CREATE TABLE IF NOT EXISTS faces (
    label INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL,
    face_id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    bbox_left REAL NOT NULL,
    bbox_top REAL NOT NULL,
    bbox_width REAL NOT NULL,
    bbox_height REAL NOT NULL,
    confidence REAL NOT NULL,
    model_version TEXT NOT NULL,
    user_pk INTEGER,
    embedding BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS faces_by_face_id ON faces (collection_pk, face_id);
-- A collection's faces in label order (an index on collection_pk holds the rowid sorted):
-- ListFaces pages, index rebuilds and catch-ups walk it.
CREATE INDEX IF NOT EXISTS faces_by_collection ON faces (collection_pk);
CREATE INDEX IF NOT EXISTS faces_by_user ON faces (user_pk) WHERE user_pk IS NOT NULL;
CREATE TABLE IF NOT EXISTS users (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (collection_pk, user_id)
);
CREATE TABLE IF NOT EXISTS tags (
    collection_pk INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (collection_pk, key)
) WITHOUT ROWID;
-- Deleted faces since the collection's index was last saved: replayed as mark_deleted
-- when a saved index is loaded; pruned once a newer index has been saved.
CREATE TABLE IF NOT EXISTS tombstones (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL,
    label INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_by_collection ON tombstones (collection_pk, seq);
-- ClientRequestToken of user operations: the same token answers the stored response.
CREATE TABLE IF NOT EXISTS idempotency (
    collection_pk INTEGER NOT NULL,
    operation TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (collection_pk, operation, token)
) WITHOUT ROWID;
"""

# Every table, children first, for wiping a collection or the whole store.
TABLES = ("idempotency", "tombstones", "tags", "users", "faces", "collections")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one request is one transaction.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.RLock()
        self._writer = _connect(path)
        # The writer walks whole collections (rebuilds, catch-ups): 32 MB of page cache.
        self._writer.execute("PRAGMA cache_size=-32768")
        self._writer.executescript(_SCHEMA)
        self._writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (SCHEMA_VERSION,),
        )
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    @property
    def write_lock(self) -> threading.RLock:
        """Held for the whole of a mutation: the SQLite commit and the index update after it."""
        return self._write_lock

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed (and fsynced) when the block ends, else rolled back."""
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL: it sees every committed transaction)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only=ON")
            # One reader per server thread (up to 40): keep each one's page cache small (8 MB).
            conn.execute("PRAGMA cache_size=-8192")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries that see one consistent state."""
        conn = self.reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._readers_lock:
            for conn in self._readers:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._readers.clear()
        with self._write_lock:
            try:
                # Fold the WAL back into the database so the next start opens a tidy file.
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._writer.close()
