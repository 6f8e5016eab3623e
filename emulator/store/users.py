"""Users of a collection: create, delete, list, associate and disassociate faces, search.

User writes are idempotent by ClientRequestToken: a repeated token answers the response
stored with it (same transaction as the write); the same token with other parameters is
IdempotentParameterMismatchException.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store.db import Database
from rekognition_emulator.emulator.store.records import Collection, User, UserMatch
from rekognition_emulator.emulator.store.scope import RegionScope
from rekognition_emulator.emulator.store.sql import chunks, dedupe, marks
from rekognition_emulator.emulator.store.vectors import matrix, unit

# AWS: "the total number of faces that can be associated with a single UserID is ... 100".
USER_FACE_LIMIT = 100
# How long a ClientRequestToken is remembered (unconfirmed: AWS does not document it).
IDEMPOTENCY_TTL = 24 * 3600

Similarity = Callable[[np.ndarray], np.ndarray]


@dataclass
class UserMatrix:
    """Every face associated with a user, grouped by user, for exact user search."""

    user_pks: np.ndarray  # one per group
    starts: np.ndarray  # first row of each group
    labels: np.ndarray  # one per row
    vectors: np.ndarray  # rows x dim, unit length


class UserMatrices:
    """Each collection's UserMatrix, cached until an association changes."""

    def __init__(self, db: Database, dim: int) -> None:
        self.db = db
        self.dim = dim
        self._cache: dict[int, tuple[int, UserMatrix]] = {}
        self._versions: dict[int, int] = {}
        self._lock = threading.Lock()

    def invalidate(self, pk: int) -> None:
        with self._lock:
            self._versions[pk] = self._versions.get(pk, 0) + 1
            self._cache.pop(pk, None)

    def clear(self) -> None:
        with self._lock:
            for pk in list(self._cache):
                self._versions[pk] = self._versions.get(pk, 0) + 1
            self._cache.clear()

    def get(self, pk: int) -> UserMatrix:
        with self._lock:
            version = self._versions.get(pk, 0)
            cached = self._cache.get(pk)
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
        found = UserMatrix(
            user_pks=user_col[starts],
            starts=starts,
            labels=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
            vectors=matrix([r[2] for r in rows], self.dim),
        )
        with self._lock:
            # Cache it only if no association changed while we were reading.
            if self._versions.get(pk, 0) == version:
                self._cache[pk] = (version, found)
        return found


class _FaceRow(NamedTuple):
    label: int
    owner_pk: int | None
    owner_id: str | None
    embedding: bytes


# What a judge says of one requested face: leave it as it is (None), move it (True), or
# the entry of Unsuccessful{Associations,Disassociations} (a dict).
Verdict = bool | dict[str, Any] | None


