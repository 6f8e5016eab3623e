"""Users: CreateUser, DeleteUser, ListUsers, AssociateFaces, DisassociateFaces, SearchUsers
and SearchUsersByImage through boto3 on real photos, plus the per-user face quota on the
store directly (it needs 101 faces, which synthetic embeddings give instantly).
"""

from __future__ import annotations

import numpy as np
import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.store import BoundingBox, FaceStore, NewFace
from rekognition_emulator.handlers.analysis.faces import similarity
from tests.collection_helpers import photo, unique, unit_vectors
from tests.conftest import make_client
from tests.shape_check import validate_responses


@pytest.fixture(scope="module")
def rek(endpoint):
    return validate_responses(make_client("rekognition", endpoint))


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def faces(rek, testdata):
    """A collection with 3 photos of Obama and 2 of Biden; -> (collection, {name.i: face id})."""
    cid = unique("users")
    rek.create_collection(CollectionId=cid)
    ids = {}
    for name, count in (("Barack_Obama", 3), ("Joe_Biden", 2)):
        for i in range(count):
            out = rek.index_faces(
                CollectionId=cid, Image={"Bytes": photo(testdata, name, i)}, MaxFaces=1
            )
            ids[f"{name}.{i}"] = out["FaceRecords"][0]["Face"]["FaceId"]
    return cid, ids


@pytest.fixture
def collection(rek):
    cid = unique("users-empty")
    rek.create_collection(CollectionId=cid)
    return cid


def test_create_list_and_delete_users(rek, collection):
    for user in ("alice", "bob", "carol:42"):
        out = rek.create_user(CollectionId=collection, UserId=user)
        assert set(out) == {"ResponseMetadata"}  # CreateUser answers an empty object
    listed = rek.list_users(CollectionId=collection)["Users"]
    assert listed == [
        {"UserId": "alice", "UserStatus": "CREATED"},
        {"UserId": "bob", "UserStatus": "CREATED"},
        {"UserId": "carol:42", "UserStatus": "CREATED"},
    ]
    assert rek.describe_collection(CollectionId=collection)["UserCount"] == 3
    rek.delete_user(CollectionId=collection, UserId="bob")
    assert [u["UserId"] for u in rek.list_users(CollectionId=collection)["Users"]] == [
        "alice",
        "carol:42",
    ]
    assert rek.describe_collection(CollectionId=collection)["UserCount"] == 2


def test_list_users_pages_with_the_botocore_paginator(rek, collection):
    users = [f"user{i:02d}" for i in range(7)]
    for user in users:
        rek.create_user(CollectionId=collection, UserId=user)
    pages = list(
        rek.get_paginator("list_users").paginate(
            CollectionId=collection, PaginationConfig={"PageSize": 3}
        )
    )
    assert [u["UserId"] for p in pages for u in p["Users"]] == users
    assert len(pages) == 3


def test_a_duplicate_user_is_a_conflict(rek, collection):
    rek.create_user(CollectionId=collection, UserId="dup")
    with pytest.raises(ClientError) as exc:
        rek.create_user(CollectionId=collection, UserId="dup")
    assert code_of(exc) == "ConflictException"
    assert "dup" in exc.value.response["Error"]["Message"]


def test_deleting_an_unknown_user_is_not_found(rek, collection):
    with pytest.raises(ClientError) as exc:
        rek.delete_user(CollectionId=collection, UserId="nobody")
    assert code_of(exc) == "ResourceNotFoundException"
    assert "nobody" in exc.value.response["Error"]["Message"]


