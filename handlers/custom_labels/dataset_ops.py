"""The dataset operations: CreateDataset, DescribeDataset, ListDatasetEntries,
ListDatasetLabels, UpdateDatasetEntries, DistributeDatasetEntries, DeleteDataset.

A call that changes a dataset commits its *_IN_PROGRESS status before it answers (a
DescribeDataset right after it sees that status) and leaves the work to the job engine
(kind CustomLabelsDataset): reading the manifest from S3, checking it, and storing the
entries with the final status in one transaction. A kill -9 meanwhile leaves the dataset
*_IN_PROGRESS with its job queued again at the next start.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rekognition_emulator.emulator.aws import arns
from rekognition_emulator.emulator.aws.s3 import head_object, s3_for
from rekognition_emulator.emulator.jobs import JobContext, engine, job_kind
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store.projects import Dataset, Projects
from rekognition_emulator.handlers.custom_labels import datasets, lifecycle, manifest
from rekognition_emulator.handlers.custom_labels.manifest import Line
from rekognition_emulator.handlers.custom_labels.projects import scope
from rekognition_emulator.handlers.custom_labels.service import millis, now, service

log = logging.getLogger("rekognition_emulator.custom_labels")
KIND = "CustomLabelsDataset"
DISTRIBUTE_FAILED = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE"


def lines_of(projects: Projects, dataset_pk: int) -> list[Line]:
    """A dataset's entries as manifest lines (their errors found again as they were)."""
    return [manifest.parse_line(text, i) for i, text in enumerate(projects.entries(dataset_pk))]


def stored(lines: list[Line]) -> list[str]:
    return [json.dumps(line.json, separators=(",", ":")) for line in lines]


def _submit(ctx: RequestContext, action: str, pks: list[int], **extra: Any) -> None:
    engine(ctx.state).submit(
        KIND,
        account=ctx.account,
        region=ctx.region,
        params={"action": action, "dataset_pks": pks, **extra},
    )


@operation("CreateDataset")
def create_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    project = projects.project(params["ProjectArn"])
    kind = params["DatasetType"]
    source = params.get("DatasetSource") or {}
    manifest_src = (source.get("GroundTruthManifest") or {}).get("S3Object")
    copy_from = source.get("DatasetArn")
    if manifest_src and copy_from:
        raise errors.InvalidParameterException(
            "DatasetSource takes a GroundTruthManifest or a DatasetArn, not both."
        )
    if source.get("GroundTruthManifest") is not None and not manifest_src:
        raise errors.InvalidParameterException("GroundTruthManifest needs an S3Object.")
    job: dict[str, Any] = {}
    if manifest_src:
        # The manifest must be there now (the call's InvalidS3ObjectException); it is read by
        # the job.
        head_object(ctx.state, ctx.account, manifest_src.get("Bucket") or "", manifest_src.get("Name") or "", manifest_src.get("Version"))  # fmt: skip
        job = {"manifest": manifest_src}
    elif copy_from:
        original = projects.dataset(copy_from)
        if original.status not in lifecycle.DATASET_USABLE:
            raise errors.InvalidParameterException(
                f"The dataset {copy_from} cannot be copied while its status is {original.status}."
            )
        job = {"copy_pk": original.pk}
    created = now()
    arn = arns.dataset(ctx.region, ctx.account, project.name, kind, millis(created))
    tags = params.get("Tags") or {}
    if not job:
        # No source: an empty dataset, complete at once (entries come by UpdateDatasetEntries).
        projects.create_dataset(project.arn, kind, arn, lifecycle.CREATE_COMPLETE, "The dataset was successfully created.", lifecycle.SUCCESS, created, tags)  # fmt: skip
        return {"DatasetArn": arn}
    dataset = projects.create_dataset(
        project.arn,
        kind,
        arn,
        lifecycle.CREATE_IN_PROGRESS,
        lifecycle.DATASET_CREATING_MESSAGE,
        lifecycle.SUCCESS,
        created,
        tags,
    )
    _submit(ctx, "create", [dataset.pk], **job)
    return {"DatasetArn": arn}


