"""Read-only views of the face store for the inspector: every (account, region)'s
collections, and one collection's faces and users, searchable. Reads through the store's own
column lists and record builders, in one read transaction per view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store import User, warm
from rekognition_emulator.emulator.store.faces import FACE_COLUMNS, FACE_FROM, face_record
from rekognition_emulator.emulator.store.scope import COLLECTION_COLUMNS, collection_record

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def collections(state: AppState, q: str = "") -> list[dict[str, Any]]:
    """Every collection of every account and region, newest first."""
    with warm(state).db.snapshot() as conn:
        rows = conn.execute(
            f"SELECT account, region, {COLLECTION_COLUMNS} FROM collections "
            "WHERE collection_id LIKE ? ESCAPE '\\' ORDER BY pk DESC",
            (_like(q),),
        ).fetchall()
    out = []
    for row in rows:
        c = collection_record(row[2:])
        out.append(
            {
                "account": row[0],
                "region": row[1],
                "collection_id": c.collection_id,
                "arn": c.arn,
                "face_count": c.face_count,
                "user_count": c.user_count,
                "created_at": c.created_at.isoformat(timespec="seconds"),
            }
        )
    return out


def collection(
    state: AppState, account: str, region: str, collection_id: str, q: str = "", limit: int = 500
) -> dict[str, Any] | None:
    """One collection: its faces (matching `q` in FaceId, ExternalImageId, ImageId or UserId;
    at most `limit`, in indexing order) and its users."""
    store = warm(state)
    try:
        c = store.region(account, region).describe_collection(collection_id)
    except errors.ResourceNotFoundException:
        return None
    with store.db.snapshot() as conn:
        like = _like(q)
        face_rows = conn.execute(
            f"SELECT {FACE_COLUMNS} FROM {FACE_FROM} WHERE f.collection_pk = ? AND "
            "(f.face_id LIKE ? ESCAPE '\\' OR f.image_id LIKE ? ESCAPE '\\' "
            "OR IFNULL(f.external_image_id, '') LIKE ? ESCAPE '\\' "
            "OR IFNULL(u.user_id, '') LIKE ? ESCAPE '\\') ORDER BY f.label LIMIT ?",
            (c.pk, like, like, like, like, limit + 1),
        ).fetchall()
        user_rows = conn.execute(
            "SELECT u.user_id, (SELECT count(*) FROM faces WHERE user_pk = u.pk) "
            "FROM users u WHERE u.collection_pk = ? ORDER BY u.pk",
            (c.pk,),
        ).fetchall()
    faces = [face_record(r) for r in face_rows[:limit]]
    return {
        "account": account,
        "region": region,
        "collection_id": c.collection_id,
        "arn": c.arn,
        "face_count": c.face_count,
        "user_count": c.user_count,
        "created_at": c.created_at.isoformat(timespec="seconds"),
        "faces": [
            {
                "face_id": f.face_id,
                "image_id": f.image_id,
                "external_image_id": f.external_image_id,
                "user_id": f.user_id,
                "confidence": f.confidence,
                "bounding_box": {
                    "Width": f.bounding_box.width,
                    "Height": f.bounding_box.height,
                    "Left": f.bounding_box.left,
                    "Top": f.bounding_box.top,
                },
            }
            for f in faces
        ],
        "more_faces": len(face_rows) > limit,
        "users": [
            {"user_id": u.user_id, "face_count": u.face_count, "status": u.status}
            for u in (User(pk=0, user_id=r[0], face_count=r[1]) for r in user_rows)
        ],
    }
