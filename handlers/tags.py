"""TagResource / UntagResource / ListTagsForResource on collections.

The ARN names the resource: `[arn:]aws:rekognition:<region>:<account>:collection/<id>`
(CreateCollection returns it without the leading "arn:", DescribeCollection with it; both
forms are accepted). The ARN's account and region must be the caller's: a collection of
another account or region is as invisible here as it is to every other operation.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store import backend


def _collection_id(ctx: RequestContext, arn: str) -> str:
    """The collection a ResourceArn names, or the error AWS gives for it."""
    parts = arn.removeprefix("arn:").split(":", 4)
    if (
        len(parts) != 5
        or parts[0] not in ("aws", "aws-cn", "aws-us-gov")
        or parts[1] != "rekognition"
    ):
        raise errors.InvalidParameterException(
            f"Request has invalid parameters: {arn} is not a Rekognition resource ARN"
        )
    _, _, region, account, resource = parts
    kind, _, name = resource.partition("/")
    if kind != "collection" or not name:
        # Stream processors and Custom Labels models are tagged by their own families.
        raise errors.ResourceNotFoundException(f"The resource {arn} does not exist")
    if region != ctx.region or account != ctx.account:
        raise errors.ResourceNotFoundException(
            f"The resource {arn} does not exist in account {ctx.account}, region {ctx.region}"
        )
    return name


@operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    backend(ctx).tag(_collection_id(ctx, params["ResourceArn"]), params["Tags"])
    return {}


@operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    backend(ctx).untag(_collection_id(ctx, params["ResourceArn"]), params["TagKeys"])
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": backend(ctx).list_tags(_collection_id(ctx, params["ResourceArn"]))}
