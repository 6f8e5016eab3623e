"""Helpers for the collection, face and user tests: photos of the shared identities, and a
data directory seeded with synthetic faces through the store's internal bulk API (for
tests that need many faces and no face model)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from rekognition_emulator.emulator.server.config import DEFAULT_ACCOUNT
from rekognition_emulator.emulator.store import FaceStore
from tests.groundtruth import identities


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def photo(testdata: Path, name: str, index: int = 0) -> bytes:
    return identities(testdata)[name][index].read_bytes()


def group_photo(testdata: Path, stem: str) -> bytes:
    return (testdata / "faces" / "groups" / f"{stem}.jpg").read_bytes()


def unit_vectors(n: int, dim: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def seed_collection(
    data_dir: Path,
    collection_id: str,
    vectors: np.ndarray,
    *,
    account: str = DEFAULT_ACCOUNT,
    region: str = "us-east-1",
) -> None:
    """Create `collection_id` in `data_dir` holding one synthetic face per vector.

    Uses the store's internal bulk API with no server running (the store locks its data
    directory), then closes it so a server can start on the directory.
    """
    store = FaceStore(data_dir, preload=False, background_saves=False)
    try:
        backend = store.region(account, region)
        backend.create_collection(collection_id, None)
        backend.bulk_add(collection_id, vectors)
    finally:
        store.close()
