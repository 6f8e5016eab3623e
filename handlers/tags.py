"""TagResource / UntagResource / ListTagsForResource on collections and Custom Labels
projects, datasets and model versions.

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
from rekognition_emulator.handlers.custom_labels.projects import scope as custom_labels_scope
from rekognition_emulator.handlers.custom_labels.projects import tagged_resource


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
    if kind not in ("collection", "project") or not name:
        # Stream processors are tagged by their own family.
        raise errors.ResourceNotFoundException(f"The resource {arn} does not exist")
    if region != ctx.region or account != ctx.account:
        raise errors.ResourceNotFoundException(
            f"The resource {arn} does not exist in account {ctx.account}, region {ctx.region}"
        )
    return name


def _project_resource(ctx: RequestContext, arn: str) -> str | None:
    """A Custom Labels project, dataset or version ARN (checked to exist), else None."""
    if arn.removeprefix("arn:").split(":", 5)[-1].startswith("project/"):
        _collection_id(ctx, arn)  # the same checks of form, account and region
        return tagged_resource(ctx, arn)
    return None


@operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project = _project_resource(ctx, params["ResourceArn"])
    if project:
        custom_labels_scope(ctx).tag(project, params["Tags"])
        return {}
    backend(ctx).tag(_collection_id(ctx, params["ResourceArn"]), params["Tags"])
    return {}


@operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project = _project_resource(ctx, params["ResourceArn"])
    if project:
        custom_labels_scope(ctx).untag(project, params["TagKeys"])
        return {}
    backend(ctx).untag(_collection_id(ctx, params["ResourceArn"]), params["TagKeys"])
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project = _project_resource(ctx, params["ResourceArn"])
    if project:
        return {"Tags": custom_labels_scope(ctx).tags(project)}
    return {"Tags": backend(ctx).list_tags(_collection_id(ctx, params["ResourceArn"]))}
