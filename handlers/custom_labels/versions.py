"""Model versions: CreateProjectVersion (training), DescribeProjectVersions,
StartProjectVersion, StopProjectVersion, DeleteProjectVersion, CopyProjectVersion.

Training, starting and copying run on the job engine (kinds CustomLabelsTraining,
CustomLabelsStart, CustomLabelsCopy). The call waits for its job up to
Config.custom_labels_wait seconds, so a small model is TRAINING_COMPLETED (or RUNNING) at
boto3's waiters' first poll, which they make at once, instead of 120 s (30 s) later; a
larger one answers TRAINING_IN_PROGRESS and finishes on the worker.

A job ends its resource in one transaction, after everything the new status promises is on
disk: the model file (written atomically) and the output files in S3. A kill -9 before that
leaves the version in its working status and its job queued again at the next start, which
runs it again from the beginning (a training is retrained); a job that finds its version
already settled does nothing.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from rekognition_emulator.emulator.aws import arns
from rekognition_emulator.emulator.aws.s3 import put_object, s3_for
from rekognition_emulator.emulator.jobs import JobContext, engine, job_kind
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.store import projects as records
from rekognition_emulator.emulator.store.projects import Project, Projects, Version
from rekognition_emulator.handlers.custom_labels import (
    adapters,
    datasets,
    evaluation,
    lifecycle,
    moderation_adapter,
    policy,
    training,
)
from rekognition_emulator.handlers.custom_labels.dataset_ops import lines_of, read_manifest
from rekognition_emulator.handlers.custom_labels.manifest import Line
from rekognition_emulator.handlers.custom_labels.projects import (
    CONTENT_MODERATION,
    CUSTOM_LABELS,
    scope,
)
from rekognition_emulator.handlers.custom_labels.service import (
    CustomLabels,
    millis,
    now,
    service,
)
from rekognition_emulator.models.custom import model as model_file
from rekognition_emulator.models.custom.model import ModelFileError, TrainedModel

log = logging.getLogger("rekognition_emulator.custom_labels")
TRAIN_KIND, START_KIND, COPY_KIND = "CustomLabelsTraining", "CustomLabelsStart", "CustomLabelsCopy"
INTERNAL = "The operation failed with an internal error; the emulator's log has the details."


def _submit(ctx: RequestContext, kind: str, version_pk: int, **extra: Any) -> None:
    engine(ctx.state).submit(
        kind,
        account=ctx.account,
        region=ctx.region,
        params={"version_pk": version_pk, **extra},
        wait_seconds=ctx.config.custom_labels_wait,
    )


def _s3_location(bucket: str, key: str) -> dict[str, Any]:
    return {"S3Object": {"Bucket": bucket, "Name": key}}


def _assets(bucket: str, key: str | None) -> dict[str, Any]:
    return {"Assets": [{"GroundTruthManifest": _s3_location(bucket, key)}]} if key else {}


# -- CreateProjectVersion ---------------------------------------------------------------------------
def _training_sources(projects: Projects, project: Project, params: dict[str, Any]) -> None:
    """The checks of where the training data comes from: manifests (a project without
    datasets) or the project's datasets."""
    given = [name for name in ("TrainingData", "TestingData") if params.get(name) is not None]
    existing = projects.datasets(project.pk)
    if given:
        if existing:
            raise errors.InvalidParameterException(
                f"The project {project.name} has datasets: train from them, without "
                "TrainingData and TestingData."
            )
        if len(given) == 1:
            missing = ({"TrainingData", "TestingData"} - set(given)).pop()
            raise errors.InvalidParameterException(f"{given[0]} needs {missing} as well.")
        if not _manifests(params["TrainingData"]):
            raise errors.InvalidParameterException(
                "TrainingData needs at least one asset with a GroundTruthManifest S3Object."
            )
        testing = params["TestingData"]
        auto, assets = bool(testing.get("AutoCreate")), _manifests(testing)
        if auto == bool(assets):
            raise errors.InvalidParameterException(
                "TestingData takes either Assets (a test manifest) or AutoCreate true."
            )
        return
    kinds = {ds.kind: ds for ds in existing}
    if "TRAIN" not in kinds:
        raise errors.InvalidParameterException(
            f"The project {project.name} has no training dataset: create one, or give "
            "TrainingData and TestingData."
        )
    for ds in kinds.values():
        if ds.status in lifecycle.DATASET_IN_PROGRESS:
            raise errors.ResourceInUseException(
                f"The dataset {ds.arn} is not ready for training: its status is {ds.status}."
            )
        if ds.status not in lifecycle.DATASET_USABLE:
            raise errors.InvalidParameterException(
                f"The dataset {ds.arn} cannot be used for training: its status is {ds.status}."
            )


