"""Media analysis (bulk image analysis) jobs: StartMediaAnalysisJob, GetMediaAnalysisJob,
ListMediaAnalysisJobs, on the job engine (emulator/jobs).

A job reads an input manifest from S3 (JSON lines `{"source-ref": "s3://bucket/key"}`,
duplicates kept), runs DetectModerationLabels on each image (the per-frame code of
handlers/analysis/moderation.py, so each line answers what the image operation answers),
and writes to the output location, once the last image is done:

    <S3KeyPrefix>/<JobId>/results.jsonl          one line per image analysed, AWS's format:
        {"source-ref": ..., "detect-moderation-labels": {"ModerationLabels": [...],
         "ModerationModelVersion": "7.0", "ContentTypes": [...]}}
    <S3KeyPrefix>/<JobId>/manifest-summary.json  {"version": "1.0", "statistics":
        {"total-json-lines", "valid-json-lines", "invalid-json-lines"}, "errors":
        [{"line-numer", "source-ref", "code", "message"}]}   ("line-numer": AWS's spelling)

AWS does not document its output key names; these are the emulator's, and Get/List return
them in Results and ManifestSummary. A line that is not JSON, lacks a `source-ref` or names
an image that cannot be read is an error of the summary (Ground Truth's codes, as Custom
Labels reports them); the job goes on with the next line.
"""

from __future__ import annotations

import json
from typing import Any

from rekognition_emulator.emulator.aws.s3 import put_object, s3_for
from rekognition_emulator.emulator.jobs import SUCCEEDED, JobContext, JobFailed, engine, job_kind
from rekognition_emulator.emulator.jobs.records import JobRecord
from rekognition_emulator.emulator.media.images import MAX_S3_BYTES, decode
from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from rekognition_emulator.emulator.server.registry import operation
from rekognition_emulator.emulator.server.serializer import serialize_output
from rekognition_emulator.handlers.analysis import moderation
from rekognition_emulator.handlers.custom_labels import adapter_for
from rekognition_emulator.handlers.custom_labels.manifest import parse_line as parse_manifest_line
from rekognition_emulator.handlers.custom_labels.manifest import problem
from rekognition_emulator.handlers.custom_labels.moderation_adapter import ModerationAdapter

KIND = "StartMediaAnalysisJob"
# AWS publishes no limit; the emulator's: a manifest of at most 10,000 images, 50 MB.
MAX_MANIFEST_LINES = 10_000
MAX_MANIFEST_BYTES = 50 * 1024 * 1024
DEFAULT_PAGE = 100  # ListMediaAnalysisJobs' default (and largest) MaxResults
RESULTS_NAME = "results.jsonl"
SUMMARY_NAME = "manifest-summary.json"


def _manifest_text(state: AppState, account: str, s3_object: dict[str, Any]) -> list[str]:
    """The manifest's JSON lines (blank lines left out); InvalidS3ObjectException when it
    cannot be read, InvalidManifestException when it is empty or too large."""
    bucket, key = s3_object.get("Bucket") or "", s3_object.get("Name") or ""
    where = f"s3://{bucket}/{key}"
    if not bucket or not key:
        raise errors.InvalidS3ObjectException(
            "Unable to get object metadata from S3: Input.S3Object needs Bucket and Name."
        )
    s3 = s3_for(state)
    size = s3.head_object(account, bucket, key, s3_object.get("Version"))
    if size > MAX_MANIFEST_BYTES:
        raise errors.InvalidManifestException(
            f"The manifest file {where} is {size} bytes, over the {MAX_MANIFEST_BYTES} byte limit."
        )
    data = s3.get_object(account, bucket, key, s3_object.get("Version"))
    try:
        lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise errors.InvalidManifestException(
            f"The manifest file {where} is not UTF-8 text (JSON lines)."
        ) from None
    if not lines:
        raise errors.InvalidManifestException(f"The manifest file {where} is empty.")
    if len(lines) > MAX_MANIFEST_LINES:
        raise errors.InvalidManifestException(
            f"The manifest file {where} has {len(lines)} JSON lines, over the limit of "
            f"{MAX_MANIFEST_LINES}."
        )
    return lines


