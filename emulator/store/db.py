"""The SQLite database of a data dir: the source of truth for collections, faces, users,
tags and jobs.

`Database.open(data_dir)` locks the data dir (one emulator process per folder) and brings
the schema up to date (migrations.py). One writer connection, used under a lock, with one
explicit transaction per mutating request (`with db.transaction() as conn:`); WAL mode so that searches and listings read
committed data from their own per-thread connections without waiting for the writer.
`synchronous=FULL` fsyncs the WAL at every commit: once a handler returns, the faces it
reports exist on disk, whatever happens to the process (or the machine) next.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rekognition_emulator.emulator.store import migrations

FILE_NAME = "rekognition.sqlite3"


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one request is one transaction.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


def lock_data_dir(data_dir: Path) -> int:
    """An exclusive lock on the data dir, held until the fd is closed: two processes
    appending to one set of index files would corrupt them, so the second is refused."""
    fd = os.open(data_dir / "rekognition.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(
            f"the data directory {data_dir} is in use by another emulator process"
        ) from None
    return fd


class Database:
    def __init__(self, path: Path, lock_fd: int | None = None) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._write_lock = threading.RLock()
        self._writer = _connect(path)
        # The writer walks whole collections (rebuilds, catch-ups): 32 MB of page cache.
        self._writer.execute("PRAGMA cache_size=-32768")
        try:
            migrations.upgrade(self._writer, path.parent)
        except BaseException:
            self._writer.close()
            raise
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, data_dir: Path) -> Database:
        """The data dir's database, locked for this process and migrated to this schema."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = lock_data_dir(data_dir)
        try:
            return cls(data_dir / FILE_NAME, lock_fd=fd)
        except BaseException:
            os.close(fd)
            raise

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
        if self._lock_fd is not None:
            os.close(self._lock_fd)
