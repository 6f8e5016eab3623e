"""Stored records as plain dataclasses: what the store returns to handlers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Collection:
    pk: int
    collection_id: str
    arn: str
    face_model_version: str
    created_at: dt.datetime
    face_count: int
    user_count: int


@dataclass(frozen=True)
class BoundingBox:
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class NewFace:
    """A face ready to be stored: what IndexFaces measured on one detected face."""

    bounding_box: BoundingBox
    confidence: float
    embedding: np.ndarray  # 1-d float32; normalised by the store


@dataclass(frozen=True)
class Face:
    label: int  # the face's id inside its collection's vector index
    face_id: str
    image_id: str
    external_image_id: str | None
    bounding_box: BoundingBox
    confidence: float
    model_version: str
    user_id: str | None


@dataclass(frozen=True)
class User:
    pk: int
    user_id: str
    face_count: int

    @property
    def status(self) -> str:
        # Associations are applied synchronously, so a user is never UPDATING here:
        # CREATED until it has a face, ACTIVE from then on (the two settled states AWS names).
        return "ACTIVE" if self.face_count else "CREATED"


@dataclass(frozen=True)
class Match:
    face: Face
    cosine: float


@dataclass(frozen=True)
class UserMatch:
    user: User
    cosine: float
