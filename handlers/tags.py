"""TagResource / UntagResource / ListTagsForResource on collections and stream processors.

The ARN names the resource: `[arn:]aws:rekognition:<region>:<account>:collection/<id>`
(CreateCollection returns it without the leading "arn:", DescribeCollection with it; both
forms are accepted) or `arn:aws:rekognition:<region>:<account>:streamprocessor/<name>`. The
ARN's account and region must be the caller's: a resource of another account or region is as
invisible here as it is to every other operation.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store import backend
from rekognition_emulator.emulator.store.stream_processors import stream_processors

TAGGABLE = ("collection", "streamprocessor")


def _resource(ctx: RequestContext, arn: str) -> tuple[str, str]:
    """(kind, name) of the resource a ResourceArn names, or the error AWS gives for it."""
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
    if kind not in TAGGABLE or not name:
        # Custom Labels models are tagged by their own family.
        raise errors.ResourceNotFoundException(f"The resource {arn} does not exist")
    if region != ctx.region or account != ctx.account:
        raise errors.ResourceNotFoundException(
            f"The resource {arn} does not exist in account {ctx.account}, region {ctx.region}"
        )
    return kind, name


@operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    kind, name = _resource(ctx, params["ResourceArn"])
    if kind == "streamprocessor":
        stream_processors(ctx.state).tag(ctx.account, ctx.region, name, params["Tags"])
    else:
        backend(ctx).tag(name, params["Tags"])
    return {}


@operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    kind, name = _resource(ctx, params["ResourceArn"])
    if kind == "streamprocessor":
        stream_processors(ctx.state).untag(ctx.account, ctx.region, name, params["TagKeys"])
    else:
        backend(ctx).untag(name, params["TagKeys"])
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    kind, name = _resource(ctx, params["ResourceArn"])
    if kind == "streamprocessor":
        tags = stream_processors(ctx.state).list_tags(ctx.account, ctx.region, name)
    else:
        tags = backend(ctx).list_tags(name)
    return {"Tags": tags}
