"""Every id the emulator generates comes from here: FaceId, ImageId, JobId, UserId where
generated, request ids, session ids, the data dir's token secret.

Random by default. With `--seed N` (Config.seed) each kind of id is its own reproducible
sequence: the n-th id of kind K is a hash of (seed, run, K, n). So two servers started with the
same seed on fresh data dirs answer the same requests with byte-identical responses, and an
extra request of one kind (a health check, a request id) never shifts the ids of another.

`run` counts the starts with this seed on this data dir (kept in `seed-runs.json`): a server
restarted on the same data dir with the same seed goes on with fresh ids instead of repeating
the FaceIds it already stored.

    from rekognition_emulator.emulator.server import ids
    face_id = ids.new_uuid("FaceId")          # "3f2b...-4...": a version-4 UUID
    job_id = ids.new_hex("JobId", 32)         # 64 lowercase hex digits
    secret = ids.new_bytes("pagination-key", 32)

The seed also seeds moto's random source, so the embedded S3, SNS, SQS, IAM and Kinesis make
their ids (MessageId, RoleId ...) reproducibly too.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from pathlib import Path

RUNS_FILE = "seed-runs.json"

_lock = threading.Lock()
_seed: str | None = None  # "<seed>/<run>" once configured with a seed
_counters: dict[str, int] = {}


def configure(seed: int | None, data_dir: Path | None = None) -> None:
    """Random ids (seed None) or the seeded sequences; called once when an app is built.

    The process has one configuration (the last app built wins), as it has one moto."""
    global _seed
    with _lock:
        _counters.clear()
        if seed is None:
            _seed = None
        else:
            run = _next_run(seed, data_dir) if data_dir is not None else 0
            _seed = f"{seed}/{run}"
    _seed_moto(_seed)


def seeded() -> bool:
    return _seed is not None


def new_bytes(kind: str, size: int) -> bytes:
    """`size` bytes: random, or the next of kind's seeded sequence."""
    if _seed is None:
        return os.urandom(size)
    with _lock:
        n = _counters.get(kind, 0)
        _counters[kind] = n + 1
    return hashlib.shake_256(f"{_seed}/{kind}/{n}".encode()).digest(size)


def new_uuid(kind: str) -> str:
    """A version-4 UUID as text (36 characters, lowercase), as AWS's ids look."""
    if _seed is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(bytes=new_bytes(kind, 16), version=4))


def new_hex(kind: str, size: int) -> str:
    """`size` bytes as 2 * size lowercase hex digits (a video JobId is 32 bytes)."""
    return new_bytes(kind, size).hex()


def request_id() -> str:
    """The x-amzn-RequestId of one response."""
    return new_uuid("RequestId")


def _next_run(seed: int, data_dir: Path) -> int:
    """How many servers started with `seed` on this data dir before this one (and count this
    one): 0 on a fresh data dir."""
    path = data_dir / RUNS_FILE
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError):
        runs = {}
    run = int(runs.get(str(seed), 0))
    runs[str(seed)] = run + 1
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(runs))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data dir: ids repeat only if the same run is replayed on it
    return run


def _seed_moto(seed: str | None) -> None:
    try:
        from moto.moto_api._internal import mock_random
    except ImportError:  # pragma: no cover - moto is a dependency
        return
    mock_random.seed(seed)  # None: from the OS again