def _manifests(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a["GroundTruthManifest"]["S3Object"]
        for a in data.get("Assets") or []
        if (a.get("GroundTruthManifest") or {}).get("S3Object")
    ]


def _new_version(ctx: RequestContext, projects: Projects, project: Project, params: dict[str, Any], status: str, request: dict[str, Any]) -> Version:  # fmt: skip
    """A new version (VersionName, Tags of the call) in `status`, its ARN stamped now."""
    created = now()
    name = params["VersionName"]
    arn = arns.project_version(ctx.region, ctx.account, project.name, name, millis(created))
    return projects.create_version(
        project.arn,
        name,
        arn,
        status,
        lifecycle.VERSION_MESSAGES[status],
        created,
        request,
        params.get("Tags") or {},
    )


@operation("CreateProjectVersion")
def create_project_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    project = projects.project(params["ProjectArn"])
    if params.get("FeatureConfig", {}).get("ContentModeration") and project.feature != CONTENT_MODERATION:  # fmt: skip
        raise errors.InvalidParameterException(
            f"FeatureConfig.ContentModeration does not match the project's feature ({project.feature})."
        )
    if not (params.get("OutputConfig") or {}).get("S3Bucket"):
        raise errors.InvalidParameterException("OutputConfig needs an S3Bucket.")
    _training_sources(projects, project, params)
    request = {
        k: params[k]
        for k in (
            "OutputConfig",
            "TrainingData",
            "TestingData",
            "KmsKeyId",
            "VersionDescription",
            "FeatureConfig",
        )  # fmt: skip
        if params.get(k) is not None
    }
    version = _new_version(ctx, projects, project, params, lifecycle.TRAINING_IN_PROGRESS, request)
    _submit(ctx, TRAIN_KIND, version.pk)
    return {"ProjectVersionArn": version.arn}


# -- training ------------------------------------------------------------------------------------
class _Unusable(Exception):
    """A manifest that cannot be read: the training fails with this message."""


def _manifest_lines(job: JobContext, sources: list[dict[str, Any]]) -> list[Line]:
    lines: list[Line] = []
    for src in sources:
        read = read_manifest(job.state, job.account, src)  # type: ignore[arg-type]
        if isinstance(read, datasets.Failure):
            raise _Unusable(f"s3://{src.get('Bucket')}/{src.get('Name')}: {read.message}")
        parsed, _ = read
        for line in parsed.kept:
            line.index = len(lines)
            lines.append(line)
    return lines


def _inputs(job: JobContext, projects: Projects, project: Project, version: Version) -> tuple[list[Line], list[Line] | None]:  # fmt: skip
    request = version.request
    if "TrainingData" in request:
        train = _manifest_lines(job, _manifests(request["TrainingData"]))
        testing = request["TestingData"]
        test = None if testing.get("AutoCreate") else _manifest_lines(job, _manifests(testing))
        return train, test
    by_kind = {ds.kind: ds for ds in projects.datasets(project.pk)}
    train = lines_of(projects, by_kind["TRAIN"].pk) if "TRAIN" in by_kind else []
    # (unconfirmed: a project with a training dataset and no test dataset is split 80/20,
    # as TestingData.AutoCreate does.)
    test = lines_of(projects, by_kind["TEST"].pk) if "TEST" in by_kind else None
    return train, test


