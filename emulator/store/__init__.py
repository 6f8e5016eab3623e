"""Collections, faces, users and tags: SQLite as the truth, one HNSW index per collection.

Handlers reach the store through `backend(ctx)`, which returns the state of the caller's
(account, region) only. The server's database (`database(state)`) is shared with the job
engine (emulator/jobs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rekognition_emulator.emulator.store.db import Database
from rekognition_emulator.emulator.store.records import (
    BoundingBox,
    Collection,
    Face,
    Match,
    NewFace,
    User,
    UserMatch,
)
from rekognition_emulator.emulator.store.service import FaceStore, RegionBackend
from rekognition_emulator.emulator.store.vectors import IndexParams

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState, RequestContext

SERVICE_KEY = "face-store"


def database(state: AppState) -> Database:
    """The server's database: opened (the data dir locked, its schema upgraded) on first use."""
    return state.singleton("database", lambda: Database.open(state.config.data_dir))


def store(ctx: RequestContext) -> FaceStore:
    """The server's face store (created, and its indexes loaded, on first use)."""
    return warm(ctx.state)


def warm(state: AppState) -> FaceStore:
    """Open the store now: its saved indexes start loading in the background, so a server
    that calls this at start-up answers its first search without waiting for them."""
    return state.singleton(
        SERVICE_KEY,
        lambda: FaceStore(
            state.config.data_dir,
            IndexParams.from_config(state.config),
            db=database(state),
        ),
    )


def backend(ctx: RequestContext) -> RegionBackend:
    """The caller's view: collections of its account in its region, nothing else."""
    return store(ctx).region(ctx.account, ctx.region)


__all__ = [
    "BoundingBox",
    "Collection",
    "Database",
    "Face",
    "FaceStore",
    "Match",
    "NewFace",
    "RegionBackend",
    "User",
    "UserMatch",
    "backend",
    "database",
    "store",
    "warm",
]