@operation("StartMediaAnalysisJob")
def start_media_analysis_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    config = params["OperationsConfig"].get("DetectModerationLabels")
    if config is None:
        raise errors.InvalidParameterException(
            "Request has invalid parameters: OperationsConfig must hold DetectModerationLabels, "
            "the operation media analysis jobs run."
        )
    if config.get("ProjectVersion"):  # the adapter must exist and be trained: AWS checks at Start
        adapter_for(ctx, config["ProjectVersion"])
    _manifest_text(ctx.state, ctx.account, params["Input"]["S3Object"])
    job = engine(ctx.state).submit(
        KIND,
        account=ctx.account,
        region=ctx.region,
        params=params,
        client_token=params.get("ClientRequestToken"),
    )
    return {"JobId": job.job_id}


def _key(prefix: str, job_id: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{job_id}/{name}" if prefix else f"{job_id}/{name}"


def _line_error(number: int, code: str, source_ref: str | None, detail: str = "") -> dict:
    found = problem(code)
    entry: dict[str, Any] = {"line-numer": number}
    if source_ref is not None:
        entry["source-ref"] = source_ref
    entry["code"] = code
    entry["message"] = found["message"] + (f" ({detail})" if detail else "")
    return entry


def _failure(code: str, message: str, **result: Any) -> JobFailed:
    return JobFailed(message, result={"FailureDetails": {"Code": code, "Message": message}, **result})  # fmt: skip


def analyse_line(
    job: JobContext,
    number: int,
    text: str,
    min_confidence: float,
    adapter: ModerationAdapter | None = None,
) -> dict:
    """One manifest line -> {"line": output line} or {"error": summary error}."""
    line = parse_manifest_line(text, number - 1)
    if line.dropped:
        return {"error": _line_error(number, line.dropped, line.source_ref)}
    ref = line.source_ref or ""
    try:
        data = s3_for(job.state).get_object(job.account, line.bucket or "", line.key or "", None)  # type: ignore[arg-type]
        image = decode(data, max_bytes=MAX_S3_BYTES)
    except errors.AWSError as exc:
        code = (
            "ERROR_INVALID_IMAGE_DIMENSION"
            if isinstance(exc, errors.InvalidParameterException)
            else "ERROR_INVALID_IMAGE"
        )
        return {"error": _line_error(number, code, ref, exc.message)}
    assert job.state is not None
    nudenet = job.state.config.nudenet
    if adapter is not None:
        found = adapter.detect(image.rgb, min_confidence, nudenet=nudenet)
    else:
        found = moderation.detect_moderation_labels(
            image.rgb, min_confidence=min_confidence, nudenet=nudenet
        )
    # The image operation's answer, in its own member order, as the output line holds it.
    shaped = json.loads(serialize_output("DetectModerationLabels", found))
    return {"line": {"source-ref": ref, "detect-moderation-labels": shaped}}


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines).encode()