def _outcome(job: JobContext, svc: CustomLabels, project: Project, version: Version, train: list[Line], test: list[Line] | None) -> training.Outcome:  # fmt: skip
    target = evaluation.Target(
        project.name, version.name, version.arn, version.request["OutputConfig"].get("S3KeyPrefix")
    )
    s3 = s3_for(svc.state)

    def read(bucket: str, key: str) -> bytes:
        return s3.get_object(job.account, bucket, key, None)

    if project.feature == CONTENT_MODERATION:
        unknown = sorted({n for line in train + (test or []) for n in line.image_labels} - set(moderation_adapter.base_labels()))  # fmt: skip
        if unknown:
            raise _Unusable(
                "The manifest names labels that are not moderation labels: "
                + ", ".join(unknown[:5])
            )
        return adapters.train_adapter(
            svc.extractor, moderation_adapter.base_confidences, moderation_adapter.base_labels(), train, test, read, target
        )  # fmt: skip
    return training.train(svc.extractor, train, test, read, target)


def _training_result(version: Version, outcome: training.Outcome) -> dict[str, Any]:
    bucket = version.request["OutputConfig"]["S3Bucket"]
    keys = outcome.keys
    request = version.request
    auto = outcome.auto_split
    result: dict[str, Any] = {
        "TrainingDataResult": {
            "Input": request.get("TrainingData", {}),
            "Output": _assets(bucket, keys.get(evaluation.TRAINING_GT)),
            "Validation": _assets(bucket, keys.get(evaluation.TRAINING_VALIDATION)),
        },
        "TestingDataResult": {
            "Input": request.get("TestingData", {"AutoCreate": auto}),
            "Output": {**_assets(bucket, keys.get(evaluation.TESTING_GT)), "AutoCreate": auto},
            "Validation": _assets(bucket, keys.get(evaluation.TESTING_VALIDATION)),
        },
    }
    if evaluation.MANIFEST_SUMMARY in keys:
        result["ManifestSummary"] = _s3_location(bucket, keys[evaluation.MANIFEST_SUMMARY])
    if outcome.model is not None:
        result["EvaluationResult"] = {
            "F1Score": round(float(outcome.f1 or 0.0), 6),
            "Summary": _s3_location(bucket, keys[evaluation.SUMMARY]),
        }
        result["BillableTrainingTimeInSeconds"] = max(1, math.ceil(outcome.seconds))
        result["TrainingEndTimestamp"] = time.time()
    return result


def _write_files(state: AppState, account: str, bucket: str, files: dict[str, bytes]) -> str | None:  # fmt: skip
    """Put the output files; the training's failure message if the bucket cannot take them."""
    for key, body in files.items():
        try:
            put_object(state, account, bucket, key, body, "application/json")
        except errors.AWSError as exc:
            return f"{training.TERMINAL['ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET']} ({exc.message})"
    return None


def _job_version(job: JobContext, working: str) -> tuple[CustomLabels, Projects, Version] | None:  # fmt: skip
    """The version a job acts on, if it is still in the job's `working` status (else the
    job has nothing to do: an earlier run of it settled the version, or it was deleted)."""
    svc = service(job.state)  # type: ignore[arg-type]
    projects = svc.scope(job.account, job.region)
    version = projects.version_by_pk(job.params["version_pk"])
    if version is None or version.status != working:
        return None
    return svc, projects, version


def _settle(projects: Projects, version: Version, status: str, message: str, **fields: Any) -> dict[str, Any]:  # fmt: skip
    """End the job's version in `status` (if it is still in its working status)."""
    projects.update_version(version.pk, {version.status}, status=status, status_message=message, **fields)  # fmt: skip
    return {"status": status}