@operation("DescribeDataset")
def describe_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    ds = projects.dataset(params["DatasetArn"])
    return {
        "DatasetDescription": {
            "CreationTimestamp": ds.created_at,
            "LastUpdatedTimestamp": ds.updated_at,
            "Status": ds.status,
            "StatusMessage": ds.status_message,
            "StatusMessageCode": ds.status_code,
            "DatasetStats": datasets.stats(lines_of(projects, ds.pk)),
        }
    }


def _readable(projects: Projects, arn: str, operation_name: str) -> Dataset:
    ds = projects.dataset(arn)
    lifecycle.require_dataset_ready(ds.status, arn, operation_name)
    return ds


@operation("ListDatasetEntries")
def list_dataset_entries(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    ds = _readable(projects, params["DatasetArn"], "ListDatasetEntries")
    filters = {
        "contains_labels": params.get("ContainsLabels"),
        "labeled": params.get("Labeled"),
        "source_ref_contains": params.get("SourceRefContains"),
        "has_errors": params.get("HasErrors"),
    }
    chosen = [line for line in lines_of(projects, ds.pk) if datasets.matches(line, **filters)]
    purpose = ["ListDatasetEntries", ctx.account, ctx.region, ds.arn, ds.updated_at, filters]
    return service(ctx.state).page(
        "DatasetEntries", purpose, chosen, params, 100, manifest.entry_json
    )


@operation("ListDatasetLabels")
def list_dataset_labels(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    ds = _readable(projects, params["DatasetArn"], "ListDatasetLabels")
    labels = datasets.label_stats(lines_of(projects, ds.pk))
    purpose = ["ListDatasetLabels", ctx.account, ctx.region, ds.arn, ds.updated_at]
    return service(ctx.state).page("DatasetLabelDescriptions", purpose, labels, params, 100)


@operation("UpdateDatasetEntries")
def update_dataset_entries(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    text = manifest.decode(params["Changes"]["GroundTruth"])
    if text is None:
        raise errors.InvalidParameterException(
            "Changes.GroundTruth must be JSON Lines in UTF-8 text."
        )
    (ds,) = scope(ctx).begin_dataset_change(
        [params["DatasetArn"]],
        lifecycle.DATASET_SETTLED,
        lifecycle.UPDATE_IN_PROGRESS,
        lifecycle.DATASET_UPDATING_MESSAGE,
        now(),
    )
    _submit(ctx, "update", [ds.pk], changes=text)
    return {}


@operation("DistributeDatasetEntries")
def distribute_dataset_entries(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    given = [d["Arn"] for d in params["Datasets"]]
    if len(given) != 2 or given[0] == given[1]:
        raise errors.InvalidParameterException(
            "DistributeDatasetEntries takes two datasets: a project's training dataset and "
            "its empty test dataset."
        )
    found = {ds.kind: ds for ds in (_readable(projects, arn, "DistributeDatasetEntries") for arn in given)}  # fmt: skip
    train, test = found.get("TRAIN"), found.get("TEST")
    if train is None or test is None or train.project_pk != test.project_pk:
        raise errors.InvalidParameterException(
            "DistributeDatasetEntries needs the training and the test dataset of one project."
        )
    if projects.entries(test.pk):
        raise errors.InvalidParameterException(
            f"The test dataset {test.arn} must be empty to receive distributed entries."
        )
    projects.begin_dataset_change(
        [train.arn, test.arn],
        lifecycle.DATASET_USABLE,
        lifecycle.UPDATE_IN_PROGRESS,
        lifecycle.DATASET_UPDATING_MESSAGE,
        now(),
        error=errors.ResourceNotReadyException,
    )
    _submit(ctx, "distribute", [train.pk, test.pk])
    return {}


@operation("DeleteDataset")
def delete_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    (ds,) = scope(ctx).begin_dataset_change(
        [params["DatasetArn"]],
        lifecycle.DATASET_SETTLED,
        lifecycle.DELETE_IN_PROGRESS,
        lifecycle.DATASET_DELETING_MESSAGE,
        now(),
    )
    _submit(ctx, "delete", [ds.pk])
    return {}


# -- the work -------------------------------------------------------------------------------------
def read_manifest(state: AppState, account: str, s3: dict[str, Any]) -> tuple[manifest.Manifest, int] | datasets.Failure:  # fmt: skip
    """A Ground Truth manifest in S3, read (and its size), or why it cannot be."""
    try:
        data = s3_for(state).get_object(account, s3.get("Bucket") or "", s3.get("Name") or "", s3.get("Version"))  # fmt: skip
    except errors.AWSError as exc:
        return datasets.Failure("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT", f"({exc.message})")  # fmt: skip
    text = manifest.decode(data)
    if text is None:
        return datasets.Failure("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT", "(the manifest is not UTF-8 text)")  # fmt: skip
    return manifest.parse_manifest(text), len(data)


def _checked(lines: list[Line], size: int = 0) -> datasets.Failure | None:
    return datasets.check_manifest(manifest.Manifest(lines, len(lines)), size)


@job_kind(KIND, limited=False)
def run_dataset_job(job: JobContext) -> dict[str, Any]:
    projects = service(job.state).scope(job.account, job.region)  # type: ignore[arg-type]
    action, pks = job.params["action"], job.params["dataset_pks"]
    if action == "delete":
        projects.delete_dataset(pks[0])
        return {}
    if action == "distribute":
        return _distribute(projects, pks[0], pks[1])
    working = lifecycle.CREATE_IN_PROGRESS if action == "create" else lifecycle.UPDATE_IN_PROGRESS
    failed = lifecycle.CREATE_FAILED if action == "create" else lifecycle.UPDATE_FAILED
    try:
        if action == "create" and "copy_pk" in job.params:
            lines = lines_of(projects, job.params["copy_pk"])
            outcome: datasets.Failure | None = None
        elif action == "create":
            read = read_manifest(job.state, job.account, job.params["manifest"])  # type: ignore[arg-type]
            if isinstance(read, datasets.Failure):
                outcome, lines = read, []
            else:
                parsed, size = read
                outcome = datasets.check_manifest(parsed, size)
                lines = parsed.kept
        else:
            changes = manifest.parse_manifest(job.params["changes"])
            outcome = datasets.check_manifest(changes, len(job.params["changes"]))
            lines = datasets.merge(lines_of(projects, pks[0]), changes.kept)
            outcome = outcome or _checked(lines)
    except Exception:  # a bug, not the user's data: the dataset says so, the log has it
        log.exception("dataset job %s failed", job.job_id)
        projects.finish_dataset(pks[0], working, failed, "An internal error occurred.", lifecycle.SERVICE_ERROR, now())  # fmt: skip
        return {}
    if outcome is not None:
        projects.finish_dataset(pks[0], working, failed, outcome.message, lifecycle.CLIENT_ERROR, now())  # fmt: skip
        return {"failure": outcome.code}
    message = lifecycle.DATASET_CREATED_MESSAGE if action == "create" else lifecycle.DATASET_UPDATED_MESSAGE  # fmt: skip
    projects.finish_dataset(pks[0], working, working.replace("IN_PROGRESS", "COMPLETE"), message, lifecycle.SUCCESS, now(), stored(lines))  # fmt: skip
    return {"entries": len(lines)}


def _distribute(projects: Projects, train_pk: int, test_pk: int) -> dict[str, Any]:
    lines = lines_of(projects, train_pk)
    parts = datasets.split(lines)
    if parts is None:
        failure = datasets.Failure(DISTRIBUTE_FAILED)
        for pk in (train_pk, test_pk):
            projects.finish_dataset(pk, lifecycle.UPDATE_IN_PROGRESS, lifecycle.UPDATE_FAILED, failure.message, lifecycle.CLIENT_ERROR, now())  # fmt: skip
        return {"failure": failure.code}
    train, test = parts
    projects.finish_distribution(
        train_pk,
        test_pk,
        stored(train),
        stored(test),
        lifecycle.UPDATE_IN_PROGRESS,
        now(),
        lifecycle.DATASET_UPDATED_MESSAGE,
    )
    return {"train": len(train), "test": len(test)}
