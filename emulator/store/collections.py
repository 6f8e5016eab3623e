"""Collections: create, describe, list and delete, within one (account, region)."""

from __future__ import annotations

import sqlite3
import time

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.records import Collection
from rekognition_emulator.emulator.store.scope import (
    COLLECTION_COLUMNS,
    RegionScope,
    collection_record,
)
from rekognition_emulator.emulator.store.tags import check_tag_count

# The face model every new collection is associated with (what DescribeCollection reports).
FACE_MODEL_VERSION = "7.0"
# The tables whose rows belong to one collection (by collection_pk), children first.
COLLECTION_TABLES = ("idempotency", "tombstones", "tags", "users", "faces")


def collection_arn(region: str, account: str, collection_id: str) -> str:
    # The form Rekognition itself returns (no leading "arn:"), as CONTRACT.md records.
    return f"aws:rekognition:{region}:{account}:collection/{collection_id}"


class Collections(RegionScope):
    def create_collection(self, collection_id: str, tags: dict[str, str] | None) -> Collection:
        check_tag_count(collection_id, len(tags or {}))
        arn = collection_arn(self.region, self.account, collection_id)
        with self.db.transaction() as conn:
            try:
                cur = conn.execute(
                    "INSERT INTO collections "
                    "(account, region, collection_id, arn, face_model_version, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) RETURNING pk",
                    (
                        self.account,
                        self.region,
                        collection_id,
                        arn,
                        FACE_MODEL_VERSION,
                        time.time(),
                    ),
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
                for table in COLLECTION_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE collection_pk = ?", (pk,))  # noqa: S608
                conn.execute("DELETE FROM collections WHERE pk = ?", (pk,))
            self.store.forget_collection(pk)

    def list_collections(
        self, next_token: str | None, limit: int
    ) -> tuple[list[Collection], str | None]:
        purpose = self._token_purpose("ListCollections")
        after = self.store.tokens.read(purpose, next_token) if next_token else 0
        # Creation order (unconfirmed: AWS does not document the order of ListCollections).
        rows = (
            self.db.reader()
            .execute(
                f"SELECT {COLLECTION_COLUMNS} FROM collections "
                "WHERE account = ? AND region = ? AND pk > ? ORDER BY pk LIMIT ?",
                (self.account, self.region, after, limit + 1),
            )
            .fetchall()
        )
        collections = [collection_record(r) for r in rows[:limit]]
        token = None
        if len(rows) > limit and collections:
            token = self.store.tokens.issue(purpose, collections[-1].pk)
        return collections, token