@job_kind(TRAIN_KIND, limited=False)
def run_training(job: JobContext) -> dict[str, Any]:
    found = _job_version(job, lifecycle.TRAINING_IN_PROGRESS)
    if found is None:
        return {}
    svc, projects, version = found
    try:
        project = projects.project_by_pk(version.project_pk)
        try:
            train, test = _inputs(job, projects, project, version)
            outcome = _outcome(job, svc, project, version, train, test)
        except _Unusable as exc:
            return _settle(projects, version, lifecycle.TRAINING_FAILED, str(exc))
        bucket = version.request["OutputConfig"]["S3Bucket"]
        failed = _write_files(svc.state, job.account, bucket, outcome.files)
        result = _training_result(version, outcome)
        if failed or outcome.model is None:
            return _settle(projects, version, lifecycle.TRAINING_FAILED, failed or outcome.status_message, result=result)  # fmt: skip
        path = svc.save_model(version.pk, outcome.model)
        return _settle(projects, version, lifecycle.TRAINING_COMPLETED, outcome.status_message, result=result, model_file=path)  # fmt: skip
    except Exception:
        log.exception("training of %s failed", version.arn)
        return _settle(projects, version, lifecycle.TRAINING_FAILED, INTERNAL)


# -- DescribeProjectVersions -----------------------------------------------------------------------------
def describe(version: Version, project: Project) -> dict[str, Any]:
    request, result = version.request, version.result or {}
    out: dict[str, Any] = {
        "ProjectVersionArn": version.arn,
        "CreationTimestamp": version.created_at,
        "MinInferenceUnits": version.min_units,
        "Status": version.status,
        "StatusMessage": version.status_message,
        "BillableTrainingTimeInSeconds": result.get("BillableTrainingTimeInSeconds"),
        "TrainingEndTimestamp": result.get("TrainingEndTimestamp"),
        "OutputConfig": request.get("OutputConfig"),
        "TrainingDataResult": result.get("TrainingDataResult"),
        "TestingDataResult": result.get("TestingDataResult"),
        "EvaluationResult": result.get("EvaluationResult"),
        "ManifestSummary": result.get("ManifestSummary"),
        "KmsKeyId": request.get("KmsKeyId"),
        "MaxInferenceUnits": version.max_units,
        "SourceProjectVersionArn": request.get("SourceProjectVersionArn"),
        "VersionDescription": request.get("VersionDescription"),
        "Feature": project.feature,
        "FeatureConfig": request.get("FeatureConfig"),
    }
    if project.feature == CONTENT_MODERATION:
        from rekognition_emulator.handlers.analysis.moderation import MODERATION_MODEL_VERSION

        out["BaseModelVersion"] = MODERATION_MODEL_VERSION
    return {k: v for k, v in out.items() if v is not None}


@operation("DescribeProjectVersions")
def describe_project_versions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    project = projects.project(params["ProjectArn"])
    names = params.get("VersionNames")
    chosen = [v for v in projects.versions(project.pk) if not names or v.name in names]
    purpose = ["DescribeProjectVersions", ctx.account, ctx.region, project.arn, sorted(names or [])]
    return service(ctx.state).page(
        "ProjectVersionDescriptions", purpose, chosen, params, 100, lambda v: describe(v, project)
    )


# -- Start / Stop / Delete -----------------------------------------------------------------------------
def _version_of(projects: Projects, arn: str) -> tuple[Version, Project]:
    version = projects.version(arn)
    return version, projects.project_by_pk(version.project_pk)


def _changed(projects: Projects, operation_name: str, arn: str, outcome: Version | None) -> Version:
    """The version a compare-and-set changed; if it did not, the error its status earns."""
    if outcome is not None:
        return outcome
    version = projects.version(arn)
    lifecycle.require(operation_name, version.status, arn)
    raise errors.ConflictException(
        f"The model version {arn} changed during the request; try again."
    )


@operation("StartProjectVersion")
def start_project_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    arn = params["ProjectVersionArn"]
    version, project = _version_of(projects, arn)
    if project.feature != CUSTOM_LABELS:
        raise errors.InvalidParameterException(
            "An adapter is not started: DetectModerationLabels uses it as its ProjectVersion."
        )
    low, high = params["MinInferenceUnits"], params.get("MaxInferenceUnits")
    if high is not None and high < low:
        raise errors.InvalidParameterException(
            f"MaxInferenceUnits ({high}) is less than MinInferenceUnits ({low})."
        )
    lifecycle.require("StartProjectVersion", version.status, arn)
    legal = lifecycle.legal_from("StartProjectVersion")
    started = projects.update_version(
        version.pk,
        legal,
        status=lifecycle.STARTING,
        status_message=lifecycle.VERSION_MESSAGES[lifecycle.STARTING],
        min_units=low,
        max_units=high,
    )
    _changed(projects, "StartProjectVersion", arn, started)
    _submit(ctx, START_KIND, version.pk)
    return {"Status": projects.version(arn).status}


