"""The face store: collections, faces, users and tags, scoped by (account, region).

`FaceStore` is the server-wide service (one per data directory): the SQLite database,
the per-collection HNSW indexes, the pagination-token secret, and two background threads
(one loads the saved indexes at start, one saves indexes that have drifted from their file).
`store.region(account, region)` gives the `RegionBackend` that handlers use; every lookup
of a collection goes through its (account, region), so scoping is structural, as in moto.

Lock order, to stay deadlock-free: a collection's index is obtained (loaded if need be)
*before* the store's write lock is taken; under the write lock a mutation commits its
SQLite transaction and then applies the same change to the index, so the index always
reflects a prefix of the committed history, and the watermark saved with it says which.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.db import TABLES, Database
from rekognition_emulator.emulator.store.records import (
    BoundingBox,
    Collection,
    Face,
    Match,
    NewFace,
    User,
    UserMatch,
)
from rekognition_emulator.emulator.store.tokens import PageTokens, load_secret
from rekognition_emulator.emulator.store.vectors import IndexParams, VectorIndex

log = logging.getLogger("rekognition_emulator.store")

# The face model every new collection is associated with (what DescribeCollection reports).
FACE_MODEL_VERSION = "7.0"
# AWS: "the total number of faces that can be associated with a single UserID is ... 100".
USER_FACE_LIMIT = 100
# AWS's general tagging quota: 50 user tags per resource.
TAG_LIMIT = 50
# How long a ClientRequestToken is remembered (unconfirmed: AWS does not document it).
IDEMPOTENCY_TTL = 24 * 3600

Similarity = Callable[[np.ndarray], np.ndarray]


def _now() -> float:
    return time.time()


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


def _chunks(items: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    # SQLite caps the number of bound parameters per statement.
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _blobs_to_matrix(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


class _Retry(Exception):
    """The collection changed identity between index load and write lock: start over."""


@dataclass
class _Slot:
    load_lock: threading.Lock = field(default_factory=threading.Lock)
    index: VectorIndex | None = None
    last_mutation: float = 0.0


@dataclass
class _UserMatrix:
    """Every face associated with a user, grouped by user, for exact user search."""

    user_pks: np.ndarray  # one per group
    starts: np.ndarray  # first row of each group
    labels: np.ndarray  # one per row
    vectors: np.ndarray  # rows x dim, unit length


_FACE_COLUMNS = (
    "f.label, f.face_id, f.image_id, f.external_image_id, f.bbox_left, f.bbox_top, "
    "f.bbox_width, f.bbox_height, f.confidence, f.model_version, u.user_id"
)
_FACE_FROM = "faces f LEFT JOIN users u ON u.pk = f.user_pk"


def _face(row: Sequence[Any]) -> Face:
    return Face(
        label=row[0],
        face_id=row[1],
        image_id=row[2],
        external_image_id=row[3],
        bounding_box=BoundingBox(left=row[4], top=row[5], width=row[6], height=row[7]),
        confidence=row[8],
        model_version=row[9],
        user_id=row[10],
    )


def _collection(row: Sequence[Any]) -> Collection:
    return Collection(
        pk=row[0],
        collection_id=row[1],
        arn=row[2],
        face_model_version=row[3],
        created_at=_utc(row[4]),
        face_count=row[5],
        user_count=row[6],
    )


_COLLECTION_COLUMNS = (
    "pk, collection_id, arn, face_model_version, created_at, face_count, user_count"
)


def collection_arn(region: str, account: str, collection_id: str) -> str:
    # The form Rekognition itself returns (no leading "arn:"), as CONTRACT.md records.
    return f"aws:rekognition:{region}:{account}:collection/{collection_id}"


def collection_not_found(collection_id: str) -> errors.ResourceNotFoundException:
    return errors.ResourceNotFoundException(f"The collection id: {collection_id} does not exist")


class FaceStore:
    """The server-wide store of one data directory (`ctx.state.singleton`)."""

    def __init__(
        self,
        data_dir: Path,
        params: IndexParams | None = None,
        *,
        preload: bool = True,
        background_saves: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._lock_data_dir()
        self.db = Database(self.data_dir / "rekognition.sqlite3")
        self.index_dir = self.data_dir / "indexes"
        self.index_dir.mkdir(exist_ok=True)
        self.params = params or IndexParams.from_env()
        self.tokens = PageTokens(load_secret(self.data_dir / "pagination.key"))
        self.store_id = self._store_id()
        self._slots: dict[int, _Slot] = {}
        self._slots_lock = threading.Lock()
        self._regions: dict[tuple[str, str], RegionBackend] = {}
        self._user_matrices: dict[int, tuple[int, _UserMatrix]] = {}
        self._assoc_versions: dict[int, int] = {}
        self._users_lock = threading.Lock()
        self._closed = threading.Event()
        self._remove_orphan_index_files()
        self._save_queue: queue.Queue[int | None] = queue.Queue()
        self._queued: set[int] = set()
        self._threads: list[threading.Thread] = []
        if background_saves:
            self._start(self._saver_loop, "index-saver")
        if preload:
            self._start(self._preload, "index-preload")

    # -- lifecycle ----------------------------------------------------------------------------
    def _lock_data_dir(self) -> int:
        # Two processes appending to one set of index files would corrupt them: refuse early.
        fd = os.open(self.data_dir / "rekognition.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"the data directory {self.data_dir} is in use by another emulator process"
            ) from None
        return fd

    def _store_id(self) -> str:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
            if row:
                return row[0]
            store_id = str(uuid.uuid4())
            conn.execute("INSERT INTO meta (key, value) VALUES ('store_id', ?)", (store_id,))
            return store_id

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _remove_orphan_index_files(self) -> None:
        live = {row[0] for row in self.db.reader().execute("SELECT pk FROM collections")}
        for path in self.index_dir.iterdir():
            stem = path.name.split(".")[0].split("-")[0]
            if not (stem.startswith("c") and stem[1:].isdigit() and int(stem[1:]) in live):
                path.unlink(missing_ok=True)
            elif path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)

    def _preload(self) -> None:
        """Load every collection's index at start so that the first search is fast."""
        pks = [row[0] for row in self.db.reader().execute("SELECT pk FROM collections")]
        for pk in pks:
            if self._closed.is_set():
                return
            try:
                self.index(pk)
            except errors.AWSError:
                continue  # deleted meanwhile
            except Exception:
                log.exception("could not load the index of collection %d", pk)

    def region(self, account: str, region: str) -> RegionBackend:
        key = (account, region)
        backend = self._regions.get(key)
        if backend is None:
            backend = self._regions.setdefault(key, RegionBackend(self, account, region))
        return backend

    def reset(self) -> None:
        """Forget everything (the admin reset): rows, indexes, caches."""
        with self.db.write_lock:
            with self.db.transaction() as conn:
                for table in TABLES:
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            with self._slots_lock:
                self._slots = {}
            self._user_matrices.clear()
            for path in self.index_dir.iterdir():
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Save every index that drifted from its file, then close the database."""
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
                    self.save_index(pk)
                except Exception:
                    log.exception("could not save the index of collection %d at shutdown", pk)
        self.db.close()
        os.close(self._lock_fd)

    # -- indexes ------------------------------------------------------------------------------
    def _slot(self, pk: int) -> _Slot:
        with self._slots_lock:
            slot = self._slots.get(pk)
            if slot is None:
                slot = self._slots[pk] = _Slot()
            return slot

    def _collection_created_at(self, conn: sqlite3.Connection, pk: int) -> float | None:
        row = conn.execute("SELECT created_at FROM collections WHERE pk = ?", (pk,)).fetchone()
        return None if row is None else row[0]

    def index(self, pk: int) -> VectorIndex:
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
            created_at = self._collection_created_at(self.db.reader(), pk)
            if created_at is None:
                raise errors.ResourceNotFoundException(f"collection {pk} no longer exists")
            started = time.perf_counter()
            index = None
            if slot.index is None:
                index = VectorIndex.load(self.index_dir, pk, self.params, self.store_id, created_at)
            how = "loaded"
            if index is None:
                # "built" for a collection that never had an index file (a new one).
                had_file = (self.index_dir / f"c{pk}.json").exists() or slot.index is not None
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
                index._add_locked(labels, _blobs_to_matrix([r[1] for r in rows], dim), threads)
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
            index._add_locked(labels, _blobs_to_matrix([r[1] for r in rows], dim), 1)
        tombs = conn.execute(
            "SELECT seq, label FROM tombstones WHERE collection_pk = ? AND seq > ? ORDER BY seq",
            (pk, index.watermark.tombstone_seq),
        ).fetchall()
        if tombs:
            index._delete_locked([t[1] for t in tombs])
            index.watermark.tombstone_seq = tombs[-1][0]
            index.pending += len(tombs)

    def _drop_index(self, pk: int) -> None:
        with self._slots_lock:
            self._slots.pop(pk, None)
        self._user_matrices.pop(pk, None)
        VectorIndex.remove_files(self.index_dir, pk)

    def save_index(self, pk: int) -> None:
        """Write collection `pk`'s index to disk now (also the bench's bulk-load API)."""
        with self._slots_lock:
            slot = self._slots.get(pk)
        if slot is None or slot.index is None:
            return
        index = slot.index
        created_at = self._collection_created_at(self.db.reader(), pk)
        if created_at is None:
            return
        # The watermark of the file written, not the live one: deletions applied after the
        # file was written must keep their tombstones.
        tombstone_seq = index.save(self.index_dir, pk, self.store_id, created_at).tombstone_seq
        with self._slots_lock:
            current = self._slots.get(pk) is slot
        if not current:
            # The collection was deleted or the store reset while we were writing.
            VectorIndex.remove_files(self.index_dir, pk)
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

    def _noted(self, pk: int, index: VectorIndex) -> None:
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
                self.save_index(pk)
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

    # -- exact search, the fallback when HNSW cannot answer ----------------------------------
    def exact_search(
        self, pk: int, vector: np.ndarray, k: int, exclude: int | None
    ) -> list[tuple[int, float]]:
        best: list[tuple[int, float]] = []
        conn = self.db.reader()
        cursor = conn.execute(
            "SELECT label, embedding FROM faces WHERE collection_pk = ? ORDER BY label", (pk,)
        )
        while rows := cursor.fetchmany(50_000):
            labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scores = _blobs_to_matrix([r[1] for r in rows], self.params.dim) @ vector
            top = np.argsort(-scores)[: k + 1]
            best.extend((int(labels[i]), float(scores[i])) for i in top)
            best = sorted((b for b in best if b[0] != exclude), key=lambda b: -b[1])[:k]
        return best

    # -- user search --------------------------------------------------------------------------
    def _invalidate_users(self, pk: int) -> None:
        with self._users_lock:
            self._assoc_versions[pk] = self._assoc_versions.get(pk, 0) + 1
            self._user_matrices.pop(pk, None)

    def user_matrix(self, pk: int) -> _UserMatrix:
        with self._users_lock:
            version = self._assoc_versions.get(pk, 0)
            cached = self._user_matrices.get(pk)
        if cached is not None and cached[0] == version:
            return cached[1]
        # Driven by the users of the collection (the partial index on faces.user_pk), so a
        # big collection with few users is not scanned.
        rows = (
            self.db.reader()
            .execute(
                "SELECT f.user_pk, f.label, f.embedding FROM users u "
                "JOIN faces f ON f.user_pk = u.pk WHERE u.collection_pk = ? "
                "ORDER BY f.user_pk, f.label",
                (pk,),
            )
            .fetchall()
        )
        user_col = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        starts = (
            np.flatnonzero(np.r_[True, user_col[1:] != user_col[:-1]])
            if len(rows)
            else np.zeros(0, dtype=np.int64)
        )
        matrix = _UserMatrix(
            user_pks=user_col[starts],
            starts=starts,
            labels=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
            vectors=_blobs_to_matrix([r[2] for r in rows], self.params.dim),
        )
        with self._users_lock:
            # Cache it only if no association changed while we were reading.
            if self._assoc_versions.get(pk, 0) == version:
                self._user_matrices[pk] = (version, matrix)
        return matrix


class RegionBackend:
    """Everything one (account, region) sees. Methods raise the AWS errors they earn."""

    def __init__(self, store: FaceStore, account: str, region: str) -> None:
        self.store = store
        self.db = store.db
        self.account = account
        self.region = region

    # -- helpers ------------------------------------------------------------------------------
    def _row(self, conn: sqlite3.Connection, collection_id: str) -> Collection:
        row = conn.execute(
            f"SELECT {_COLLECTION_COLUMNS} FROM collections "
            "WHERE account = ? AND region = ? AND collection_id = ?",
            (self.account, self.region, collection_id),
        ).fetchone()
        if row is None:
            raise collection_not_found(collection_id)
        return _collection(row)

    def _token_purpose(self, *parts: object) -> str:
        return "|".join(str(p) for p in (self.account, self.region, *parts))

    def _mutate(
        self,
        collection_id: str,
        change: Callable[[sqlite3.Connection, Collection, VectorIndex], Any],
    ) -> Any:
        """Run `change` in one transaction, with the collection's index loaded beforehand."""
        for _ in range(5):
            pk = self._row(self.db.reader(), collection_id).pk
            try:
                index = self.store.index(pk)
            except errors.ResourceNotFoundException:
                continue  # deleted meanwhile: the next lookup says so by name
            try:
                with self.db.write_lock:
                    with self.db.transaction() as conn:
                        collection = self._row(conn, collection_id)
                        if collection.pk != pk:
                            raise _Retry
                        result, after_commit = change(conn, collection, index)
                    if after_commit is not None:
                        after_commit()
                    return result
            except _Retry:
                continue
        raise errors.ConflictException(
            f"The collection id: {collection_id} was deleted and created again during the request"
        )

    # -- collections --------------------------------------------------------------------------
    def create_collection(self, collection_id: str, tags: dict[str, str] | None) -> Collection:
        _check_tag_count(collection_id, len(tags or {}))
        now = _now()
        arn = collection_arn(self.region, self.account, collection_id)
        with self.db.transaction() as conn:
            try:
                cur = conn.execute(
                    "INSERT INTO collections "
                    "(account, region, collection_id, arn, face_model_version, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) RETURNING pk",
                    (self.account, self.region, collection_id, arn, FACE_MODEL_VERSION, now),
                )
            except sqlite3.IntegrityError:
                raise errors.ResourceAlreadyExistsException(
                    f"The collection id: {collection_id} already exists"
                ) from None
            (pk,) = cur.fetchone()
            conn.executemany(
                "INSERT INTO tags (collection_pk, key, value) VALUES (?, ?, ?)",
                [(pk, k, v) for k, v in (tags or {}).items()],
            )
            return self._row(conn, collection_id)

    def describe_collection(self, collection_id: str) -> Collection:
        return self._row(self.db.reader(), collection_id)

    def delete_collection(self, collection_id: str) -> None:
        with self.db.write_lock:
            with self.db.transaction() as conn:
                pk = self._row(conn, collection_id).pk
                for table in TABLES[:-1]:
                    conn.execute(f"DELETE FROM {table} WHERE collection_pk = ?", (pk,))  # noqa: S608
                conn.execute("DELETE FROM collections WHERE pk = ?", (pk,))
            self.store._drop_index(pk)

    def list_collections(
        self, next_token: str | None, limit: int
    ) -> tuple[list[Collection], str | None]:
        purpose = self._token_purpose("ListCollections")
        after = self.store.tokens.read(purpose, next_token) if next_token else 0
        # Creation order (unconfirmed: AWS does not document the order of ListCollections).
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {_COLLECTION_COLUMNS} FROM collections "
                "WHERE account = ? AND region = ? AND pk > ? ORDER BY pk LIMIT ?",
                (self.account, self.region, after, limit + 1),
            )
            .fetchall()
        )
        collections = [_collection(r) for r in rows[:limit]]
        token = None
        if len(rows) > limit and collections:
            token = self.store.tokens.issue(purpose, collections[-1].pk)
        return collections, token

    # -- tags ---------------------------------------------------------------------------------
    def list_tags(self, collection_id: str) -> dict[str, str]:
        with self.db.snapshot() as conn:
            pk = self._row(conn, collection_id).pk
            rows = conn.execute(
                "SELECT key, value FROM tags WHERE collection_pk = ? ORDER BY key", (pk,)
            ).fetchall()
        return dict(rows)

    def tag(self, collection_id: str, tags: dict[str, str]) -> None:
        with self.db.transaction() as conn:
            pk = self._row(conn, collection_id).pk
            existing = {
                r[0] for r in conn.execute("SELECT key FROM tags WHERE collection_pk = ?", (pk,))
            }
            _check_tag_count(collection_id, len(existing | set(tags)))
            conn.executemany(
                "INSERT INTO tags (collection_pk, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (collection_pk, key) DO UPDATE SET value = excluded.value",
                [(pk, k, v) for k, v in tags.items()],
            )

    def untag(self, collection_id: str, keys: list[str]) -> None:
        with self.db.transaction() as conn:
            pk = self._row(conn, collection_id).pk
            conn.executemany(
                "DELETE FROM tags WHERE collection_pk = ? AND key = ?", [(pk, k) for k in keys]
            )

    # -- faces --------------------------------------------------------------------------------
    def add_faces(
        self, collection_id: str, faces: Sequence[NewFace], external_image_id: str | None
    ) -> tuple[Collection, list[Face]]:
        """Store the faces of one image (one ImageId); durable when this returns."""
        dim = self.store.params.dim
        vectors = _unit(np.stack([f.embedding for f in faces])) if faces else None
        if vectors is not None and vectors.shape[1] != dim:
            raise ValueError(f"embeddings must have {dim} dimensions, not {vectors.shape[1]}")
        image_id = str(uuid.uuid4())

        def change(conn: sqlite3.Connection, collection: Collection, index: VectorIndex):
            now = _now()
            stored: list[Face] = []
            for face, vector in zip(faces, vectors if vectors is not None else [], strict=True):
                box = face.bounding_box
                face_id = str(uuid.uuid4())
                (label,) = conn.execute(
                    "INSERT INTO faces (collection_pk, face_id, image_id, external_image_id, "
                    "bbox_left, bbox_top, bbox_width, bbox_height, confidence, model_version, "
                    "embedding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING label",
                    (
                        collection.pk,
                        face_id,
                        image_id,
                        external_image_id,
                        box.left,
                        box.top,
                        box.width,
                        box.height,
                        face.confidence,
                        collection.face_model_version,
                        vector.tobytes(),
                        now,
                    ),
                ).fetchone()
                stored.append(
                    Face(
                        label=label,
                        face_id=face_id,
                        image_id=image_id,
                        external_image_id=external_image_id,
                        bounding_box=box,
                        confidence=face.confidence,
                        model_version=collection.face_model_version,
                        user_id=None,
                    )
                )
            if stored:
                conn.execute(
                    "UPDATE collections SET face_count = face_count + ? WHERE pk = ?",
                    (len(stored), collection.pk),
                )

            def apply() -> None:
                if stored:
                    labels = np.array([f.label for f in stored], dtype=np.int64)
                    index.add(labels, vectors)
                    self.store._noted(collection.pk, index)

            return (collection, stored), apply

        return self._mutate(collection_id, change)

    def bulk_add(self, collection_id: str, vectors: np.ndarray, *, batch: int = 50_000) -> int:
        """Internal (benchmarks, never an AWS operation): store many synthetic faces fast.

        Faces get a whole-image bounding box and no ExternalImageId; the index is built
        once at the end with every core and saved, as a restart would find it.
        """
        vectors = _unit(vectors)
        with self.db.transaction() as conn:
            collection = self._row(conn, collection_id)
            now = _now()
            for start in range(0, len(vectors), batch):
                part = vectors[start : start + batch]
                image_id = str(uuid.uuid4())
                conn.executemany(
                    "INSERT INTO faces (collection_pk, face_id, image_id, bbox_left, bbox_top, "
                    "bbox_width, bbox_height, confidence, model_version, embedding, created_at) "
                    "VALUES (?, ?, ?, 0, 0, 1, 1, 100, ?, ?, ?)",
                    (
                        (
                            collection.pk,
                            str(uuid.uuid4()),
                            image_id,
                            collection.face_model_version,
                            v.tobytes(),
                            now,
                        )
                        for v in part
                    ),
                )
            conn.execute(
                "UPDATE collections SET face_count = face_count + ? WHERE pk = ?",
                (len(vectors), collection.pk),
            )
        # Drop any loaded index: the next access rebuilds it from SQLite with every core.
        with self.store._slots_lock:
            self.store._slots.pop(collection.pk, None)
        VectorIndex.remove_files(self.store.index_dir, collection.pk)
        self.store.index(collection.pk)
        self.store.save_index(collection.pk)
        return len(vectors)

    def list_faces(
        self,
        collection_id: str,
        next_token: str | None,
        limit: int,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> tuple[Collection, list[Face], str | None]:
        with self.db.snapshot() as conn:
            collection = self._row(conn, collection_id)
            filter_key = hashlib.sha256(
                json.dumps([user_id, sorted(set(face_ids or []))]).encode()
            ).hexdigest()
            purpose = self._token_purpose("ListFaces", collection.pk, filter_key)
            after = self.store.tokens.read(purpose, next_token) if next_token else 0
            where = ["f.collection_pk = ?", "f.label > ?"]
            args: list[Any] = [collection.pk, after]
            if user_id is not None:
                # By the user's pk, so that SQLite walks that user's faces, not the collection.
                user = conn.execute(
                    "SELECT pk FROM users WHERE collection_pk = ? AND user_id = ?",
                    (collection.pk, user_id),
                ).fetchone()
                where.append("f.user_pk = ?")
                args.append(user[0] if user else -1)
            if face_ids:
                ids = _dedupe(face_ids)
                where.append(f"f.face_id IN ({','.join('?' * len(ids))})")
                args.extend(ids)
            # With FaceIds, look each id up rather than walk the whole collection in label order.
            source = (
                "faces f INDEXED BY faces_by_face_id LEFT JOIN users u ON u.pk = f.user_pk"
                if face_ids
                else _FACE_FROM
            )
            rows = conn.execute(
                f"SELECT {_FACE_COLUMNS} FROM {source} WHERE {' AND '.join(where)} "
                "ORDER BY f.label LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
        faces = [_face(r) for r in rows[:limit]]
        token = None
        if len(rows) > limit and faces:
            token = self.store.tokens.issue(purpose, faces[-1].label)
        return collection, faces, token

    def delete_faces(
        self, collection_id: str, face_ids: Sequence[str]
    ) -> tuple[list[str], list[tuple[str, str | None, str]]]:
        """(deleted ids, [(face id, user id, reason)]) for faces that were not deleted."""
        requested = _dedupe(face_ids)

        def change(conn: sqlite3.Connection, collection: Collection, index: VectorIndex):
            found: dict[str, tuple[int, str | None]] = {}
            for part in _chunks(requested):
                for label, face_id, user_id in conn.execute(
                    "SELECT f.label, f.face_id, u.user_id FROM faces f "
                    "LEFT JOIN users u ON u.pk = f.user_pk "
                    f"WHERE f.collection_pk = ? AND f.face_id IN ({','.join('?' * len(part))})",
                    (collection.pk, *part),
                ):
                    found[face_id] = (label, user_id)
            deleted: list[str] = []
            labels: list[int] = []
            failed: list[tuple[str, str | None, str]] = []
            for face_id in requested:
                if face_id not in found:
                    failed.append((face_id, None, "FACE_NOT_FOUND"))
                elif found[face_id][1] is not None:
                    # A face that belongs to a user must be disassociated first.
                    failed.append((face_id, found[face_id][1], "ASSOCIATED_TO_AN_EXISTING_USER"))
                else:
                    deleted.append(face_id)
                    labels.append(found[face_id][0])
            last_seq = 0
            for part in _chunks(labels):
                conn.execute(
                    f"DELETE FROM faces WHERE label IN ({','.join('?' * len(part))})", part
                )
                for (seq,) in conn.execute(
                    "INSERT INTO tombstones (collection_pk, label) VALUES "
                    + ",".join(["(?, ?)"] * len(part))
                    + " RETURNING seq",
                    [x for label in part for x in (collection.pk, label)],
                ).fetchall():
                    last_seq = max(last_seq, seq)
            if labels:
                conn.execute(
                    "UPDATE collections SET face_count = face_count - ? WHERE pk = ?",
                    (len(labels), collection.pk),
                )

            def apply() -> None:
                if labels:
                    index.delete(labels, last_seq)
                    self.store._noted(collection.pk, index)

            return (deleted, failed), apply

        return self._mutate(collection_id, change)

    def face_vector(self, collection_id: str, face_id: str) -> tuple[Collection, Face, np.ndarray]:
        """A stored face and its (unit) embedding; InvalidParameterException if absent."""
        with self.db.snapshot() as conn:
            collection = self._row(conn, collection_id)
            row = conn.execute(
                f"SELECT {_FACE_COLUMNS}, f.embedding FROM {_FACE_FROM} "
                "WHERE f.collection_pk = ? AND f.face_id = ?",
                (collection.pk, face_id),
            ).fetchone()
        if row is None:
            raise errors.InvalidParameterException(
                f"Request has invalid parameters: face id {face_id} was not found in the "
                f"collection {collection_id}"
            )
        vector = np.frombuffer(row[-1], dtype=np.float32)
        return collection, _face(row[:-1]), vector

    def search_faces(
        self,
        collection: Collection,
        vector: np.ndarray,
        max_faces: int,
        min_cosine: float,
        exclude_label: int | None = None,
    ) -> list[Match]:
        """Faces of `collection` at least `min_cosine` similar to `vector`, best first."""
        vector = _unit(vector)
        try:
            index = self.store.index(collection.pk)
        except errors.ResourceNotFoundException:
            raise collection_not_found(collection.collection_id) from None
        want = max_faces + (1 if exclude_label is not None else 0)
        # Ask HNSW for a few neighbours first and widen only while the last one still passes
        # the threshold: a search with a high threshold (the default 80) stays cheap even
        # when MaxFaces is 4096.
        k = min(want, 32)
        while True:
            hits = index.search(vector, k)
            if hits is None:
                hits = self.store.exact_search(collection.pk, vector, k, exclude_label)
                break
            if len(hits) < k or k >= want or hits[-1][1] < min_cosine:
                break
            k = min(want, k * 4)
        hits = [h for h in hits if h[0] != exclude_label and h[1] >= min_cosine][:max_faces]
        if not hits:
            return []
        faces = self._faces_by_label(collection.pk, [h[0] for h in hits])
        # A face deleted after the index answered is simply not returned.
        return [Match(face=faces[label], cosine=cos) for label, cos in hits if label in faces]

    def _faces_by_label(self, pk: int, labels: Sequence[int]) -> dict[int, Face]:
        conn = self.db.reader()
        found: dict[int, Face] = {}
        for part in _chunks(list(labels)):
            for row in conn.execute(
                f"SELECT {_FACE_COLUMNS} FROM {_FACE_FROM} "
                # "+" keeps SQLite from scanning the collection's index: look the labels up.
                f"WHERE f.label IN ({','.join('?' * len(part))}) AND +f.collection_pk = ?",
                (*part, pk),
            ):
                found[row[0]] = _face(row)
        return found

    # -- users --------------------------------------------------------------------------------
    def _user(self, conn: sqlite3.Connection, collection: Collection, user_id: str) -> User:
        row = conn.execute(
            "SELECT pk, (SELECT count(*) FROM faces WHERE user_pk = users.pk) FROM users "
            "WHERE collection_pk = ? AND user_id = ?",
            (collection.pk, user_id),
        ).fetchone()
        if row is None:
            raise errors.ResourceNotFoundException(
                f"The user id: {user_id} does not exist in the collection "
                f"{collection.collection_id}"
            )
        return User(pk=row[0], user_id=user_id, face_count=row[1])

    def _idempotent(
        self,
        conn: sqlite3.Connection,
        collection: Collection,
        operation: str,
        token: str | None,
        request: dict[str, Any],
        run: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """Answer a repeated ClientRequestToken with the stored response (same transaction)."""
        if token is None:
            return run()
        request_hash = hashlib.sha256(
            json.dumps(request, sort_keys=True, default=str).encode()
        ).hexdigest()
        now = _now()
        conn.execute("DELETE FROM idempotency WHERE created_at < ?", (now - IDEMPOTENCY_TTL,))
        row = conn.execute(
            "SELECT request_hash, response FROM idempotency "
            "WHERE collection_pk = ? AND operation = ? AND token = ?",
            (collection.pk, operation, token),
        ).fetchone()
        if row is not None:
            if row[0] != request_hash:
                raise errors.IdempotentParameterMismatchException(
                    f"ClientRequestToken {token} was already used for a different {operation} "
                    "request; use a new token for new parameters."
                )
            return json.loads(row[1])
        response = run()
        conn.execute(
            "INSERT INTO idempotency "
            "(collection_pk, operation, token, request_hash, response, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (collection.pk, operation, token, request_hash, json.dumps(response), now),
        )
        return response

    def create_user(self, collection_id: str, user_id: str, token: str | None) -> dict[str, Any]:
        with self.db.transaction() as conn:
            collection = self._row(conn, collection_id)

            def run() -> dict[str, Any]:
                try:
                    conn.execute(
                        "INSERT INTO users (collection_pk, user_id, created_at) VALUES (?, ?, ?)",
                        (collection.pk, user_id, _now()),
                    )
                except sqlite3.IntegrityError:
                    raise errors.ConflictException(
                        f"The user id: {user_id} already exists in the collection {collection_id}"
                    ) from None
                conn.execute(
                    "UPDATE collections SET user_count = user_count + 1 WHERE pk = ?",
                    (collection.pk,),
                )
                return {}

            return self._idempotent(conn, collection, "CreateUser", token, {"UserId": user_id}, run)

    def _user_write(
        self,
        collection_id: str,
        operation: str,
        token: str | None,
        request: dict[str, Any],
        run: Callable[[sqlite3.Connection, Collection], dict[str, Any]],
    ) -> dict[str, Any]:
        """One write that changes a collection's users: under the write lock, in a transaction,
        idempotent by ClientRequestToken; the cached user data is dropped afterwards."""
        with self.db.write_lock:
            with self.db.transaction() as conn:
                collection = self._row(conn, collection_id)
                response = self._idempotent(
                    conn, collection, operation, token, request, lambda: run(conn, collection)
                )
            self.store._invalidate_users(collection.pk)
            return response

    def delete_user(self, collection_id: str, user_id: str, token: str | None) -> dict[str, Any]:
        def run(conn: sqlite3.Connection, collection: Collection) -> dict[str, Any]:
            user = self._user(conn, collection, user_id)
            # AWS: faces of the user are disassociated, then the user is deleted.
            conn.execute("UPDATE faces SET user_pk = NULL WHERE user_pk = ?", (user.pk,))
            conn.execute("DELETE FROM users WHERE pk = ?", (user.pk,))
            conn.execute(
                "UPDATE collections SET user_count = user_count - 1 WHERE pk = ?",
                (collection.pk,),
            )
            return {}

        return self._user_write(collection_id, "DeleteUser", token, {"UserId": user_id}, run)

    def list_users(
        self, collection_id: str, next_token: str | None, limit: int
    ) -> tuple[list[User], str | None]:
        with self.db.snapshot() as conn:
            collection = self._row(conn, collection_id)
            purpose = self._token_purpose("ListUsers", collection.pk)
            after = self.store.tokens.read(purpose, next_token) if next_token else 0
            # "The results are sorted by system generated primary key ID."
            rows = conn.execute(
                "SELECT pk, user_id, (SELECT count(*) FROM faces WHERE user_pk = users.pk) "
                "FROM users WHERE collection_pk = ? AND pk > ? ORDER BY pk LIMIT ?",
                (collection.pk, after, limit + 1),
            ).fetchall()
        users = [User(pk=r[0], user_id=r[1], face_count=r[2]) for r in rows[:limit]]
        token = None
        if len(rows) > limit and users:
            token = self.store.tokens.issue(purpose, users[-1].pk)
        return users, token

    def associate_faces(
        self,
        collection_id: str,
        user_id: str,
        face_ids: Sequence[str],
        threshold: float,
        similarity: Similarity,
        token: str | None,
        request: dict[str, Any],
    ) -> dict[str, Any]:
        """AssociateFaces' response. `similarity` maps cosines to AWS's 0-100 scale."""
        dim = self.store.params.dim

        def run(conn: sqlite3.Connection, collection: Collection) -> dict[str, Any]:
            user = self._user(conn, collection, user_id)
            mine = conn.execute(
                "SELECT embedding FROM faces WHERE user_pk = ?", (user.pk,)
            ).fetchall()
            user_vectors = _blobs_to_matrix([r[0] for r in mine], dim)
            wanted = _dedupe(face_ids)
            rows = self._faces_for_users(conn, collection.pk, wanted)
            associated: list[dict[str, Any]] = []
            labels: list[int] = []
            failed: list[dict[str, Any]] = []
            for face_id in wanted:
                row = rows.get(face_id)
                if row is None:
                    failed.append(_face_failure(face_id, user_id, "FACE_NOT_FOUND"))
                    continue
                label, owner_pk, owner_id, blob = row
                if owner_pk == user.pk:
                    continue  # already this user's: AWS ignores it
                if owner_pk is not None:
                    failed.append(
                        _face_failure(face_id, owner_id, "ASSOCIATED_TO_A_DIFFERENT_USER")
                    )
                    continue
                if len(user_vectors):
                    # Matched against the faces the user had before this request.
                    vector = np.frombuffer(blob, dtype=np.float32)
                    score = float(similarity(np.array([(user_vectors @ vector).max()]))[0])
                    if score < threshold:
                        failed.append(
                            _face_failure(face_id, user_id, "LOW_MATCH_CONFIDENCE", score)
                        )
                        continue
                associated.append({"FaceId": face_id})
                labels.append(label)
            if user.face_count + len(labels) > USER_FACE_LIMIT:
                raise errors.ServiceQuotaExceededException(
                    f"The user id: {user_id} has {user.face_count} faces; associating "
                    f"{len(labels)} more would pass the limit of {USER_FACE_LIMIT} "
                    "faces per user"
                )
            _set_face_owner(conn, labels, user.pk)
            status = User(user.pk, user_id, user.face_count + len(labels)).status
            return {
                "AssociatedFaces": associated,
                "UnsuccessfulFaceAssociations": failed,
                "UserStatus": status,
            }

        return self._user_write(collection_id, "AssociateFaces", token, request, run)

    def _faces_for_users(
        self, conn: sqlite3.Connection, pk: int, face_ids: list[str]
    ) -> dict[str, tuple[int, int | None, str | None, bytes]]:
        rows: dict[str, tuple[int, int | None, str | None, bytes]] = {}
        for part in _chunks(face_ids):
            for face_id, label, owner_pk, owner_id, blob in conn.execute(
                "SELECT f.face_id, f.label, f.user_pk, u.user_id, f.embedding FROM faces f "
                "LEFT JOIN users u ON u.pk = f.user_pk "
                f"WHERE f.collection_pk = ? AND f.face_id IN ({','.join('?' * len(part))})",
                (pk, *part),
            ):
                rows[face_id] = (label, owner_pk, owner_id, blob)
        return rows

    def disassociate_faces(
        self,
        collection_id: str,
        user_id: str,
        face_ids: Sequence[str],
        token: str | None,
        request: dict[str, Any],
    ) -> dict[str, Any]:
        def run(conn: sqlite3.Connection, collection: Collection) -> dict[str, Any]:
            user = self._user(conn, collection, user_id)
            wanted = _dedupe(face_ids)
            rows = self._faces_for_users(conn, collection.pk, wanted)
            done: list[dict[str, Any]] = []
            labels: list[int] = []
            failed: list[dict[str, Any]] = []
            for face_id in wanted:
                row = rows.get(face_id)
                if row is None:
                    failed.append(_face_failure(face_id, user_id, "FACE_NOT_FOUND"))
                elif row[1] is None:
                    continue  # already disassociated: AWS ignores it
                elif row[1] != user.pk:
                    failed.append(_face_failure(face_id, row[2], "ASSOCIATED_TO_A_DIFFERENT_USER"))
                else:
                    done.append({"FaceId": face_id})
                    labels.append(row[0])
            _set_face_owner(conn, labels, None)
            status = User(user.pk, user_id, user.face_count - len(labels)).status
            return {
                "DisassociatedFaces": done,
                "UnsuccessfulFaceDisassociations": failed,
                "UserStatus": status,
            }

        return self._user_write(collection_id, "DisassociateFaces", token, request, run)

    def user_vectors(self, collection_id: str, user_id: str) -> tuple[Collection, User, np.ndarray]:
        with self.db.snapshot() as conn:
            collection = self._row(conn, collection_id)
            user = self._user(conn, collection, user_id)
            rows = conn.execute(
                "SELECT embedding FROM faces WHERE user_pk = ? ORDER BY label", (user.pk,)
            ).fetchall()
        return collection, user, _blobs_to_matrix([r[0] for r in rows], self.store.params.dim)

    def search_users(
        self,
        collection: Collection,
        queries: np.ndarray,
        max_users: int,
        min_cosine: float,
        exclude_label: int | None = None,
        exclude_user: str | None = None,
    ) -> list[UserMatch]:
        """Users ranked by their best face's cosine to any query vector (exact search).

        A user's score is the similarity of its closest associated face: the users of a
        collection hold at most 100 faces each, so scanning them all stays cheap and exact.
        """
        matrix = self.store.user_matrix(collection.pk)
        if not len(matrix.labels) or not len(queries):
            return []
        scores = (matrix.vectors @ _unit(np.atleast_2d(queries)).T).max(axis=1)
        if exclude_label is not None:
            scores[matrix.labels == exclude_label] = -2.0
        per_user = np.maximum.reduceat(scores, matrix.starts)
        order = np.argsort(-per_user, kind="stable")
        chosen = [int(i) for i in order if per_user[i] >= min_cosine]
        if not chosen:
            return []
        conn = self.db.reader()
        pks = [int(matrix.user_pks[i]) for i in chosen]
        users: dict[int, User] = {}
        for part in _chunks(pks):
            for pk, uid, count in conn.execute(
                "SELECT pk, user_id, (SELECT count(*) FROM faces WHERE user_pk = users.pk) "
                f"FROM users WHERE pk IN ({','.join('?' * len(part))})",
                part,
            ):
                users[pk] = User(pk=pk, user_id=uid, face_count=count)
        matches = [
            UserMatch(user=users[pk], cosine=float(per_user[i]))
            for i, pk in zip(chosen, pks, strict=True)
            if pk in users and users[pk].user_id != exclude_user
        ]
        return matches[:max_users]


def _face_failure(
    face_id: str, user_id: str | None, reason: str, confidence: float | None = None
) -> dict[str, Any]:
    """One entry of Unsuccessful{Associations,Disassociations}."""
    failure: dict[str, Any] = {"FaceId": face_id, "UserId": user_id}
    if confidence is not None:
        failure["Confidence"] = confidence
    failure["Reasons"] = [reason]
    return failure


def _set_face_owner(conn: sqlite3.Connection, labels: Sequence[int], user_pk: int | None) -> None:
    """Give the faces `labels` to user `user_pk` (None: to no user)."""
    for part in _chunks(labels):
        conn.execute(
            f"UPDATE faces SET user_pk = ? WHERE label IN ({','.join('?' * len(part))})",
            (user_pk, *part),
        )


def _check_tag_count(collection_id: str, count: int) -> None:
    if count > TAG_LIMIT:
        raise errors.ServiceQuotaExceededException(
            f"The collection id: {collection_id} would have {count} tags; a resource can have "
            f"at most {TAG_LIMIT}"
        )
