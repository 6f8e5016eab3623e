"""What every part of a region's backend shares: the (account, region) it is scoped to,
the lookup of a collection by id within that scope, and a mutation that loads the
collection's index before it takes the write lock (the lock order of indexes.py).

Every lookup of a collection goes through its (account, region), so scoping is structural,
as in moto.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.records import Collection
from rekognition_emulator.emulator.store.vectors import VectorIndex

if TYPE_CHECKING:
    from rekognition_emulator.emulator.store.service import FaceStore

COLLECTION_COLUMNS = (
    "pk, collection_id, arn, face_model_version, created_at, face_count, user_count"
)


def collection_not_found(collection_id: str) -> errors.ResourceNotFoundException:
    return errors.ResourceNotFoundException(f"The collection id: {collection_id} does not exist")


def collection_record(row: Sequence[Any]) -> Collection:
    return Collection(
        pk=row[0],
        collection_id=row[1],
        arn=row[2],
        face_model_version=row[3],
        created_at=dt.datetime.fromtimestamp(row[4], tz=dt.UTC),
        face_count=row[5],
        user_count=row[6],
    )


class _Retry(Exception):
    """The collection changed identity between index load and write lock: start over."""


class RegionScope:
    """The base of RegionBackend: one (account, region) of one FaceStore."""

    def __init__(self, store: FaceStore, account: str, region: str) -> None:
        self.store = store
        self.db = store.db
        self.account = account
        self.region = region

    def _row(self, conn: sqlite3.Connection, collection_id: str) -> Collection:
        row = conn.execute(
            f"SELECT {COLLECTION_COLUMNS} FROM collections "
            "WHERE account = ? AND region = ? AND collection_id = ?",
            (self.account, self.region, collection_id),
        ).fetchone()
        if row is None:
            raise collection_not_found(collection_id)
        return collection_record(row)

    def _token_purpose(self, *parts: object) -> str:
        return "|".join(str(p) for p in (self.account, self.region, *parts))

    def _mutate(
        self,
        collection_id: str,
        change: Callable[[sqlite3.Connection, Collection, VectorIndex], Any],
    ) -> Any:
        """Run `change` in one transaction, with the collection's index loaded beforehand.

        `change` returns (result, after_commit): after_commit (or None) applies the same
        change to the index once the transaction is committed, still under the write lock.
        """
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
