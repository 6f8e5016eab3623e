"""Users of a collection: create, delete, list, associate and disassociate faces, and
search users by face, by user or by image. A user's similarity to a face is that of its
closest associated face, on the same calibrated scale as SearchFaces and CompareFaces.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.media.images import load_image
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store import backend
from rekognition_emulator.handlers import _face_search as search
from rekognition_emulator.handlers.analysis import faces

# AWS: AssociateFaces' UserMatchThreshold "default value is 75"; SearchUsers' and
# SearchUsersByImage's UserMatchThreshold "Default value of 80".
ASSOCIATE_THRESHOLD = 75.0
SEARCH_USERS_THRESHOLD = 80.0
# Page size and result count when the request does not say (unconfirmed: undocumented;
# the service model allows 1..500 for both).
DEFAULT_LIST_USERS = 100
DEFAULT_MAX_USERS = 500


def _user_matches(matches: list) -> list[dict[str, Any]]:
    scores = search.similarities([m.cosine for m in matches])
    return [
        {"Similarity": s, "User": {"UserId": m.user.user_id, "UserStatus": m.user.status}}
        for m, s in zip(matches, scores, strict=True)
    ]


@operation("CreateUser")
def create_user(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return backend(ctx).create_user(
        params["CollectionId"], params["UserId"], params.get("ClientRequestToken")
    )


@operation("DeleteUser")
def delete_user(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return backend(ctx).delete_user(
        params["CollectionId"], params["UserId"], params.get("ClientRequestToken")
    )


@operation("ListUsers")
def list_users(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    users, token = backend(ctx).list_users(
        params["CollectionId"],
        params.get("NextToken"),
        params.get("MaxResults") or DEFAULT_LIST_USERS,
    )
    result: dict[str, Any] = {
        "Users": [{"UserId": u.user_id, "UserStatus": u.status} for u in users]
    }
    if token:
        result["NextToken"] = token
    return result


def _request(params: dict[str, Any]) -> dict[str, Any]:
    # What a repeated ClientRequestToken must match: everything but the token itself.
    return {k: v for k, v in params.items() if k not in ("ClientRequestToken", "CollectionId")}


@operation("AssociateFaces")
def associate_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    threshold = params.get("UserMatchThreshold")
    return backend(ctx).associate_faces(
        params["CollectionId"],
        params["UserId"],
        params["FaceIds"],
        ASSOCIATE_THRESHOLD if threshold is None else threshold,
        search.similarity_array,
        params.get("ClientRequestToken"),
        _request(params),
    )


@operation("DisassociateFaces")
def disassociate_faces(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return backend(ctx).disassociate_faces(
        params["CollectionId"],
        params["UserId"],
        params["FaceIds"],
        params.get("ClientRequestToken"),
        _request(params),
    )


def _threshold(params: dict[str, Any]) -> float:
    value = params.get("UserMatchThreshold")
    return SEARCH_USERS_THRESHOLD if value is None else value


@operation("SearchUsers")
def search_users(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    user_id, face_id = params.get("UserId"), params.get("FaceId")
    if (user_id is None) == (face_id is None):
        raise errors.InvalidParameterException(
            "Request has invalid parameters: give exactly one of UserId and FaceId"
        )
    store = backend(ctx)
    min_cosine = search.cosine_for(_threshold(params))
    max_users = params.get("MaxUsers") or DEFAULT_MAX_USERS
    result: dict[str, Any] = {}
    if face_id is not None:
        collection, face, vector = store.face_vector(params["CollectionId"], face_id)
        # Unlike SearchFaces, the face's own user is a match: a user stands for all its faces,
        # this one included (the question asked is "whose face is this?").
        matches = store.search_users(collection, vector[None, :], max_users, min_cosine)
        result["SearchedFace"] = {"FaceId": face.face_id}
    else:
        collection, user, vectors = store.user_vectors(params["CollectionId"], user_id)
        matches = store.search_users(
            collection, vectors, max_users, min_cosine, exclude_user=user.user_id
        )
        result["SearchedUser"] = {"UserId": user.user_id}
    result["UserMatches"] = _user_matches(matches)
    result["FaceModelVersion"] = collection.face_model_version
    return result


@operation("SearchUsersByImage")
def search_users_by_image(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = backend(ctx)
    collection = store.describe_collection(params["CollectionId"])
    image = load_image(ctx, params["Image"])
    probe = faces.search_face(image.rgb, quality_filter=params.get("QualityFilter") or "NONE")
    result: dict[str, Any] = {
        "UserMatches": [],
        "FaceModelVersion": collection.face_model_version,
        "UnsearchedFaces": probe.unsearched,
    }
    if probe.searched is not None:
        # AWS: "If no valid face is detected in the image, the response will contain an
        # empty UserMatches list and no SearchedFace object."
        matches = store.search_users(
            collection,
            probe.searched.embedding[None, :],
            params.get("MaxUsers") or DEFAULT_MAX_USERS,
            search.cosine_for(_threshold(params)),
        )
        result["UserMatches"] = _user_matches(matches)
        result["SearchedFace"] = {"FaceDetail": probe.searched.face_detail}
    return result
