"""Tags on collections: CreateCollection's Tags, TagResource, UntagResource,
ListTagsForResource, by the collection's ARN as Rekognition returns it (with or without
a leading "arn:"), through boto3 against a live server.
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.shape_check import validate_responses


@pytest.fixture(scope="module")
def rek(endpoint):
    return validate_responses(make_client("rekognition", endpoint))


def new_collection(rek, **kwargs) -> str:
    cid = f"tags-{uuid.uuid4().hex[:10]}"
    return rek.create_collection(CollectionId=cid, **kwargs)["CollectionArn"]


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_tags_given_at_creation_are_listed(rek):
    arn = new_collection(rek, Tags={"team": "vision", "env": "ci"})
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "vision", "env": "ci"}


def test_tag_resource_adds_and_overwrites(rek):
    arn = new_collection(rek, Tags={"team": "vision"})
    rek.tag_resource(ResourceArn=arn, Tags={"team": "search", "cost": "42"})
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "search", "cost": "42"}


def test_untag_resource_removes_only_the_named_keys(rek):
    arn = new_collection(rek, Tags={"a": "1", "b": "2", "c": "3"})
    rek.untag_resource(ResourceArn=arn, TagKeys=["a", "c", "never-set"])
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "2"}


def test_an_untagged_collection_lists_no_tags(rek):
    arn = new_collection(rek)
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}


def test_the_arn_may_carry_the_arn_prefix(rek):
    arn = new_collection(rek)
    rek.tag_resource(ResourceArn="arn:" + arn, Tags={"k": "v"})
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"k": "v"}


def test_tags_go_with_a_deleted_collection(rek):
    arn = new_collection(rek, Tags={"k": "v"})
    cid = arn.rsplit("/", 1)[1]
    rek.delete_collection(CollectionId=cid)
    with pytest.raises(ClientError) as exc:
        rek.list_tags_for_resource(ResourceArn=arn)
    assert code_of(exc) == "ResourceNotFoundException"
    rek.create_collection(CollectionId=cid)
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}


def test_unknown_collection_arn_is_not_found(rek):
    arn = "aws:rekognition:us-east-1:123456789012:collection/none-such-collection"
    with pytest.raises(ClientError) as exc:
        rek.tag_resource(ResourceArn=arn, Tags={"k": "v"})
    assert code_of(exc) == "ResourceNotFoundException"
    assert "none-such-collection" in exc.value.response["Error"]["Message"]


def test_another_regions_arn_is_not_found_here(rek, endpoint):
    eu = make_client("rekognition", endpoint, region="eu-west-1")
    cid = f"tags-{uuid.uuid4().hex[:10]}"
    arn = eu.create_collection(CollectionId=cid)["CollectionArn"]
    rek.create_collection(CollectionId=cid)  # same id in us-east-1 must not be touched
    with pytest.raises(ClientError) as exc:
        rek.tag_resource(ResourceArn=arn, Tags={"k": "v"})
    assert code_of(exc) == "ResourceNotFoundException"
    assert eu.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}


def test_a_malformed_arn_is_an_invalid_parameter(rek):
    with pytest.raises(ClientError) as exc:
        rek.list_tags_for_resource(ResourceArn="this-is-not-an-arn-at-all")
    assert code_of(exc) == "InvalidParameterException"


def test_reserved_aws_prefix_is_a_validation_error(rek):
    arn = new_collection(rek)
    with pytest.raises(ClientError) as exc:
        rek.tag_resource(ResourceArn=arn, Tags={"aws:owner": "me"})
    assert code_of(exc) == "ValidationException"


def test_more_than_fifty_tags_exceed_the_quota(rek):
    arn = new_collection(rek, Tags={f"k{i}": "v" for i in range(45)})
    with pytest.raises(ClientError) as exc:
        rek.tag_resource(ResourceArn=arn, Tags={f"n{i}": "v" for i in range(6)})
    assert code_of(exc) == "ServiceQuotaExceededException"
    # Overwriting existing keys does not count twice.
    rek.tag_resource(ResourceArn=arn, Tags={f"k{i}": "w" for i in range(45)})
    assert len(rek.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 45