def test_a_repeated_client_request_token_answers_the_first_response(rek, collection):
    rek.create_user(CollectionId=collection, UserId="idem", ClientRequestToken="tok-create-1")
    # A retry with the same token and parameters succeeds again instead of conflicting ...
    rek.create_user(CollectionId=collection, UserId="idem", ClientRequestToken="tok-create-1")
    # ... but the same token with other parameters is refused.
    with pytest.raises(ClientError) as exc:
        rek.create_user(CollectionId=collection, UserId="other", ClientRequestToken="tok-create-1")
    assert code_of(exc) == "IdempotentParameterMismatchException"
    rek.delete_user(CollectionId=collection, UserId="idem", ClientRequestToken="tok-delete-1")
    rek.delete_user(CollectionId=collection, UserId="idem", ClientRequestToken="tok-delete-1")
    with pytest.raises(ClientError) as exc:
        rek.delete_user(CollectionId=collection, UserId="idem")
    assert code_of(exc) == "ResourceNotFoundException"


def test_associate_faces_of_the_same_person(rek, faces):
    cid, ids = faces
    user = unique("obama")
    rek.create_user(CollectionId=cid, UserId=user)
    out = rek.associate_faces(
        CollectionId=cid, UserId=user, FaceIds=[ids["Barack_Obama.0"], ids["Barack_Obama.1"]]
    )
    assert sorted(f["FaceId"] for f in out["AssociatedFaces"]) == sorted(
        [ids["Barack_Obama.0"], ids["Barack_Obama.1"]]
    )
    assert out["UnsuccessfulFaceAssociations"] == []
    assert out["UserStatus"] == "ACTIVE"
    listed = rek.list_faces(CollectionId=cid, UserId=user)["Faces"]
    assert {f["FaceId"] for f in listed} == {ids["Barack_Obama.0"], ids["Barack_Obama.1"]}
    assert all(f["UserId"] == user for f in listed)
    # Associating a face that is already the user's is ignored, not an error.
    again = rek.associate_faces(CollectionId=cid, UserId=user, FaceIds=[ids["Barack_Obama.0"]])
    assert again["AssociatedFaces"] == [] and again["UnsuccessfulFaceAssociations"] == []
    rek.delete_user(CollectionId=cid, UserId=user)


