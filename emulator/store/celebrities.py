"""The celebrity gallery a user seeds: celebrities and one face embedding per photo, in the
data dir's database (schema 5). One gallery per data dir, not per account or region: AWS
has one celebrity gallery for everyone.

Handlers (handlers/celebrities.py) decide ids, names and what a photo's face is; this module
only keeps them, one transaction per change. `version` grows with every change made through
this object, so a matcher built from `photos()` knows when it is stale.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from rekognition_emulator.emulator.store.db import Database

API = "api"  # added by the CLI or the admin endpoint
FOLDER = "dir"  # read from the --celebrities-dir folder at start


@dataclass(frozen=True)
class Celebrity:
    celebrity_id: str
    name: str
    urls: list[str]
    gender: str
    gender_given: bool  # False: read from the photos' faces
    created_at: float
    photos: int


@dataclass(frozen=True)
class NewPhoto:
    photo_sha256: str
    source: str  # a file name, to show in listings
    female: float  # the gender model's probability of a woman's face
    embedding: np.ndarray


@dataclass(frozen=True)
class StoredPhoto:
    celebrity_id: str
    photo_sha256: str
    origin: str
    source: str
    female: float
    embedding: np.ndarray


_COLUMNS = "celebrity_id, name, urls, gender, gender_given, created_at"


class CelebrityStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._version = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        return self._version

    def _changed(self) -> None:
        with self._lock:
            self._version += 1

    # -- read -----------------------------------------------------------------------------
    def _celebrity(self, conn, row) -> Celebrity:  # type: ignore[no-untyped-def]
        (count,) = conn.execute(
            "SELECT count(*) FROM celebrity_faces WHERE celebrity_id = ?", (row[0],)
        ).fetchone()
        return Celebrity(row[0], row[1], json.loads(row[2]), row[3], bool(row[4]), row[5], count)

    def get(self, celebrity_id: str) -> Celebrity | None:
        with self.db.snapshot() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM celebrities WHERE celebrity_id = ?", (celebrity_id,)
            ).fetchone()
            return None if row is None else self._celebrity(conn, row)

    def list(self) -> list[Celebrity]:
        """Every celebrity, by name."""
        with self.db.snapshot() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM celebrities ORDER BY name").fetchall()
            return [self._celebrity(conn, row) for row in rows]

    def photos(self) -> list[StoredPhoto]:
        """Every photo's face embedding, in the order they were added."""
        rows = (
            self.db.reader()
            .execute(
                "SELECT celebrity_id, photo_sha256, origin, source, female, embedding "
                "FROM celebrity_faces ORDER BY pk"
            )
            .fetchall()
        )
        return [
            StoredPhoto(r[0], r[1], r[2], r[3], r[4], np.frombuffer(r[5], dtype=np.float32))
            for r in rows
        ]

    # -- write ----------------------------------------------------------------------------
    def put(
        self,
        celebrity_id: str,
        name: str,
        photos: Iterable[NewPhoto],
        *,
        origin: str = API,
        urls: list[str] | None = None,
        gender: str | None = None,
    ) -> Celebrity:
        """Add a celebrity, or photos to one (a photo already held is not added twice).
        `urls` and `gender`, when given, replace what was held; a gender never given is
        read from the photos (the mean of their faces' female probabilities)."""
        now = self.clock()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT urls, gender, gender_given FROM celebrities WHERE celebrity_id = ?",
                (celebrity_id,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO celebrities (celebrity_id, name, urls, gender, gender_given, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        celebrity_id,
                        name,
                        json.dumps(urls or []),
                        gender or "",
                        int(bool(gender)),
                        now,
                    ),
                )
            else:
                if urls is not None:
                    conn.execute(
                        "UPDATE celebrities SET urls = ? WHERE celebrity_id = ?",
                        (json.dumps(urls), celebrity_id),
                    )
                if gender:
                    conn.execute(
                        "UPDATE celebrities SET gender = ?, gender_given = 1 WHERE celebrity_id = ?",
                        (gender, celebrity_id),
                    )
            conn.executemany(
                "INSERT INTO celebrity_faces (celebrity_id, photo_sha256, origin, source, female, "
                "embedding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (celebrity_id, photo_sha256, origin) DO NOTHING",
                [
                    (
                        celebrity_id,
                        p.photo_sha256,
                        origin,
                        p.source,
                        float(p.female),
                        np.asarray(p.embedding, dtype=np.float32).tobytes(),
                        now,
                    )
                    for p in photos
                ],
            )
            self._infer_gender(conn, celebrity_id)
            found = conn.execute(
                f"SELECT {_COLUMNS} FROM celebrities WHERE celebrity_id = ?", (celebrity_id,)
            ).fetchone()
            celebrity = self._celebrity(conn, found)
        self._changed()
        return celebrity

    @staticmethod
    def _infer_gender(conn, celebrity_id: str) -> None:  # type: ignore[no-untyped-def]
        conn.execute(
            "UPDATE celebrities SET gender = (SELECT CASE WHEN avg(female) >= 0.5 "
            "THEN 'Female' ELSE 'Male' END FROM celebrity_faces WHERE celebrity_id = ?) "
            "WHERE celebrity_id = ? AND gender_given = 0",
            (celebrity_id, celebrity_id),
        )

    def delete(self, celebrity_id: str) -> bool:
        """Remove a celebrity and all its photos; False when there was none."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM celebrity_faces WHERE celebrity_id = ?", (celebrity_id,))
            gone = conn.execute(
                "DELETE FROM celebrities WHERE celebrity_id = ?", (celebrity_id,)
            ).rowcount
        self._changed()
        return bool(gone)

    def held(self, origin: str) -> set[tuple[str, str]]:
        """(celebrity id, photo sha256) of every photo of that origin."""
        rows = (
            self.db.reader()
            .execute(
                "SELECT celebrity_id, photo_sha256 FROM celebrity_faces WHERE origin = ?",
                (origin,),
            )
            .fetchall()
        )
        return {(r[0], r[1]) for r in rows}

    def drop_photos(self, origin: str, keep: set[tuple[str, str]]) -> int:
        """Delete the photos of `origin` not in `keep`, then every celebrity left with no
        photo; returns how many photos went."""
        gone = self.held(origin) - keep
        with self.db.transaction() as conn:
            conn.executemany(
                "DELETE FROM celebrity_faces WHERE celebrity_id = ? AND photo_sha256 = ? "
                "AND origin = ?",
                [(cid, sha, origin) for cid, sha in gone],
            )
            conn.execute(
                "DELETE FROM celebrities WHERE celebrity_id NOT IN "
                "(SELECT DISTINCT celebrity_id FROM celebrity_faces)"
            )
            for cid in {cid for cid, _ in gone}:
                self._infer_gender(conn, cid)
        self._changed()
        return len(gone)

    def reset(self) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM celebrity_faces")
            conn.execute("DELETE FROM celebrities")
        self._changed()