@job_kind(START_KIND, limited=False)
def run_start(job: JobContext) -> dict[str, Any]:
    found = _job_version(job, lifecycle.STARTING)
    if found is None:
        return {}
    svc, projects, version = found
    try:
        svc.model(version)
        svc.extractor.pooled([])  # the feature model's session, before the first image
        status, message = lifecycle.RUNNING, lifecycle.VERSION_MESSAGES[lifecycle.RUNNING]
    except ModelFileError as exc:
        log.error("model version %s cannot start: %s", version.arn, exc)
        status, message = lifecycle.FAILED, f"The model failed to start: {exc}"
    return _settle(projects, version, status, message)


@operation("StopProjectVersion")
def stop_project_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    arn = params["ProjectVersionArn"]
    version, project = _version_of(projects, arn)
    if project.feature != CUSTOM_LABELS:
        raise errors.InvalidParameterException("An adapter is never running: there is nothing to stop.")  # fmt: skip
    lifecycle.require("StopProjectVersion", version.status, arn)
    # Unloading is immediate: the model is STOPPED by the time the call answers.
    stopped = projects.update_version(
        version.pk,
        lifecycle.legal_from("StopProjectVersion"),
        status=lifecycle.STOPPED,
        status_message=lifecycle.VERSION_MESSAGES[lifecycle.STOPPED],
    )
    stopped = _changed(projects, "StopProjectVersion", arn, stopped)
    service(ctx.state).unload(version.pk)
    return {"Status": stopped.status}


@operation("DeleteProjectVersion")
def delete_project_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    arn = params["ProjectVersionArn"]
    version = projects.version(arn)
    lifecycle.require("DeleteProjectVersion", version.status, arn)
    deleted = projects.delete_version(version.pk, lifecycle.legal_from("DeleteProjectVersion"))
    deleted = _changed(projects, "DeleteProjectVersion", arn, deleted)
    service(ctx.state).remove_model(deleted)
    # Deleted at once (its output files in S3 stay, as AWS leaves them): the status it
    # had while being deleted.
    return {"Status": lifecycle.DELETING}


# -- CopyProjectVersion ------------------------------------------------------------------------------
def _source_project(ctx: RequestContext, arn: str) -> tuple[Project, Projects]:
    parsed = arns.parse(arn)
    if parsed.region != ctx.region:
        raise errors.InvalidParameterException(
            f"The source project {arn} is in {parsed.region}: a model is copied within one region."
        )
    svc = service(ctx.state)
    if parsed.account == ctx.account:
        projects = svc.scope(ctx.account, ctx.region)
        return projects.project(arn), projects
    project = records.project_anywhere(svc.db, arn)
    if project is None or project.account != parsed.account or project.region != ctx.region:
        raise errors.ResourceNotFoundException(f"The project {arn} does not exist.")
    return project, svc.scope(project.account, project.region)


