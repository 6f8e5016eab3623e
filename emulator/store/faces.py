"""Faces in a collection: add (IndexFaces), list, delete, look up, and search by vector."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rekognition_emulator.emulator.server import errors, ids
from rekognition_emulator.emulator.store.records import (
    BoundingBox,
    Collection,
    Face,
    Match,
    NewFace,
)
from rekognition_emulator.emulator.store.scope import RegionScope, collection_not_found
from rekognition_emulator.emulator.store.sql import chunks, dedupe, marks
from rekognition_emulator.emulator.store.vectors import VectorIndex, unit

FACE_COLUMNS = (
    "f.label, f.face_id, f.image_id, f.external_image_id, f.bbox_left, f.bbox_top, "
    "f.bbox_width, f.bbox_height, f.confidence, f.model_version, u.user_id"
)
FACE_FROM = "faces f LEFT JOIN users u ON u.pk = f.user_pk"


def face_record(row: Sequence[Any]) -> Face:
    return Face(
        label=row[0],
        face_id=row[1],
        image_id=row[2],
        external_image_id=row[3],
        bounding_box=BoundingBox(left=row[4], top=row[5], width=row[6], height=row[7]),
        confidence=row[8],
        model_version=row[9],
        user_id=row[10],
    )


class Faces(RegionScope):
    def add_faces(
        self, collection_id: str, faces: Sequence[NewFace], external_image_id: str | None
    ) -> tuple[Collection, list[Face]]:
        """Store the faces of one image (one ImageId); durable when this returns."""
        dim = self.store.params.dim
        vectors = unit(np.stack([f.embedding for f in faces])) if faces else None
        if vectors is not None and vectors.shape[1] != dim:
            raise ValueError(f"embeddings must have {dim} dimensions, not {vectors.shape[1]}")
        image_id = ids.new_uuid("ImageId")

        def change(conn: sqlite3.Connection, collection: Collection, index: VectorIndex):
            now = time.time()
            stored: list[Face] = []
            for face, vector in zip(faces, vectors if vectors is not None else [], strict=True):
                box = face.bounding_box
                face_id = ids.new_uuid("FaceId")
                (label,) = conn.execute(
                    "INSERT INTO faces (collection_pk, face_id, image_id, external_image_id, "
                    "bbox_left, bbox_top, bbox_width, bbox_height, confidence, model_version, "
                    "embedding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING label",
                    (
                        collection.pk,
                        face_id,
                        image_id,
                        external_image_id,
                        box.left,
                        box.top,
                        box.width,
                        box.height,
                        face.confidence,
                        collection.face_model_version,
                        vector.tobytes(),
                        now,
                    ),
                ).fetchone()
                stored.append(
                    Face(
                        label=label,
                        face_id=face_id,
                        image_id=image_id,
                        external_image_id=external_image_id,
                        bounding_box=box,
                        confidence=face.confidence,
                        model_version=collection.face_model_version,
                        user_id=None,
                    )
                )
            if stored:
                conn.execute(
                    "UPDATE collections SET face_count = face_count + ? WHERE pk = ?",
                    (len(stored), collection.pk),
                )

            def apply() -> None:
                if stored:
                    labels = np.array([f.label for f in stored], dtype=np.int64)
                    index.add(labels, vectors)
                    self.store.indexes.noted(collection.pk, index)

            return (collection, stored), apply

        return self._mutate(collection_id, change)

    def bulk_add(self, collection_id: str, vectors: np.ndarray, *, batch: int = 50_000) -> int:
        """Internal (benchmarks, never an AWS operation): store many synthetic faces fast.

        Faces get a whole-image bounding box and no ExternalImageId; the index is built
        once at the end with every core and saved, as a restart would find it.
        """
        vectors = unit(vectors)
        with self.db.transaction() as conn:
            collection = self._row(conn, collection_id)
            now = time.time()
            for start in range(0, len(vectors), batch):
                part = vectors[start : start + batch]
                image_id = ids.new_uuid("ImageId")
                conn.executemany(
                    "INSERT INTO faces (collection_pk, face_id, image_id, bbox_left, bbox_top, "
                    "bbox_width, bbox_height, confidence, model_version, embedding, created_at) "
                    "VALUES (?, ?, ?, 0, 0, 1, 1, 100, ?, ?, ?)",
                    (
                        (
                            collection.pk,
                            ids.new_uuid("FaceId"),
                            image_id,
                            collection.face_model_version,
                            v.tobytes(),
                            now,
                        )
                        for v in part
                    ),
                )
            conn.execute(
                "UPDATE collections SET face_count = face_count + ? WHERE pk = ?",
                (len(vectors), collection.pk),
            )
        # Drop any loaded index: the next access rebuilds it from SQLite with every core.
        self.store.indexes.drop(collection.pk)
        self.store.index(collection.pk)
        self.store.save_index(collection.pk)
        return len(vectors)

    def list_faces(
        self,
        collection_id: str,
        next_token: str | None,
        limit: int,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> tuple[Collection, list[Face], str | None]:
        with self.db.snapshot() as conn:
            collection = self._row(conn, collection_id)
            filter_key = hashlib.sha256(
                json.dumps([user_id, sorted(set(face_ids or []))]).encode()
            ).hexdigest()
            purpose = self._token_purpose("ListFaces", collection.pk, filter_key)
            after = self.store.tokens.read(purpose, next_token) if next_token else 0
            where = ["f.collection_pk = ?", "f.label > ?"]
            args: list[Any] = [collection.pk, after]
            if user_id is not None:
                # By the user's pk, so that SQLite walks that user's faces, not the collection.
                user = conn.execute(
                    "SELECT pk FROM users WHERE collection_pk = ? AND user_id = ?",
                    (collection.pk, user_id),
                ).fetchone()
                where.append("f.user_pk = ?")
                args.append(user[0] if user else -1)
            if face_ids:
                ids = dedupe(face_ids)
                where.append(f"f.face_id IN ({marks(ids)})")
                args.extend(ids)
            # With FaceIds, look each id up rather than walk the whole collection in label order.
            source = (
                "faces f INDEXED BY faces_by_face_id LEFT JOIN users u ON u.pk = f.user_pk"
                if face_ids
                else FACE_FROM
            )
            rows = conn.execute(
                f"SELECT {FACE_COLUMNS} FROM {source} WHERE {' AND '.join(where)} "
                "ORDER BY f.label LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
        faces = [face_record(r) for r in rows[:limit]]
        token = None
        if len(rows) > limit and faces:
            token = self.store.tokens.issue(purpose, faces[-1].label)
        return collection, faces, token

    def delete_faces(
        self, collection_id: str, face_ids: Sequence[str]
    ) -> tuple[list[str], list[tuple[str, str | None, str]]]:
        """(deleted ids, [(face id, user id, reason)]) for faces that were not deleted."""
        requested = dedupe(face_ids)

        def change(conn: sqlite3.Connection, collection: Collection, index: VectorIndex):
            found: dict[str, tuple[int, str | None]] = {}
            for part in chunks(requested):
                for label, face_id, user_id in conn.execute(
                    "SELECT f.label, f.face_id, u.user_id FROM faces f "
                    "LEFT JOIN users u ON u.pk = f.user_pk "
                    f"WHERE f.collection_pk = ? AND f.face_id IN ({marks(part)})",
                    (collection.pk, *part),
                ):
                    found[face_id] = (label, user_id)
            deleted: list[str] = []
            labels: list[int] = []
            failed: list[tuple[str, str | None, str]] = []
            for face_id in requested:
                if face_id not in found:
                    failed.append((face_id, None, "FACE_NOT_FOUND"))
                elif found[face_id][1] is not None:
                    # A face that belongs to a user must be disassociated first.
                    failed.append((face_id, found[face_id][1], "ASSOCIATED_TO_AN_EXISTING_USER"))
                else:
                    deleted.append(face_id)
                    labels.append(found[face_id][0])
            last_seq = 0
            for part in chunks(labels):
                conn.execute(f"DELETE FROM faces WHERE label IN ({marks(part)})", part)
                for (seq,) in conn.execute(
                    "INSERT INTO tombstones (collection_pk, label) VALUES "
                    + ",".join(["(?, ?)"] * len(part))
                    + " RETURNING seq",
                    [x for label in part for x in (collection.pk, label)],
                ).fetchall():
                    last_seq = max(last_seq, seq)
            if labels:
                conn.execute(
                    "UPDATE collections SET face_count = face_count - ? WHERE pk = ?",
                    (len(labels), collection.pk),
                )

            def apply() -> None:
                if labels:
                    index.delete(labels, last_seq)
                    self.store.indexes.noted(collection.pk, index)

            return (deleted, failed), apply

        return self._mutate(collection_id, change)

    def face_vector(self, collection_id: str, face_id: str) -> tuple[Collection, Face, np.ndarray]:
        """A stored face and its (unit) embedding; InvalidParameterException if absent."""
        with self.db.snapshot() as conn:
            collection = self._row(conn, collection_id)
            row = conn.execute(
                f"SELECT {FACE_COLUMNS}, f.embedding FROM {FACE_FROM} "
                "WHERE f.collection_pk = ? AND f.face_id = ?",
                (collection.pk, face_id),
            ).fetchone()
        if row is None:
            raise errors.InvalidParameterException(
                f"Request has invalid parameters: face id {face_id} was not found in the "
                f"collection {collection_id}"
            )
        vector = np.frombuffer(row[-1], dtype=np.float32)
        return collection, face_record(row[:-1]), vector

    def search_faces(
        self,
        collection: Collection,
        vector: np.ndarray,
        max_faces: int,
        min_cosine: float,
        exclude_label: int | None = None,
    ) -> list[Match]:
        """Faces of `collection` at least `min_cosine` similar to `vector`, best first."""
        vector = unit(vector)
        try:
            index = self.store.index(collection.pk)
        except errors.ResourceNotFoundException:
            raise collection_not_found(collection.collection_id) from None
        want = max_faces + (1 if exclude_label is not None else 0)
        # Ask HNSW for a few neighbours first and widen only while the last one still passes
        # the threshold: a search with a high threshold (the default 80) stays cheap even
        # when MaxFaces is 4096.
        k = min(want, 32)
        while True:
            hits = index.search(vector, k)
            if hits is None:
                hits = self.store.indexes.exact_search(collection.pk, vector, k, exclude_label)
                break
            if len(hits) < k or k >= want or hits[-1][1] < min_cosine:
                break
            k = min(want, k * 4)
        hits = [h for h in hits if h[0] != exclude_label and h[1] >= min_cosine][:max_faces]
        if not hits:
            return []
        faces = self._faces_by_label(collection.pk, [h[0] for h in hits])
        # A face deleted after the index answered is simply not returned.
        return [Match(face=faces[label], cosine=cos) for label, cos in hits if label in faces]

    def _faces_by_label(self, pk: int, labels: Sequence[int]) -> dict[int, Face]:
        conn = self.db.reader()
        found: dict[int, Face] = {}
        for part in chunks(list(labels)):
            for row in conn.execute(
                f"SELECT {FACE_COLUMNS} FROM {FACE_FROM} "
                # "+" keeps SQLite from scanning the collection's index: look the labels up.
                f"WHERE f.label IN ({marks(part)}) AND +f.collection_pk = ?",
                (*part, pk),
            ):
                found[row[0]] = face_record(row)
        return found