class Users(RegionScope):
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
        now = self.store.clock()
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
                        (collection.pk, user_id, time.time()),
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
            self.store.user_matrices.invalidate(collection.pk)
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

    def _judge_faces(
        self,
        conn: sqlite3.Connection,
        collection: Collection,
        user_id: str,
        face_ids: Sequence[str],
        judge: Callable[[str, _FaceRow], Verdict],
    ) -> tuple[list[dict[str, Any]], list[int], list[dict[str, Any]]]:
        """The request's faces in order, once each: (moved entries, their labels, failures).
        A face that does not exist is FACE_NOT_FOUND; `judge` decides for the others."""
        wanted = dedupe(face_ids)
        rows = self._face_rows(conn, collection.pk, wanted)
        moved: list[dict[str, Any]] = []
        labels: list[int] = []
        failed: list[dict[str, Any]] = []
        for face_id in wanted:
            row = rows.get(face_id)
            if row is None:
                verdict: Verdict = _face_failure(face_id, user_id, "FACE_NOT_FOUND")
            else:
                verdict = judge(face_id, row)
            if verdict is True:
                moved.append({"FaceId": face_id})
                labels.append(row.label)  # type: ignore[union-attr]
            elif verdict:
                failed.append(verdict)  # type: ignore[arg-type]
        return moved, labels, failed

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
            user_vectors = matrix([r[0] for r in mine], dim)

            def judge(face_id: str, row: _FaceRow) -> Verdict:
                if row.owner_pk == user.pk:
                    return None  # already this user's: AWS ignores it
                if row.owner_pk is not None:
                    return _face_failure(face_id, row.owner_id, "ASSOCIATED_TO_A_DIFFERENT_USER")
                if len(user_vectors):
                    # Matched against the faces the user had before this request.
                    vector = np.frombuffer(row.embedding, dtype=np.float32)
                    score = float(similarity(np.array([(user_vectors @ vector).max()]))[0])
                    if score < threshold:
                        return _face_failure(face_id, user_id, "LOW_MATCH_CONFIDENCE", score)
                return True

            associated, labels, failed = self._judge_faces(
                conn, collection, user_id, face_ids, judge
            )
            if user.face_count + len(labels) > USER_FACE_LIMIT:
                raise errors.ServiceQuotaExceededException(
                    f"The user id: {user_id} has {user.face_count} faces; associating "
                    f"{len(labels)} more would pass the limit of {USER_FACE_LIMIT} "
                    "faces per user"
                )
            _set_face_owner(conn, labels, user.pk)
            return {
                "AssociatedFaces": associated,
                "UnsuccessfulFaceAssociations": failed,
                "UserStatus": User(user.pk, user_id, user.face_count + len(labels)).status,
            }

        return self._user_write(collection_id, "AssociateFaces", token, request, run)

    def _face_rows(
        self, conn: sqlite3.Connection, pk: int, face_ids: list[str]
    ) -> dict[str, _FaceRow]:
        rows: dict[str, _FaceRow] = {}
        for part in chunks(face_ids):
            for face_id, *row in conn.execute(
                "SELECT f.face_id, f.label, f.user_pk, u.user_id, f.embedding FROM faces f "
                "LEFT JOIN users u ON u.pk = f.user_pk "
                f"WHERE f.collection_pk = ? AND f.face_id IN ({marks(part)})",
                (pk, *part),
            ):
                rows[face_id] = _FaceRow(*row)
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

            def judge(face_id: str, row: _FaceRow) -> Verdict:
                if row.owner_pk is None:
                    return None  # already disassociated: AWS ignores it
                if row.owner_pk != user.pk:
                    return _face_failure(face_id, row.owner_id, "ASSOCIATED_TO_A_DIFFERENT_USER")
                return True

            done, labels, failed = self._judge_faces(conn, collection, user_id, face_ids, judge)
            _set_face_owner(conn, labels, None)
            return {
                "DisassociatedFaces": done,
                "UnsuccessfulFaceDisassociations": failed,
                "UserStatus": User(user.pk, user_id, user.face_count - len(labels)).status,
            }

        return self._user_write(collection_id, "DisassociateFaces", token, request, run)

    def user_vectors(self, collection_id: str, user_id: str) -> tuple[Collection, User, np.ndarray]:
        with self.db.snapshot() as conn:
            collection = self._row(conn, collection_id)
            user = self._user(conn, collection, user_id)
            rows = conn.execute(
                "SELECT embedding FROM faces WHERE user_pk = ? ORDER BY label", (user.pk,)
            ).fetchall()
        return collection, user, matrix([r[0] for r in rows], self.store.params.dim)

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
        found = self.store.user_matrices.get(collection.pk)
        if not len(found.labels) or not len(queries):
            return []
        scores = (found.vectors @ unit(np.atleast_2d(queries)).T).max(axis=1)
        if exclude_label is not None:
            scores[found.labels == exclude_label] = -2.0
        per_user = np.maximum.reduceat(scores, found.starts)
        order = np.argsort(-per_user, kind="stable")
        chosen = [int(i) for i in order if per_user[i] >= min_cosine]
        if not chosen:
            return []
        conn = self.db.reader()
        pks = [int(found.user_pks[i]) for i in chosen]
        users: dict[int, User] = {}
        for part in chunks(pks):
            for pk, uid, count in conn.execute(
                "SELECT pk, user_id, (SELECT count(*) FROM faces WHERE user_pk = users.pk) "
                f"FROM users WHERE pk IN ({marks(part)})",
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
    for part in chunks(labels):
        conn.execute(
            f"UPDATE faces SET user_pk = ? WHERE label IN ({marks(part)})", (user_pk, *part)
        )
