"""The face store: collections, faces, users and tags, scoped by (account, region).

`FaceStore` is the server-wide service of one data directory: its database (db.py), the
collections' HNSW indexes (indexes.py), the pagination-token secret and the users' search
matrices. `store.region(account, region)` gives the `RegionBackend` that handlers use, made
of one part per kind of resource (collections.py, faces.py, users.py, tags.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rekognition_emulator.emulator.server import ids
from rekognition_emulator.emulator.store.collections import COLLECTION_TABLES, Collections
from rekognition_emulator.emulator.store.db import Database
from rekognition_emulator.emulator.store.faces import Faces
from rekognition_emulator.emulator.store.indexes import Indexes
from rekognition_emulator.emulator.store.tags import Tags
from rekognition_emulator.emulator.store.tokens import PageTokens, load_secret
from rekognition_emulator.emulator.store.users import UserMatrices, Users
from rekognition_emulator.emulator.store.vectors import IndexParams, VectorIndex


class RegionBackend(Collections, Faces, Users, Tags):
    """Everything one (account, region) sees. Methods raise the AWS errors they earn."""


class FaceStore:
    """The server-wide store of one data directory (`ctx.state.singleton`).

    Given no `db`, it opens (and locks) the data dir's database itself and closes it with
    the store; given one (the server's, shared with the job engine), it leaves it open.
    """

    def __init__(
        self,
        data_dir: Path,
        params: IndexParams | None = None,
        *,
        db: Database | None = None,
        preload: bool = True,
        background_saves: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._owns_db = db is None
        self.db = db if db is not None else Database.open(self.data_dir)
        self.params = params or IndexParams()
        self.clock = clock
        self.tokens = PageTokens(load_secret(self.data_dir / "pagination.key"))
        self.store_id = self._store_id()
        self.user_matrices = UserMatrices(self.db, self.params.dim)
        self._regions: dict[tuple[str, str], RegionBackend] = {}
        self.indexes = Indexes(
            self.db,
            self.data_dir / "indexes",
            self.params,
            self.store_id,
            preload=preload,
            background_saves=background_saves,
        )

    def _store_id(self) -> str:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
            if row:
                return row[0]
            store_id = ids.new_uuid("store-id")
            conn.execute("INSERT INTO meta (key, value) VALUES ('store_id', ?)", (store_id,))
            return store_id

    def region(self, account: str, region: str) -> RegionBackend:
        key = (account, region)
        backend = self._regions.get(key)
        if backend is None:
            backend = self._regions.setdefault(key, RegionBackend(self, account, region))
        return backend

    def index(self, pk: int) -> VectorIndex:
        """Collection `pk`'s index (loaded or built on first use)."""
        return self.indexes.get(pk)

    def save_index(self, pk: int) -> None:
        """Write collection `pk`'s index to disk now (also the bench's bulk-load API)."""
        self.indexes.save(pk)

    def forget_collection(self, pk: int) -> None:
        """Drop what is held in memory and on disk beside SQLite for a deleted collection."""
        self.indexes.drop(pk)
        self.user_matrices.invalidate(pk)

    def reset(self) -> None:
        """Forget everything (the admin reset): rows, indexes, caches."""
        with self.db.write_lock:
            with self.db.transaction() as conn:
                for table in (*COLLECTION_TABLES, "collections"):
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self.indexes.reset()
            self.user_matrices.clear()

    def close(self) -> None:
        """Save every index that drifted from its file, then close the database (if ours)."""
        self.indexes.close()
        if self._owns_db:
            self.db.close()
