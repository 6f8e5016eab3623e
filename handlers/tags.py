"""TagResource / UntagResource / ListTagsForResource on collections, stream processors and
Custom Labels projects, datasets and model versions.

The ARN names the resource: `[arn:]aws:rekognition:<region>:<account>:collection/<id>`
(CreateCollection returns it without the leading "arn:", DescribeCollection with it; both
forms are accepted), `arn:aws:rekognition:<region>:<account>:streamprocessor/<name>`, or a
project, dataset or version ARN (`...:project/<name>/...`). The ARN's account and region must
be the caller's: a resource of another account or region is as invisible here as it is to
every other operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store import backend
from rekognition_emulator.emulator.store.stream_processors import stream_processors
from rekognition_emulator.handlers.custom_labels.projects import scope as custom_labels_scope
from rekognition_emulator.handlers.custom_labels.projects import tagged_resource


@dataclass
class _Tags:
    """The tags of one resource, wherever its family keeps them."""

    tag: Callable[[dict[str, str]], None]
    untag: Callable[[list[str]], None]
    list: Callable[[], dict[str, str]]


def _tags(ctx: RequestContext, arn: str) -> _Tags:
    """The tags of the resource a ResourceArn names, or the error AWS gives for it."""
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
    if kind not in ("collection", "streamprocessor", "project") or not name:
        raise errors.ResourceNotFoundException(f"The resource {arn} does not exist")
    if region != ctx.region or account != ctx.account:
        raise errors.ResourceNotFoundException(
            f"The resource {arn} does not exist in account {ctx.account}, region {ctx.region}"
        )
    if kind == "collection":
        store = backend(ctx)
        return _Tags(
            lambda tags: store.tag(name, tags),
            lambda keys: store.untag(name, keys),
            lambda: store.list_tags(name),
        )
    if kind == "streamprocessor":
        processors, acct, reg = stream_processors(ctx.state), ctx.account, ctx.region
        return _Tags(
            lambda tags: processors.tag(acct, reg, name, tags),
            lambda keys: processors.untag(acct, reg, name, keys),
            lambda: processors.list_tags(acct, reg, name),
        )
    project = tagged_resource(ctx, arn)  # a project, dataset or version that exists
    projects = custom_labels_scope(ctx)
    return _Tags(
        lambda tags: projects.tag(project, tags),
        lambda keys: projects.untag(project, keys),
        lambda: projects.tags(project),
    )


@operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _tags(ctx, params["ResourceArn"]).tag(params["Tags"])
    return {}


@operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _tags(ctx, params["ResourceArn"]).untag(params["TagKeys"])
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": _tags(ctx, params["ResourceArn"]).list()}