@operation("CopyProjectVersion")
def copy_project_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    projects = scope(ctx)
    destination = projects.project(params["DestinationProjectArn"])
    source, source_scope = _source_project(ctx, params["SourceProjectArn"])
    src_arn = params["SourceProjectVersionArn"]
    original = source_scope.version(src_arn)
    if original.project_pk != source.pk:
        raise errors.InvalidParameterException(
            f"The model version {src_arn} is not a version of {source.arn}."
        )
    if CUSTOM_LABELS not in (source.feature, destination.feature) or source.feature != destination.feature:  # fmt: skip
        raise errors.InvalidParameterException("Only Custom Labels models can be copied.")
    if source.account != ctx.account:
        documents = [p.document for p in source_scope.policies(source.pk)]
        if not policy.allows_copy(documents, ctx.account, src_arn):
            raise errors.AccessDeniedException(
                f"No project policy of {source.arn} allows account {ctx.account} to copy {src_arn}."
            )
    lifecycle.require("CopyProjectVersion", original.status, src_arn)
    if not (params.get("OutputConfig") or {}).get("S3Bucket"):
        raise errors.InvalidParameterException("OutputConfig needs an S3Bucket.")
    request = {
        "OutputConfig": params["OutputConfig"],
        "SourceProjectVersionArn": src_arn,
        **({"KmsKeyId": params["KmsKeyId"]} if params.get("KmsKeyId") else {}),
        **({k: original.request[k] for k in ("VersionDescription",) if k in original.request}),
    }
    version = _new_version(ctx, projects, destination, params, lifecycle.COPYING_IN_PROGRESS, request)  # fmt: skip
    _submit(ctx, COPY_KIND, version.pk, source_pk=original.pk, source_account=source.account)
    return {"ProjectVersionArn": version.arn}


def _copied_files(svc: CustomLabels, job: JobContext, original: Version, source_account: str, project: Project, version: Version) -> dict[str, Any]:  # fmt: skip
    """Copy the source's output files to the copy's OutputConfig under the copy's names;
    the copy's describe pieces pointing at them."""
    s3 = s3_for(svc.state)
    result = json.loads(json.dumps(original.result or {}))
    bucket = version.request["OutputConfig"]["S3Bucket"]
    target = evaluation.Target(project.name, version.name, version.arn, version.request["OutputConfig"].get("S3KeyPrefix"))  # fmt: skip

    def move(location: dict[str, Any]) -> None:
        obj = location["S3Object"]
        kind = obj["Name"].rsplit("/", 1)[-1].split("-", 1)[0]
        body = s3.get_object(source_account, obj["Bucket"], obj["Name"], None)
        if kind == evaluation.SUMMARY:
            summary = json.loads(body)
            summary.setdefault("EvaluationDetails", {})["ProjectVersionArn"] = version.arn
            body = training.write_json(summary)
        key = target.key(kind)
        put_object(svc.state, job.account, bucket, key, body, "application/json")
        location["S3Object"] = {"Bucket": bucket, "Name": key}

    for name in ("EvaluationResult", "ManifestSummary"):
        if name in result:
            move(result[name]["Summary"] if name == "EvaluationResult" else result[name])
    for name in ("TrainingDataResult", "TestingDataResult"):
        for part in ("Output", "Validation"):
            for asset in (result.get(name, {}).get(part) or {}).get("Assets", []):
                move(asset["GroundTruthManifest"])
    return result


@job_kind(COPY_KIND, limited=False)
def run_copy(job: JobContext) -> dict[str, Any]:
    found = _job_version(job, lifecycle.COPYING_IN_PROGRESS)
    if found is None:
        return {}
    svc, projects, version = found
    original = projects.version_by_pk(job.params["source_pk"])
    try:
        if original is None or original.status not in lifecycle.TRAINED:
            raise ModelFileError("the source model version no longer exists or is not trained")
        model = _load(svc, original)
        project = projects.project_by_pk(version.project_pk)
        result = _copied_files(svc, job, original, job.params["source_account"], project, version)
        path = svc.save_model(version.pk, model)
    except (ModelFileError, errors.AWSError) as exc:
        return _settle(projects, version, lifecycle.COPYING_FAILED, f"The model could not be copied: {exc}")  # fmt: skip
    except Exception:
        log.exception("copy to %s failed", version.arn)
        return _settle(projects, version, lifecycle.COPYING_FAILED, INTERNAL)
    message = lifecycle.VERSION_MESSAGES[lifecycle.COPYING_COMPLETED]
    return _settle(projects, version, lifecycle.COPYING_COMPLETED, message, result=result, model_file=path)  # fmt: skip


def _load(svc: CustomLabels, version: Version) -> TrainedModel:
    # Read without keeping it loaded: the source may never be started here.
    if not version.model_file:
        raise ModelFileError("the source model version has no model file")
    return model_file.load(Path(svc.state.config.data_dir) / version.model_file)