@job_kind(KIND)
def run_media_analysis(job: JobContext) -> dict[str, Any]:
    params = job.params
    config = params["OperationsConfig"]["DetectModerationLabels"]
    min_confidence = config.get("MinConfidence")
    if min_confidence is None:
        min_confidence = moderation.DEFAULT_MIN_CONFIDENCE
    assert job.state is not None
    try:
        lines = _manifest_text(job.state, job.account, params["Input"]["S3Object"])
    except errors.InvalidManifestException as exc:
        raise _failure("INVALID_MANIFEST", exc.message) from None
    except errors.AWSError as exc:
        raise _failure("INVALID_S3_OBJECT", exc.message) from None
    adapter = None
    if config.get("ProjectVersion"):  # checked at Start; it may have gone since
        try:
            adapter = adapter_for(job, config["ProjectVersion"])
        except errors.ResourceNotReadyException as exc:
            raise _failure("RESOURCE_NOT_READY", exc.message) from None
        except errors.AWSError as exc:
            raise _failure("RESOURCE_NOT_FOUND", exc.message) from None

    output, problems = [], []
    for number, text in enumerate(lines, 1):
        done = analyse_line(job, number, text, float(min_confidence), adapter)
        if "line" in done:
            output.append(done["line"])
        else:
            problems.append(done["error"])
        job.progress(number / len(lines))
    summary = {
        "version": "1.0",
        "statistics": {
            "total-json-lines": len(lines),
            "valid-json-lines": len(output),
            "invalid-json-lines": len(problems),
        },
        "errors": problems,
    }

    bucket, prefix = params["OutputConfig"]["S3Bucket"], params["OutputConfig"].get("S3KeyPrefix", "")  # fmt: skip
    summary_key = _key(prefix, job.job_id, SUMMARY_NAME)
    results_key = _key(prefix, job.job_id, RESULTS_NAME)
    written: dict[str, Any] = {}
    try:
        if output:
            put_object(job.state, job.account, bucket, results_key, _jsonl(output), "application/jsonl")  # fmt: skip
            written["Results"] = {
                "S3Object": {"Bucket": bucket, "Name": results_key},
                "ModelVersions": {"Moderation": moderation.MODERATION_MODEL_VERSION},
            }
        body = json.dumps(summary, indent=2).encode()
        put_object(job.state, job.account, bucket, summary_key, body, "application/json")
        written["ManifestSummary"] = {"S3Object": {"Bucket": bucket, "Name": summary_key}}
    except errors.AWSError as exc:
        raise _failure(
            "INVALID_OUTPUT_CONFIG",
            f"The job cannot write to the output location s3://{bucket}/{prefix}: {exc.message}",
            **written,
        ) from None
    if not output:
        raise _failure(
            "INVALID_MANIFEST",
            f"No line of the manifest names an image that could be analysed "
            f"({len(problems)} invalid JSON lines; the manifest summary lists them).",
            **written,
        )
    return written


def _status(job: JobRecord) -> str:
    """AWS's status: QUEUED until a worker takes the job; a job stopped by the emulator
    (there is no Stop operation; an admin reset) reads FAILED."""
    if job.queued:
        return "QUEUED"
    if not job.finished:
        return "IN_PROGRESS"
    return "SUCCEEDED" if job.status == SUCCEEDED else "FAILED"


def description(job: JobRecord) -> dict[str, Any]:
    """A job as GetMediaAnalysisJob and ListMediaAnalysisJobs describe it."""
    params = job.params
    out: dict[str, Any] = {
        "JobId": job.job_id,
        "OperationsConfig": params["OperationsConfig"],
        "Status": _status(job),
        "CreationTimestamp": job.submitted_at,
        "Input": params["Input"],
        "OutputConfig": params["OutputConfig"],
    }
    for member in ("JobName", "KmsKeyId"):
        if params.get(member) is not None:
            out[member] = params[member]
    result = job.result or {}
    if job.finished:
        out["CompletionTimestamp"] = job.finished_at
        if job.status != SUCCEEDED:
            out["FailureDetails"] = result.get("FailureDetails") or {
                "Code": "INTERNAL_ERROR",
                "Message": job.status_message or "The job failed.",
            }
    for member in ("Results", "ManifestSummary"):
        if member in result:
            out[member] = result[member]
    return out


@operation("GetMediaAnalysisJob")
def get_media_analysis_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    jobs = engine(ctx.state)
    job = jobs.get(ctx.account, ctx.region, params["JobId"])
    if job.kind != KIND:
        raise errors.ResourceNotFoundException(f"The job id: {params['JobId']} does not exist")
    return description(job)


@operation("ListMediaAnalysisJobs")
def list_media_analysis_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    jobs = engine(ctx.state)
    size = params.get("MaxResults") or DEFAULT_PAGE
    purpose = f"ListMediaAnalysisJobs|{ctx.account}|{ctx.region}"
    before = jobs.tokens.read(purpose, params["NextToken"]) if params.get("NextToken") else None
    found = jobs.list(account=ctx.account, region=ctx.region, kind=KIND, limit=size + 1, before=before)  # fmt: skip
    out: dict[str, Any] = {"MediaAnalysisJobs": [description(j) for j in found[:size]]}
    if len(found) > size:
        out["NextToken"] = jobs.tokens.issue(purpose, found[size - 1].pk)
    return out