def test_associate_refuses_another_persons_face_for_low_match(rek, faces):
    cid, ids = faces
    user = unique("obama")
    rek.create_user(CollectionId=cid, UserId=user)
    rek.associate_faces(CollectionId=cid, UserId=user, FaceIds=[ids["Barack_Obama.0"]])
    out = rek.associate_faces(CollectionId=cid, UserId=user, FaceIds=[ids["Joe_Biden.0"]])
    assert out["AssociatedFaces"] == []
    (failed,) = out["UnsuccessfulFaceAssociations"]
    assert failed["FaceId"] == ids["Joe_Biden.0"]
    assert failed["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    assert failed["Confidence"] < 75
    # A threshold of 0 lets it through.
    out = rek.associate_faces(
        CollectionId=cid, UserId=user, FaceIds=[ids["Joe_Biden.0"]], UserMatchThreshold=0
    )
    assert out["AssociatedFaces"] == [{"FaceId": ids["Joe_Biden.0"]}]
    rek.delete_user(CollectionId=cid, UserId=user)


def test_associate_reports_unknown_and_taken_faces(rek, faces):
    cid, ids = faces
    first, second = unique("u1"), unique("u2")
    for user in (first, second):
        rek.create_user(CollectionId=cid, UserId=user)
    rek.associate_faces(CollectionId=cid, UserId=first, FaceIds=[ids["Joe_Biden.1"]])
    missing = "11111111-1111-4111-8111-111111111111"
    out = rek.associate_faces(
        CollectionId=cid, UserId=second, FaceIds=[ids["Joe_Biden.1"], missing]
    )
    reasons = {
        f["FaceId"]: (f["Reasons"], f.get("UserId")) for f in out["UnsuccessfulFaceAssociations"]
    }
    assert reasons[ids["Joe_Biden.1"]] == (["ASSOCIATED_TO_A_DIFFERENT_USER"], first)
    assert reasons[missing][0] == ["FACE_NOT_FOUND"]
    assert out["UserStatus"] == "CREATED"
    with pytest.raises(ClientError) as exc:
        rek.associate_faces(CollectionId=cid, UserId="no-such-user", FaceIds=[ids["Joe_Biden.0"]])
    assert code_of(exc) == "ResourceNotFoundException"
    for user in (first, second):
        rek.delete_user(CollectionId=cid, UserId=user)


def test_disassociate_faces(rek, faces):
    cid, ids = faces
    user, other = unique("u"), unique("v")
    for u in (user, other):
        rek.create_user(CollectionId=cid, UserId=u)
    rek.associate_faces(CollectionId=cid, UserId=user, FaceIds=[ids["Barack_Obama.2"]])
    rek.associate_faces(CollectionId=cid, UserId=other, FaceIds=[ids["Joe_Biden.0"]])
    missing = "11111111-1111-4111-8111-111111111111"
    out = rek.disassociate_faces(
        CollectionId=cid,
        UserId=user,
        FaceIds=[ids["Barack_Obama.2"], ids["Joe_Biden.0"], missing, ids["Barack_Obama.1"]],
    )
    assert out["DisassociatedFaces"] == [{"FaceId": ids["Barack_Obama.2"]}]
    reasons = {f["FaceId"]: f["Reasons"] for f in out["UnsuccessfulFaceDisassociations"]}
    assert reasons == {
        ids["Joe_Biden.0"]: ["ASSOCIATED_TO_A_DIFFERENT_USER"],
        missing: ["FACE_NOT_FOUND"],
    }
    assert out["UserStatus"] == "CREATED"
    for u in (user, other):
        rek.delete_user(CollectionId=cid, UserId=u)


def test_a_face_of_a_user_cannot_be_deleted_until_its_user_goes(rek, faces):
    cid, ids = faces
    user = unique("keep")
    rek.create_user(CollectionId=cid, UserId=user)
    rek.associate_faces(CollectionId=cid, UserId=user, FaceIds=[ids["Barack_Obama.1"]])
    out = rek.delete_faces(CollectionId=cid, FaceIds=[ids["Barack_Obama.1"]])
    assert "DeletedFaces" not in out
    assert out["UnsuccessfulFaceDeletions"] == [
        {
            "FaceId": ids["Barack_Obama.1"],
            "UserId": user,
            "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"],
        }
    ]
    # DeleteUser disassociates the user's faces, which stay in the collection.
    rek.delete_user(CollectionId=cid, UserId=user)
    (face,) = rek.list_faces(CollectionId=cid, FaceIds=[ids["Barack_Obama.1"]])["Faces"]
    assert "UserId" not in face


def test_search_users_by_face_and_by_user(rek, faces):
    cid, ids = faces
    obama, biden = unique("obama"), unique("biden")
    rek.create_user(CollectionId=cid, UserId=obama)
    rek.create_user(CollectionId=cid, UserId=biden)
    rek.associate_faces(
        CollectionId=cid, UserId=obama, FaceIds=[ids["Barack_Obama.0"], ids["Barack_Obama.1"]]
    )
    rek.associate_faces(CollectionId=cid, UserId=biden, FaceIds=[ids["Joe_Biden.0"]])
    try:
        out = rek.search_users(CollectionId=cid, FaceId=ids["Barack_Obama.2"])
        assert out["SearchedFace"] == {"FaceId": ids["Barack_Obama.2"]}
        assert [m["User"] for m in out["UserMatches"]] == [
            {"UserId": obama, "UserStatus": "ACTIVE"}
        ]
        assert out["UserMatches"][0]["Similarity"] >= 80
        everyone = rek.search_users(
            CollectionId=cid, FaceId=ids["Barack_Obama.2"], UserMatchThreshold=0
        )["UserMatches"]
        assert [m["User"]["UserId"] for m in everyone][:2] == [obama, biden]
        sims = [m["Similarity"] for m in everyone]
        assert sims == sorted(sims, reverse=True)
        own = rek.search_users(CollectionId=cid, FaceId=ids["Barack_Obama.0"])["UserMatches"]
        assert [m["User"]["UserId"] for m in own] == [obama]  # the face's own user
        by_user = rek.search_users(CollectionId=cid, UserId=biden, UserMatchThreshold=0)
        assert by_user["SearchedUser"] == {"UserId": biden}
        assert [m["User"]["UserId"] for m in by_user["UserMatches"]][0] == obama
        assert biden not in [m["User"]["UserId"] for m in by_user["UserMatches"]]
        limited = rek.search_users(
            CollectionId=cid, FaceId=ids["Barack_Obama.2"], UserMatchThreshold=0, MaxUsers=1
        )
        assert len(limited["UserMatches"]) == 1
    finally:
        rek.delete_user(CollectionId=cid, UserId=obama)
        rek.delete_user(CollectionId=cid, UserId=biden)


