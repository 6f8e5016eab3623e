"""Loaded models, shared by every request and thread of the process.

Loading is lazy (first use), happens once per process even when many threads ask at the same
time, and is recorded for the health endpoint (`loaded()`).

- `onnx_session(name)`: one onnxruntime InferenceSession per model. `run()` is thread-safe, so the
  session is shared as is, with a fixed intra-op thread count (`configure(threads)`, default 2)
  so concurrent requests do not each grab every core.
- `shared(name, factory)`: for objects that are NOT thread-safe (cv2.dnn nets,
  cv2.FaceDetectorYN, cv2.FaceRecognizerSF keep per-call state). They are handed out one caller
  at a time through `with holder.use() as obj:`, from a small pool created on demand.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from rekognition_emulator.models.store import ModelStore, default_store

if TYPE_CHECKING:
    import onnxruntime

ENV_THREADS = "REKOGNITION_EMULATOR_THREADS"
DEFAULT_THREADS = 2

T = TypeVar("T")


_configured_threads: int | None = None


def configure(threads: int | None) -> None:
    """Set the intra-op thread count explicitly (the server does, from its Config); None goes
    back to the standalone default below. Sessions already created keep their count."""
    global _configured_threads
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    _configured_threads = threads


def thread_count() -> int:
    """Intra-op threads per inference: the count given to `configure()`; else (the library used
    on its own) $REKOGNITION_EMULATOR_THREADS, default 2, at least 1."""
    if _configured_threads is not None:
        return _configured_threads
    raw = os.environ.get(ENV_THREADS, "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_THREADS
    except ValueError:
        raise ValueError(f"{ENV_THREADS} must be a whole number, got {raw!r}") from None


@dataclass(frozen=True)
class LoadRecord:
    name: str
    kind: str  # "onnxruntime" or "shared"
    key: str
    file: str
    load_ms: float
    detail: str


_records: dict[str, LoadRecord] = {}
_sessions: dict[tuple[str, int, Path], onnxruntime.InferenceSession] = {}
_holders: dict[tuple[str, Path], Shared[Any]] = {}
_registry_lock = threading.Lock()
_key_locks: dict[object, threading.Lock] = {}


def _lock_for(key: object) -> threading.Lock:
    # One lock per model, so two different models can load at the same time.
    with _registry_lock:
        return _key_locks.setdefault(key, threading.Lock())


def onnx_session(
    name: str,
    *,
    threads: int | None = None,
    store: ModelStore | None = None,
    variant: str = "",
    transform: Callable[[bytes], bytes] | None = None,
) -> onnxruntime.InferenceSession:
    """The process-wide onnxruntime session for manifest model `name` (created on first call).

    `variant` names a graph derived from the pinned file by `transform(model bytes) -> model
    bytes` (e.g. with inner tensors exposed as outputs); the file on disk is never changed,
    and each variant is loaded once, like the model itself.
    """
    store = store or default_store()
    n_threads = threads if threads is not None else thread_count()
    if variant and transform is None:
        raise ValueError("a session variant needs its transform")
    key = (name + (f"+{variant}" if variant else ""), n_threads, store.root)
    session = _sessions.get(key)
    if session is not None:
        return session
    with _lock_for(("onnx", key)):
        session = _sessions.get(key)
        if session is None:
            import onnxruntime as ort  # heavy import, only when a model is actually used

            path = store.path(name)  # verified (and pulled if missing) before it is loaded
            options = ort.SessionOptions()
            options.intra_op_num_threads = n_threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3  # errors only: warnings would repeat per model load
            # Idle worker threads sleep instead of spinning: on 2 cores the spinning threads
            # starved the OpenCV models that run right after (DetectFaces ALL went from
            # 105-120 ms to 32-35 ms on a 640x480 photo when spinning was turned off).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            start = time.perf_counter()
            source: str | bytes = str(path) if transform is None else transform(path.read_bytes())
            session = ort.InferenceSession(
                source, sess_options=options, providers=["CPUExecutionProvider"]
            )
            _record(
                key[0],
                "onnxruntime",
                f"onnx:{key[0]}:{n_threads}",
                path,
                start,
                f"{n_threads} threads",
            )
            _sessions[key] = session
    return session


class Shared(Generic[T]):
    """A small pool of one non-thread-safe object, built lazily by `factory(model_path)`."""

    def __init__(
        self,
        name: str,
        factory: Callable[[Path], T],
        *,
        key: str,
        pool_size: int = 1,
        store: ModelStore | None = None,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.name = name
        self.key = key
        self.pool_size = pool_size
        self._factory = factory
        self._store = store or default_store()
        self._idle: list[T] = []  # last returned first: it is the one with warm caches
        self._created = 0
        # A condition rather than a queue: a waiter must also wake when a build fails, so that
        # it can try building itself instead of waiting for an instance that will never come.
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def use(self) -> Iterator[T]:
        """Borrow an instance for the duration of the block (waits if all are in use)."""
        obj = self._acquire()
        try:
            yield obj
        finally:
            with self._cond:
                self._idle.append(obj)
                self._cond.notify()

    def warm(self) -> None:
        """Create the first instance now (e.g. at server start) instead of on first request."""
        with self.use():
            pass

    def _acquire(self) -> T:
        with self._cond:
            while not self._idle and self._created >= self.pool_size:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._created += 1  # reserve a slot, build outside the lock
        try:
            path = self._store.path(self.name)
            start = time.perf_counter()
            obj = self._factory(path)
        except BaseException:
            with self._cond:
                self._created -= 1
                self._cond.notify()
            raise
        if self.key not in _records:  # the first instance is the one the health page reports
            _record(self.name, "shared", self.key, path, start, f"pool of {self.pool_size}")
        return obj


def shared(
    name: str,
    factory: Callable[[Path], T],
    *,
    key: str | None = None,
    pool_size: int = 1,
    store: ModelStore | None = None,
) -> Shared[T]:
    """The process-wide holder for `factory(store.path(name))`, one per (key, store).

    `key` defaults to `name`; give a distinct key when one model file backs two different
    objects. The first call for a key decides the factory and pool size.
    """
    store = store or default_store()
    holder_key = (key or name, store.root)
    with _registry_lock:
        holder = _holders.get(holder_key)
        if holder is None:
            holder = Shared(name, factory, key=key or name, pool_size=pool_size, store=store)
            _holders[holder_key] = holder
    return holder


def _record(name: str, kind: str, key: str, path: Path, start: float, detail: str) -> None:
    ms = (time.perf_counter() - start) * 1000.0
    with _registry_lock:
        _records[key] = LoadRecord(name, kind, key, str(path), round(ms, 1), detail)


def loaded() -> list[dict[str, Any]]:
    """What this process has loaded, for /_emulator/health: name, kind, load_ms, file, detail."""
    with _registry_lock:
        records = list(_records.values())
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "key": r.key,
            "load_ms": r.load_ms,
            "file": r.file,
            "detail": r.detail,
        }
        for r in records
    ]
