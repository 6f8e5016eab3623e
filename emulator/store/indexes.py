"""The lifecycle of the collections' HNSW indexes: load (or build) on first use, catch up
with what SQLite committed after the saved watermark, save when they drift from their file.

Two background threads: one loads every saved index at start (so the first search is
fast), one saves indexes that drifted far from their file or were left idle after writes.

Lock order, to stay deadlock-free: a collection's index is obtained (loaded if need be)
*before* the database's write lock is taken; under the write lock a mutation commits its
SQLite transaction and then applies the same change to the index, so the index always
reflects a prefix of the committed history, and the watermark saved with it says which.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.db import Database
from rekognition_emulator.emulator.store.vectors import IndexParams, VectorIndex, matrix

log = logging.getLogger("rekognition_emulator.store")


@dataclass
class _Slot:
    load_lock: threading.Lock = field(default_factory=threading.Lock)
    index: VectorIndex | None = None
    last_mutation: float = 0.0


class Indexes:
    """The indexes of one database's collections, by collection pk."""

    def __init__(
        self,
        db: Database,
        directory: Path,
        params: IndexParams,
        store_id: str,
        *,
        preload: bool,
        background_saves: bool,
    ) -> None:
        self.db = db
        self.directory = directory
        self.directory.mkdir(exist_ok=True)
        self.params = params
        self.store_id = store_id
        self._slots: dict[int, _Slot] = {}
        self._slots_lock = threading.Lock()
        self._closed = threading.Event()
        self._remove_orphan_files()
        self._save_queue: queue.Queue[int | None] = queue.Queue()
        self._queued: set[int] = set()
        self._threads: list[threading.Thread] = []
        if background_saves:
            self._start(self._saver_loop, "index-saver")
        if preload:
            self._start(self._preload, "index-preload")

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _remove_orphan_files(self) -> None:
        live = {row[0] for row in self.db.reader().execute("SELECT pk FROM collections")}
        for path in self.directory.iterdir():
            stem = path.name.split(".")[0].split("-")[0]
            if not (stem.startswith("c") and stem[1:].isdigit() and int(stem[1:]) in live):
                path.unlink(missing_ok=True)
            elif path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)

    def _preload(self) -> None:
        pks = [row[0] for row in self.db.reader().execute("SELECT pk FROM collections")]
        for pk in pks:
            if self._closed.is_set():
                return
            try:
                self.get(pk)
            except errors.AWSError:
                continue  # deleted meanwhile
            except Exception:
                log.exception("could not load the index of collection %d", pk)

    # -- get: load, build, catch up -------------------------------------------------------------
    def _slot(self, pk: int) -> _Slot:
        with self._slots_lock:
            slot = self._slots.get(pk)
            if slot is None:
                slot = self._slots[pk] = _Slot()
            return slot

    def _created_at(self, conn: sqlite3.Connection, pk: int) -> float | None:
        row = conn.execute("SELECT created_at FROM collections WHERE pk = ?", (pk,)).fetchone()
        return None if row is None else row[0]

    def get(self, pk: int) -> VectorIndex:
        """Collection `pk`'s index: loaded from its file and caught up, or rebuilt.

        Must not be called with the write lock held (see the module's lock order).
        """
        slot = self._slot(pk)
        index = slot.index
        if index is not None and not index.broken:
            return index
        with slot.load_lock:
            if slot.index is not None and not slot.index.broken:
                return slot.index
            created_at = self._created_at(self.db.reader(), pk)
            if created_at is None:
                raise errors.ResourceNotFoundException(f"collection {pk} no longer exists")
            started = time.perf_counter()
            index = None
            if slot.index is None:
                index = VectorIndex.load(self.directory, pk, self.params, self.store_id, created_at)
            how = "loaded"
            if index is None:
                # "built" for a collection that never had an index file (a new one).
                had_file = (self.directory / f"c{pk}.json").exists() or slot.index is not None
                index, how = self._build(pk), "rebuilt" if had_file else "built"
            with self.db.write_lock:
                conn = self.db.reader()
                face_count = conn.execute(
                    "SELECT face_count FROM collections WHERE pk = ? AND created_at = ?",
                    (pk, created_at),
                ).fetchone()
                if face_count is None:
                    raise errors.ResourceNotFoundException(f"collection {pk} no longer exists")
                self._catch_up(conn, pk, index)
                if index.live_count != face_count[0]:
                    log.warning(
                        "index of collection %d holds %d faces, SQLite %d: rebuilding",
                        pk,
                        index.live_count,
                        face_count[0],
                    )
                    # Under the write lock nothing can commit meanwhile, so this is exact.
                    index, how = self._build(pk), "rebuilt"
                    self._catch_up(conn, pk, index)
                with self._slots_lock:
                    if self._slots.get(pk) is slot:
                        slot.index = index
            log.info(
                "index of collection %d %s: %d faces in %.2fs",
                pk,
                how,
                index.live_count,
                time.perf_counter() - started,
            )
            if how != "loaded":
                self._queue_save(pk)
            return index

    def _build(self, pk: int) -> VectorIndex:
        """A fresh index from a consistent SQLite snapshot (later commits are caught up)."""
        dim = self.params.dim
        with self.db.snapshot() as conn:
            count, max_label = conn.execute(
                "SELECT count(*), coalesce(max(label), 0) FROM faces WHERE collection_pk = ?",
                (pk,),
            ).fetchone()
            (tombstone_seq,) = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM tombstones WHERE collection_pk = ?", (pk,)
            ).fetchone()
            index = VectorIndex.empty(self.params, capacity=int(count * 1.1) + 1024)
            cursor = conn.execute(
                "SELECT label, embedding FROM faces WHERE collection_pk = ? ORDER BY label", (pk,)
            )
            threads = os.cpu_count() or 1
            while rows := cursor.fetchmany(20_000):
                labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                index._add_locked(labels, matrix([r[1] for r in rows], dim), threads)
        index.watermark.max_label = max_label
        index.watermark.tombstone_seq = tombstone_seq
        index.pending = max(index.pending, 1)
        return index

    def _catch_up(self, conn: sqlite3.Connection, pk: int, index: VectorIndex) -> None:
        """Apply what SQLite committed after the index's watermark (write lock held)."""
        dim = self.params.dim
        cursor = conn.execute(
            "SELECT label, embedding FROM faces WHERE collection_pk = ? AND label > ? "
            "ORDER BY label",
            (pk, index.watermark.max_label),
        )
        while rows := cursor.fetchmany(20_000):
            labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            index._add_locked(labels, matrix([r[1] for r in rows], dim), 1)
        tombs = conn.execute(
            "SELECT seq, label FROM tombstones WHERE collection_pk = ? AND seq > ? ORDER BY seq",
            (pk, index.watermark.tombstone_seq),
        ).fetchall()
        if tombs:
            index._delete_locked([t[1] for t in tombs])
            index.watermark.tombstone_seq = tombs[-1][0]
            index.pending += len(tombs)

    def drop(self, pk: int) -> None:
        """Forget collection `pk`'s index and its files (deleted, or to be rebuilt)."""
        with self._slots_lock:
            self._slots.pop(pk, None)
        VectorIndex.remove_files(self.directory, pk)

    # -- save -----------------------------------------------------------------------------------
    def save(self, pk: int) -> None:
        """Write collection `pk`'s index to disk now."""
        with self._slots_lock:
            slot = self._slots.get(pk)
        if slot is None or slot.index is None:
            return
        index = slot.index
        created_at = self._created_at(self.db.reader(), pk)
        if created_at is None:
            return
        # The watermark of the file written, not the live one: deletions applied after the
        # file was written must keep their tombstones.
        tombstone_seq = index.save(self.directory, pk, self.store_id, created_at).tombstone_seq
        with self._slots_lock:
            current = self._slots.get(pk) is slot
        if not current:
            # The collection was deleted or the store reset while we were writing.
            VectorIndex.remove_files(self.directory, pk)
            return
        # Tombstones the saved file already reflects are no longer needed for a replay.
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM tombstones WHERE collection_pk = ? AND seq <= ?", (pk, tombstone_seq)
            )

    def _save_threshold(self, index: VectorIndex) -> int:
        # Bound the replay a crash leaves for the next start, without rewriting a big index
        # for every few faces: about 5% of the collection, at least 500, at most 10,000.
        return max(500, min(10_000, index.live_count // 20))

    def noted(self, pk: int, index: VectorIndex) -> None:
        """After a mutation: queue a save when the index drifted far from its file."""
        slot = self._slots.get(pk)
        if slot is not None:
            slot.last_mutation = time.monotonic()
        if index.pending >= self._save_threshold(index):
            self._queue_save(pk)

    def _queue_save(self, pk: int) -> None:
        with self._slots_lock:
            if pk in self._queued:
                return
            self._queued.add(pk)
        self._save_queue.put(pk)

    def _saver_loop(self) -> None:
        while not self._closed.is_set():
            try:
                pk = self._save_queue.get(timeout=5)
            except queue.Empty:
                self._queue_idle_saves()
                continue
            if pk is None:
                return
            with self._slots_lock:
                self._queued.discard(pk)
            try:
                self.save(pk)
            except Exception:
                log.exception("could not save the index of collection %d", pk)

    def _queue_idle_saves(self) -> None:
        # A collection written to and then left alone for 30 s gets saved, so that a crash
        # much later does not have to replay its last changes.
        now = time.monotonic()
        with self._slots_lock:
            slots = list(self._slots.items())
        for pk, slot in slots:
            index = slot.index
            if index is not None and index.pending and now - slot.last_mutation > 30:
                self._queue_save(pk)

    # -- exact search, the fallback when HNSW cannot answer ------------------------------------
    def exact_search(
        self, pk: int, vector: np.ndarray, k: int, exclude: int | None
    ) -> list[tuple[int, float]]:
        best: list[tuple[int, float]] = []
        cursor = self.db.reader().execute(
            "SELECT label, embedding FROM faces WHERE collection_pk = ? ORDER BY label", (pk,)
        )
        while rows := cursor.fetchmany(50_000):
            labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scores = matrix([r[1] for r in rows], self.params.dim) @ vector
            top = np.argsort(-scores)[: k + 1]
            best.extend((int(labels[i]), float(scores[i])) for i in top)
            best = sorted((b for b in best if b[0] != exclude), key=lambda b: -b[1])[:k]
        return best

    # -- whole store ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every index and its files (the caller holds the write lock)."""
        with self._slots_lock:
            self._slots = {}
        for path in self.directory.iterdir():
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the threads, then save every index that drifted from its file."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._save_queue.put(None)
        for thread in self._threads:
            thread.join(timeout=60)
        with self._slots_lock:
            slots = dict(self._slots)
        for pk, slot in slots.items():
            if slot.index is not None and slot.index.pending and not slot.index.broken:
                try:
                    self.save(pk)
                except Exception:
                    log.exception("could not save the index of collection %d at shutdown", pk)
