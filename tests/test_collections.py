"""Collections through boto3 against a live server: create, describe, list, delete, the
errors AWS gives, pagination with opaque tokens, and scoping by account and region.

Every response is checked against the service model's output shape on the wire.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.shape_check import validate_responses


def unique(prefix: str = "col") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def rek(endpoint):
    return validate_responses(make_client("rekognition", endpoint))


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def test_create_collection_returns_arn_and_model_version(rek):
    cid = unique()
    out = rek.create_collection(CollectionId=cid)
    assert out["StatusCode"] == 200
    assert out["CollectionArn"] == f"aws:rekognition:us-east-1:123456789012:collection/{cid}"
    assert out["FaceModelVersion"] == "7.0"


def test_describe_collection_reports_counts_arn_and_creation_time(rek):
    cid = unique()
    before = dt.datetime.now(dt.UTC)
    rek.create_collection(CollectionId=cid)
    out = rek.describe_collection(CollectionId=cid)
    assert out["FaceCount"] == 0 and out["UserCount"] == 0
    assert out["CollectionARN"].endswith(f":collection/{cid}")
    assert out["FaceModelVersion"] == "7.0"
    created = out["CreationTimestamp"]
    assert before - dt.timedelta(seconds=2) <= created <= dt.datetime.now(dt.UTC)


def test_describe_collection_answers_the_arn_with_its_arn_prefix(rek):
    # AWS's documented outputs: DescribeCollection "arn:aws:rekognition:...", while
    # CreateCollection answers "aws:rekognition:..."; tags accept either form.
    cid = unique()
    created = rek.create_collection(CollectionId=cid)["CollectionArn"]
    described = rek.describe_collection(CollectionId=cid)["CollectionARN"]
    assert described == f"arn:aws:rekognition:us-east-1:123456789012:collection/{cid}"
    assert described == "arn:" + created
    rek.tag_resource(ResourceArn=described, Tags={"from": "describe"})
    rek.tag_resource(ResourceArn=created, Tags={"from-create": "yes"})
    assert rek.list_tags_for_resource(ResourceArn=described)["Tags"] == {
        "from": "describe",
        "from-create": "yes",
    }


def test_creating_an_existing_collection_is_refused_by_name(rek):
    cid = unique()
    rek.create_collection(CollectionId=cid)
    with pytest.raises(ClientError) as exc:
        rek.create_collection(CollectionId=cid)
    code, message = error_of(exc)
    assert code == "ResourceAlreadyExistsException"
    assert cid in message


@pytest.mark.parametrize(
    "call",
    [
        lambda rek, cid: rek.describe_collection(CollectionId=cid),
        lambda rek, cid: rek.delete_collection(CollectionId=cid),
        lambda rek, cid: rek.list_faces(CollectionId=cid),
        lambda rek, cid: rek.list_users(CollectionId=cid),
        lambda rek, cid: rek.create_user(CollectionId=cid, UserId="u"),
        lambda rek, cid: rek.delete_faces(
            CollectionId=cid, FaceIds=["11111111-1111-4111-8111-111111111111"]
        ),
        lambda rek, cid: rek.search_faces(
            CollectionId=cid, FaceId="11111111-1111-4111-8111-111111111111"
        ),
    ],
    ids=["describe", "delete", "list_faces", "list_users", "create_user", "delete_faces", "search"],
)
def test_a_missing_collection_is_not_found_by_name(rek, call):
    cid = unique("missing")
    with pytest.raises(ClientError) as exc:
        call(rek, cid)
    code, message = error_of(exc)
    assert code == "ResourceNotFoundException"
    assert cid in message


def test_deleted_collection_is_gone_and_its_id_reusable(rek):
    cid = unique()
    rek.create_collection(CollectionId=cid)
    assert rek.delete_collection(CollectionId=cid)["StatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        rek.describe_collection(CollectionId=cid)
    assert error_of(exc)[0] == "ResourceNotFoundException"
    assert cid not in all_collection_ids(rek)
    rek.create_collection(CollectionId=cid)
    assert rek.describe_collection(CollectionId=cid)["FaceCount"] == 0


def test_collection_ids_are_case_sensitive(rek):
    cid = unique("Case")
    rek.create_collection(CollectionId=cid)
    rek.create_collection(CollectionId=cid.lower())
    ids = all_collection_ids(rek)
    assert cid in ids and cid.lower() in ids


def test_an_invalid_collection_id_is_a_validation_error(rek):
    with pytest.raises(ClientError) as exc:
        rek.create_collection(CollectionId="bad id!")
    code, message = error_of(exc)
    assert code == "ValidationException"
    assert "collectionId" in message


def all_collection_ids(rek, page_size: int | None = None) -> list[str]:
    config = {"PageSize": page_size} if page_size else {}
    ids: list[str] = []
    for page in rek.get_paginator("list_collections").paginate(PaginationConfig=config):
        assert len(page["CollectionIds"]) == len(page["FaceModelVersions"])
        ids += page["CollectionIds"]
    return ids


def test_list_collections_pages_with_the_botocore_paginator(rek):
    mine = [unique("page") for _ in range(7)]
    for cid in mine:
        rek.create_collection(CollectionId=cid)
    ids = all_collection_ids(rek, page_size=3)
    assert len(ids) == len(set(ids)), "a collection was listed twice"
    assert all(cid in ids for cid in mine)
    first = rek.list_collections(MaxResults=3)
    assert len(first["CollectionIds"]) == 3 and "NextToken" in first
    assert len(first["NextToken"]) <= 255


def test_last_page_has_no_token(rek):
    total = len(all_collection_ids(rek))
    out = rek.list_collections(MaxResults=total + 10)
    assert "NextToken" not in out


def test_a_tampered_pagination_token_is_refused(rek):
    for _ in range(3):
        rek.create_collection(CollectionId=unique("tok"))
    token = rek.list_collections(MaxResults=1)["NextToken"]
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (flipped, "not-a-token", token + "x"):
        with pytest.raises(ClientError) as exc:
            rek.list_collections(MaxResults=1, NextToken=bad)
        assert error_of(exc)[0] == "InvalidPaginationTokenException"


def test_a_token_is_only_good_for_the_listing_that_issued_it(rek, endpoint):
    for _ in range(2):
        rek.create_collection(CollectionId=unique("tok"))
    token = rek.list_collections(MaxResults=1)["NextToken"]
    cid = unique()
    rek.create_collection(CollectionId=cid)
    with pytest.raises(ClientError) as exc:
        rek.list_faces(CollectionId=cid, NextToken=token)
    assert error_of(exc)[0] == "InvalidPaginationTokenException"
    other_region = make_client("rekognition", endpoint, region="eu-west-1")
    other_region.create_collection(CollectionId=unique())
    other_region.create_collection(CollectionId=unique())
    with pytest.raises(ClientError) as exc:
        other_region.list_collections(MaxResults=1, NextToken=token)
    assert error_of(exc)[0] == "InvalidPaginationTokenException"


def test_collections_are_scoped_by_region(rek, endpoint):
    cid = unique("scoped")
    rek.create_collection(CollectionId=cid)
    eu = validate_responses(make_client("rekognition", endpoint, region="eu-west-1"))
    with pytest.raises(ClientError) as exc:
        eu.describe_collection(CollectionId=cid)
    assert error_of(exc)[0] == "ResourceNotFoundException"
    assert cid not in all_collection_ids(eu)
    # The same id is free in the other region, with that region's ARN.
    out = eu.create_collection(CollectionId=cid)
    assert out["CollectionArn"] == f"aws:rekognition:eu-west-1:123456789012:collection/{cid}"


def test_collections_are_scoped_by_account(rek, endpoint):
    cid = unique("acct")
    rek.create_collection(CollectionId=cid)
    other = validate_responses(make_client("rekognition", endpoint, access_key="111122223333"))
    with pytest.raises(ClientError) as exc:
        other.describe_collection(CollectionId=cid)
    assert error_of(exc)[0] == "ResourceNotFoundException"
    out = other.create_collection(CollectionId=cid)
    assert ":111122223333:collection/" in out["CollectionArn"]
    # Deleting it in one account leaves the other account's collection alone.
    other.delete_collection(CollectionId=cid)
    assert rek.describe_collection(CollectionId=cid)["FaceCount"] == 0
