"""One collection's HNSW index: derived data, rebuilt from SQLite whenever in doubt.

The index lives in memory (hnswlib) and is saved beside the database as
`indexes/c<pk>-<generation>.hnsw` plus `indexes/c<pk>.json`, which records what the file
holds: its size and CRC-32 (a torn or bit-flipped file is never handed to hnswlib, which
would crash or answer nonsense), the store and collection it belongs to, and the watermark
of the SQLite state it reflects (the highest face label added, the last tombstone applied).
Loading a saved index therefore only has to replay what SQLite committed after that
watermark, and a file that does not match is rebuilt instead.

Labels are SQLite face rowids (never reused), deletions are `mark_deleted` (their slots are
reused by later insertions), and the index grows with `resize_index`. Every mutation takes
the write side of the index's RW lock, every search the read side.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import hnswlib
import numpy as np

from rekognition_emulator.emulator.store.rwlock import RWLock

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.config import Config

log = logging.getLogger("rekognition_emulator.store")

FORMAT = 1


@dataclass(frozen=True)
class IndexParams:
    """HNSW settings, measured with tests/bench/bench_search.py (figures in its README).

    M=48 gives the best recall for the query time on hard data; ef_search=128 keeps
    SearchFaces under 5 ms p50 on a million faces. On random vectors (the worst case)
    recall@10 >= 0.99 needs ef_search 4096; face embeddings, where one person's faces stand
    far above the rest, need much less. M, ef_construction and ef_search come from the
    server's Config (hnsw_m, hnsw_ef_construction, hnsw_ef_search).
    """

    dim: int = 128
    space: str = "cosine"
    M: int = 48
    ef_construction: int = 200
    ef_search: int = 128

    @classmethod
    def from_config(cls, config: Config) -> IndexParams:
        return cls(
            M=config.hnsw_m,
            ef_construction=config.hnsw_ef_construction,
            ef_search=config.hnsw_ef_search,
        )


def unit(vectors: np.ndarray) -> np.ndarray:
    """The vectors (rows) scaled to length 1, as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def matrix(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Stored embeddings (float32 BLOBs) as one rows x dim matrix."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


@dataclass
class Watermark:
    """The SQLite state an index reflects."""

    max_label: int = 0  # every face of the collection with a label <= this is in the index
    tombstone_seq: int = 0  # every tombstone of the collection up to this seq is applied


@cache
def library() -> str:
    """Which hnswlib build is loaded: its file format is only read back by the same one."""
    loaded = Path(hnswlib.__file__).resolve()
    for dist in ("hnswlib", "chroma-hnswlib"):  # the same module name, two builds
        try:
            found = metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            continue
        if any(Path(str(found.locate_file(f))).resolve() == loaded for f in found.files or []):
            return f"{dist}=={found.version}"
    return f"hnswlib module {loaded.name} of {loaded.stat().st_size} bytes"


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(16 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class VectorIndex:
    def __init__(self, params: IndexParams, index: hnswlib.Index, deleted: int = 0) -> None:
        self.params = params
        self._index = index
        self.lock = RWLock()
        self.deleted = deleted
        self.watermark = Watermark()
        self.pending = 0  # mutations since the last save
        self.generation = 0
        self.broken = False  # set when an update failed half-way: rebuild before trusting it
        self._save_lock = threading.Lock()  # one save at a time (they share a file name)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def empty(cls, params: IndexParams, capacity: int = 1024) -> VectorIndex:
        index = hnswlib.Index(space=params.space, dim=params.dim)
        index.init_index(
            max_elements=max(capacity, 16),
            ef_construction=params.ef_construction,
            M=params.M,
            random_seed=100,
            allow_replace_deleted=True,
        )
        index.set_ef(params.ef_search)
        index.set_num_threads(1)
        return cls(params, index)

    @property
    def live_count(self) -> int:
        return self._index.element_count - self.deleted

    # -- mutations (the caller holds the store's write lock) ---------------------------------
    def add(self, labels: np.ndarray, vectors: np.ndarray, num_threads: int = 1) -> None:
        if len(labels) == 0:
            return
        with self.lock.write():
            self._add_locked(labels, vectors, num_threads)

    def _add_locked(self, labels: np.ndarray, vectors: np.ndarray, num_threads: int) -> None:
        n = len(labels)
        reused = min(self.deleted, n)
        needed = self._index.element_count + n - reused
        if needed > self._index.max_elements:
            # Grow geometrically so that a stream of single-face IndexFaces stays amortised O(1).
            self._index.resize_index(max(needed, int(self._index.max_elements * 1.5) + 16))
        try:
            self._index.add_items(
                vectors, labels, num_threads=num_threads, replace_deleted=bool(reused)
            )
        except Exception:
            self.broken = True
            raise
        self.deleted -= reused
        self.watermark.max_label = max(self.watermark.max_label, int(labels.max()))
        self.pending += n

    def delete(self, labels: list[int], tombstone_seq: int) -> int:
        """mark_deleted each label present; returns how many were."""
        with self.lock.write():
            done = self._delete_locked(labels)
            self.watermark.tombstone_seq = max(self.watermark.tombstone_seq, tombstone_seq)
            self.pending += len(labels)
        return done

    def _delete_locked(self, labels: list[int]) -> int:
        done = 0
        for label in labels:
            try:
                self._index.mark_deleted(int(label))
            except RuntimeError:
                # Not in the index (added and deleted after the last save) or already deleted.
                continue
            done += 1
        self.deleted += done
        return done

    # -- search -------------------------------------------------------------------------------
    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]] | None:
        """The k nearest (label, cosine similarity), best first; None when HNSW cannot tell.

        hnswlib raises when it finds fewer than k live neighbours (many deletions near the
        query); the caller then falls back to an exact scan rather than answer short.
        """
        with self.lock.read():
            k = min(k, self.live_count)
            if k <= 0:
                return []
            try:
                labels, distances = self._index.knn_query(vector, k=k, num_threads=1)
            except RuntimeError:
                return None
        # hnswlib's cosine distance is 1 - cos.
        return [(int(lb), 1.0 - float(d)) for lb, d in zip(labels[0], distances[0], strict=True)]

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path, pk: int, store_id: str, created_at: float) -> Watermark:
        """Write the index and its metadata atomically; returns the watermark the file holds.

        Holds the read lock: searches continue, mutations wait, so the file and the
        watermark recorded with it describe the same state.
        """
        directory.mkdir(parents=True, exist_ok=True)
        with self._save_lock:
            return self._save(directory, pk, store_id, created_at)

    def _save(self, directory: Path, pk: int, store_id: str, created_at: float) -> Watermark:
        with self.lock.read():
            generation = self.generation + 1
            final = directory / f"c{pk}-{generation}.hnsw"
            tmp = final.with_suffix(".hnsw.tmp")
            self._index.save_index(str(tmp))
            meta = {
                "format": FORMAT,
                "library": library(),
                "store_id": store_id,
                "collection_pk": pk,
                "collection_created_at": created_at,
                "file": final.name,
                "bytes": tmp.stat().st_size,
                "crc32": _crc32(tmp),
                "elements": self._index.element_count,
                "max_elements": self._index.max_elements,
                "deleted": self.deleted,
                "params": asdict(self.params),
                "watermark": asdict(self.watermark),
            }
            pending_at_save = self.pending
            saved = Watermark(**meta["watermark"])
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        meta_path = directory / f"c{pk}.json"
        meta_tmp = meta_path.with_suffix(".json.tmp")
        with open(meta_tmp, "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(meta_tmp, meta_path)
        _fsync_dir(directory)
        self.generation = generation
        with self.lock.write():  # writers update `pending` under this lock too
            self.pending -= pending_at_save
        for old in directory.glob(f"c{pk}-*.hnsw"):
            if old != final:
                old.unlink(missing_ok=True)
        return saved

    @classmethod
    def load(
        cls, directory: Path, pk: int, params: IndexParams, store_id: str, created_at: float
    ) -> VectorIndex | None:
        """The saved index of collection `pk`, or None when it is missing or not to be trusted."""
        meta_path = directory / f"c{pk}.json"
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("index metadata %s unreadable (%s): rebuilding", meta_path, exc)
            return None
        saved = meta.get("params", {})
        reason = None
        if meta.get("format") != FORMAT:
            reason = "format changed"
        elif meta.get("library") != library():
            reason = f"it was written by {meta.get('library')}, this is {library()}"
        elif meta.get("store_id") != store_id or meta.get("collection_pk") != pk:
            reason = "it belongs to another database"
        elif meta.get("collection_created_at") != created_at:
            reason = "it belongs to an older collection of the same id"
        elif (saved.get("dim"), saved.get("space"), saved.get("M")) != (
            params.dim,
            params.space,
            params.M,
        ):
            reason = "index parameters changed"
        if reason:
            log.warning("saved index of collection %d not used: %s", pk, reason)
            return None
        path = directory / str(meta.get("file"))
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            log.warning("saved index %s is missing: rebuilding", path)
            return None
        if size != meta.get("bytes") or _crc32(path) != meta.get("crc32"):
            log.warning("saved index %s is corrupt (size or CRC mismatch): rebuilding", path)
            return None
        index = hnswlib.Index(space=params.space, dim=params.dim)
        try:
            index.load_index(
                str(path), max_elements=int(meta["max_elements"]), allow_replace_deleted=True
            )
        except Exception as exc:  # hnswlib raises RuntimeError on files it cannot read
            log.warning("saved index %s could not be loaded (%s): rebuilding", path, exc)
            return None
        if index.element_count != meta.get("elements"):
            log.warning("saved index %s holds an unexpected element count: rebuilding", path)
            return None
        index.set_ef(params.ef_search)
        index.set_num_threads(1)
        loaded = cls(params, index, deleted=int(meta.get("deleted", 0)))
        loaded.watermark = Watermark(**meta["watermark"])
        loaded.generation = int(str(meta["file"]).split("-")[-1].split(".")[0])
        return loaded

    @staticmethod
    def remove_files(directory: Path, pk: int) -> None:
        for path in directory.glob(f"c{pk}[-.]*"):
            path.unlink(missing_ok=True)
