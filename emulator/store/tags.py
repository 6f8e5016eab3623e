"""Tags of collections (TagResource, UntagResource, ListTagsForResource)."""

from __future__ import annotations

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.scope import RegionScope

# AWS's general tagging quota: 50 user tags per resource.
TAG_LIMIT = 50


def check_tag_count(collection_id: str, count: int) -> None:
    if count > TAG_LIMIT:
        raise errors.ServiceQuotaExceededException(
            f"The collection id: {collection_id} would have {count} tags; a resource can have "
            f"at most {TAG_LIMIT}"
        )


class Tags(RegionScope):
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
            check_tag_count(collection_id, len(existing | set(tags)))
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
