"""Collections and the faces in them: create, describe, list, delete; index, list, delete
and search faces. State lives in `emulator.store` (SQLite + one HNSW index per collection);
the faces of a request image (details, embeddings, quality filter) come from
`handlers.analysis.faces`.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.inspector import thumbnails
from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store import Collection, backend
from rekognition_emulator.handlers import _face_search as search
from rekognition_emulator.handlers.analysis import faces

# Page sizes when MaxResults is absent or 0 (unconfirmed: AWS does not document them).
DEFAULT_LIST_COLLECTIONS = 1000
DEFAULT_LIST_FACES = 1000


@operation("CreateCollection")
def create_collection(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    collection = backend(ctx).create_collection(params["CollectionId"], params.get("Tags"))
    return {
        "StatusCode": 200,
        "CollectionArn": collection.arn,
        "FaceModelVersion": collection.face_model_version,
    }


@operation("DescribeCollection")
def describe_collection(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    collection = backend(ctx).describe_collection(params["CollectionId"])
    return {
        "FaceCount": collection.face_count,
        "FaceModelVersion": collection.face_model_version,
        # AWS's two answers differ: CreateCollection's CollectionArn has no "arn:" prefix
        # (CONTRACT.md), DescribeCollection's CollectionARN has it (its documented output).
        "CollectionARN": "arn:" + collection.arn.removeprefix("arn:"),
        "CreationTimestamp": collection.created_at,
        "UserCount": collection.user_count,
    }


@operation("DeleteCollection")
def delete_collection(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    backend(ctx).delete_collection(params["CollectionId"])
    return {"StatusCode": 200}


@operation("ListCollections")
def list_collections(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    limit = params.get("MaxResults") or DEFAULT_LIST_COLLECTIONS
    collections, token = backend(ctx).list_collections(params.get("NextToken"), limit)
    result: dict[str, Any] = {
        "CollectionIds": [c.collection_id for c in collections],
        "FaceModelVersions": [c.face_model_version for c in collections],
    }
    if token:
        result["NextToken"] = token
    return result


@operation("ListFaces")
def list_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    limit = params.get("MaxResults") or DEFAULT_LIST_FACES
    collection, faces, token = backend(ctx).list_faces(
        params["CollectionId"],
        params.get("NextToken"),
        limit,
        user_id=params.get("UserId"),
        face_ids=params.get("FaceIds"),
    )
    result: dict[str, Any] = {
        "Faces": [search.face_shape(f) for f in faces],
        "FaceModelVersion": collection.face_model_version,
    }
    if token:
        result["NextToken"] = token
    return result


@operation("DeleteFaces")
def delete_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    deleted, failed = backend(ctx).delete_faces(params["CollectionId"], params["FaceIds"])
    unsuccessful = []
    for face_id, user_id, reason in failed:
        entry: dict[str, Any] = {"FaceId": face_id, "Reasons": [reason]}
        if user_id is not None:
            entry["UserId"] = user_id
        unsuccessful.append(entry)
    result: dict[str, Any] = {"UnsuccessfulFaceDeletions": unsuccessful}
    if deleted:
        # The model's FaceIdList has at least one element: with nothing deleted, AWS omits it.
        result["DeletedFaces"] = deleted
    return result


@operation("SearchFaces")
def search_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = backend(ctx)
    collection, face, vector = store.face_vector(params["CollectionId"], params["FaceId"])
    matches = search.face_matches(
        store,
        collection,
        vector,
        params.get("MaxFaces"),
        params.get("FaceMatchThreshold"),
        exclude_label=face.label,  # a face is not its own match
    )
    return {
        "SearchedFaceId": face.face_id,
        "FaceMatches": matches,
        "FaceModelVersion": collection.face_model_version,
    }


@operation("SearchFacesByImage")
def search_faces_by_image(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = backend(ctx)
    collection: Collection = store.describe_collection(params["CollectionId"])
    image = load_image(ctx, params["Image"])
    probe = faces.search_face(image.rgb, quality_filter=params.get("QualityFilter") or "NONE")
    if probe.searched is None:
        # AWS: "If no faces are detected in the input image, SearchFacesByImage returns an
        # InvalidParameterException error."
        raise errors.InvalidParameterException(f"Request has invalid parameters: {probe.why_none}")
    matches = search.face_matches(
        store,
        collection,
        probe.searched.embedding,
        params.get("MaxFaces"),
        params.get("FaceMatchThreshold"),
    )
    return {
        "SearchedFaceBoundingBox": probe.searched.face_detail["BoundingBox"],
        "SearchedFaceConfidence": probe.searched.face_detail["Confidence"],
        "FaceMatches": matches,
        "FaceModelVersion": collection.face_model_version,
    }


@operation("IndexFaces")
def index_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = backend(ctx)
    # An unknown collection is refused before any model work is spent on the image.
    store.describe_collection(params["CollectionId"])
    image = load_image(ctx, params["Image"])
    plan = faces.index_faces(
        image.rgb,
        attributes=faces.parse_attributes(params.get("DetectionAttributes")),
        max_faces=params.get("MaxFaces"),
        quality_filter=params.get("QualityFilter") or "AUTO",
    )
    collection, stored = store.add_faces(
        params["CollectionId"],
        [search.new_face(f) for f in plan.indexed],
        params.get("ExternalImageId"),
    )
    records = [
        {"Face": search.face_shape(face, with_version=False), "FaceDetail": f.face_detail}
        for face, f in zip(stored, plan.indexed, strict=True)
    ]
    # For the web inspector only (emulator/inspector; nothing with --no-inspector): a small
    # crop of each stored face, since the image itself is not kept.
    thumbnails.keep_faces(
        ctx.state,
        image.rgb,
        [(r["Face"]["FaceId"], r["FaceDetail"]["BoundingBox"]) for r in records],
    )
    return {
        "FaceRecords": records,
        "FaceModelVersion": collection.face_model_version,
        "UnindexedFaces": plan.unindexed,
    }