def test_search_users_needs_exactly_one_of_face_and_user(rek, faces):
    cid, ids = faces
    with pytest.raises(ClientError) as exc:
        rek.search_users(CollectionId=cid)
    assert code_of(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        rek.search_users(CollectionId=cid, UserId="x", FaceId=ids["Joe_Biden.0"])
    assert code_of(exc) == "InvalidParameterException"


def test_search_users_by_image(rek, faces, testdata):
    cid, ids = faces
    biden = unique("biden")
    rek.create_user(CollectionId=cid, UserId=biden)
    rek.associate_faces(CollectionId=cid, UserId=biden, FaceIds=[ids["Joe_Biden.0"]])
    try:
        two = (testdata / "faces" / "groups" / "face_recognition__two_people.jpg").read_bytes()
        out = rek.search_users_by_image(
            CollectionId=cid, Image={"Bytes": two}, UserMatchThreshold=0
        )
        assert out["FaceModelVersion"] == "7.0"
        assert "BoundingBox" in out["SearchedFace"]["FaceDetail"]
        assert [f["Reasons"] for f in out["UnsearchedFaces"]] == [["FACE_NOT_LARGEST"]]
        single = rek.search_users_by_image(
            CollectionId=cid, Image={"Bytes": photo(testdata, "Joe_Biden", 1)}
        )
        assert [m["User"]["UserId"] for m in single["UserMatches"]] == [biden]
        assert single["UnsearchedFaces"] == []
        noise = (testdata / "faces" / "negatives" / "facenet-pytorch__noise_1.jpg").read_bytes()
        none = rek.search_users_by_image(CollectionId=cid, Image={"Bytes": noise})
        assert none["UserMatches"] == [] and "SearchedFace" not in none
    finally:
        rek.delete_user(CollectionId=cid, UserId=biden)


# -- the per-user quota, on the store itself ------------------------------------------------
def test_a_user_holds_at_most_one_hundred_faces(tmp_path):
    store = FaceStore(tmp_path, preload=False)
    try:
        backend = store.region("123456789012", "us-east-1")
        backend.create_collection("quota", None)
        vectors = unit_vectors(101, seed=3)
        # Small variations of one face, so that every association passes the match threshold.
        same = vectors[0] + 0.02 * vectors
        _, stored = backend.add_faces(
            "quota",
            [NewFace(BoundingBox(0.1, 0.1, 0.5, 0.5), 99.0, v) for v in same],
            None,
        )
        backend.create_user("quota", "many", None)
        face_ids = [f.face_id for f in stored]
        sim = np.vectorize(similarity)
        out = backend.associate_faces("quota", "many", face_ids[:100], 75, sim, None, {})
        assert len(out["AssociatedFaces"]) == 100
        with pytest.raises(errors.ServiceQuotaExceededException) as exc:
            backend.associate_faces("quota", "many", face_ids[100:], 75, sim, None, {})
        assert "100" in exc.value.message
    finally:
        store.close()
