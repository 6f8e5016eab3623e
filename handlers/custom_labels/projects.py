"""CreateProject, DescribeProjects, DeleteProject and the project policies
(PutProjectPolicy, ListProjectPolicies, DeleteProjectPolicy)."""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.aws import arns
from rekognition_emulator.emulator.server import errors, ids
from rekognition_emulator.emulator.server.context import RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store.projects import Policy, Project, Projects
from rekognition_emulator.handlers.custom_labels import lifecycle, policy
from rekognition_emulator.handlers.custom_labels.service import millis, now, service

CUSTOM_LABELS, CONTENT_MODERATION = "CUSTOM_LABELS", "CONTENT_MODERATION"


def scope(ctx: RequestContext) -> Projects:
    return service(ctx.state).scope(ctx.account, ctx.region)


def dataset_metadata(projects: Projects, project: Project) -> list[dict[str, Any]]:
    return [
        {
            "CreationTimestamp": ds.created_at,
            "DatasetType": ds.kind,
            "DatasetArn": ds.arn,
            "Status": ds.status,
            "StatusMessage": ds.status_message,
            "StatusMessageCode": ds.status_code,
        }
        for ds in projects.datasets(project.pk)
    ]


@operation("CreateProject")
def create_project(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    feature = params.get("Feature") or CUSTOM_LABELS
    auto_update = params.get("AutoUpdate")
    if feature == CUSTOM_LABELS and auto_update == "ENABLED":
        raise errors.InvalidParameterException(
            "AutoUpdate applies only to adapters (Feature CONTENT_MODERATION)."
        )
    if feature == CONTENT_MODERATION:
        auto_update = auto_update or "DISABLED"
    else:
        auto_update = None
    created = now()
    name = params["ProjectName"]
    arn = arns.project(ctx.region, ctx.account, name, millis(created))
    scope(ctx).create_project(
        name,
        arn,
        feature,
        auto_update,
        lifecycle.PROJECT_CREATED,
        created,
        params.get("Tags") or {},
    )
    return {"ProjectArn": arn}


@operation("DescribeProjects")
def describe_projects(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    names = params.get("ProjectNames")
    features = set(params.get("Features") or [CUSTOM_LABELS])
    chosen = [
        p for p in projects.projects() if p.feature in features and (not names or p.name in names)
    ]
    purpose = ["DescribeProjects", ctx.account, ctx.region, sorted(names or []), sorted(features)]

    def description(p: Project) -> dict[str, Any]:
        return {
            "ProjectArn": p.arn,
            "CreationTimestamp": p.created_at,
            "Status": p.status,
            "Datasets": dataset_metadata(projects, p),
            "Feature": p.feature,
            "AutoUpdate": p.auto_update,
        }

    return service(ctx.state).page("ProjectDescriptions", purpose, chosen, params, 100, description)


@operation("DeleteProject")
def delete_project(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    scope(ctx).delete_project(params["ProjectArn"])
    # Deleted at once: the status it had while being deleted, as AWS answers.
    return {"Status": lifecycle.PROJECT_DELETING}


# -- project policies ---------------------------------------------------------------------------
def _custom_labels_project(projects: Projects, arn: str, operation_name: str) -> Project:
    project = projects.project(arn)
    if project.feature != CUSTOM_LABELS:
        raise errors.InvalidParameterException(
            f"{operation_name} applies only to Custom Labels projects; {project.name} is a "
            f"{project.feature} project."
        )
    return project


@operation("PutProjectPolicy")
def put_project_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    project = _custom_labels_project(projects, params["ProjectArn"], "PutProjectPolicy")
    document = params["PolicyDocument"]
    policy.parse(document)
    name = params["PolicyName"]
    stamp = now()
    # The sequence comes from the id source, so a --seed server makes the same revision ids.
    sequence = int.from_bytes(ids.new_bytes("policy-revision", 8), "big")
    revision = policy.revision_id(f"{project.arn}|{name}", document, sequence)
    new = projects.put_policy(
        project.arn,
        name,
        params.get("PolicyRevisionId"),
        revision,
        document,
        stamp,
        policy.MAX_POLICIES,
    )
    return {"PolicyRevisionId": new}


@operation("ListProjectPolicies")
def list_project_policies(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    project = projects.project(params["ProjectArn"])
    found = projects.policies(project.pk)
    purpose = ["ListProjectPolicies", ctx.account, ctx.region, project.arn]

    def entry(p: Policy) -> dict[str, Any]:
        return {
            "ProjectArn": project.arn,
            "PolicyName": p.name,
            "PolicyRevisionId": p.revision_id,
            "PolicyDocument": p.document,
            "CreationTimestamp": p.created_at,
            "LastUpdatedTimestamp": p.updated_at,
        }

    return service(ctx.state).page("ProjectPolicies", purpose, found, params, policy.MAX_POLICIES, entry)  # fmt: skip


@operation("DeleteProjectPolicy")
def delete_project_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    scope(ctx).delete_policy(
        params["ProjectArn"], params["PolicyName"], params.get("PolicyRevisionId")
    )
    return {}


# -- tags -------------------------------------------------------------------------------------------
def tagged_resource(ctx: RequestContext, arn: str) -> str:
    """The ARN of the caller's project, dataset or model version that `arn` names
    (ResourceNotFoundException if there is none); TagResource and friends use it."""
    projects = scope(ctx)
    resource = arn.split(":", 5)[-1]
    if "/version/" in resource:
        return projects.version(arn).arn
    if "/dataset/" in resource:
        return projects.dataset(arn).arn
    return projects.project(arn).arn
