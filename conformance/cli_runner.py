"""A representative set of operations through the AWS CLI (`aws rekognition ... --endpoint-url`).

The CLI is a client of its own: it signs with four headers, reads images through its
`--image-bytes fileb://` customisations and prints what botocore parsed. Each command runs
as a subprocess of the venv's `aws`; its JSON output is checked against the output shape
(in `parsed` mode: the CLI may print timestamps as text), and an error case must exit
non-zero naming the exception.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rekognition_emulator.conformance import custom_labels
from rekognition_emulator.conformance.harness import Check
from rekognition_emulator.conformance.scenarios import (
    VIDEO_ANALYSES,
    Context,
    video_start_params,
)
from rekognition_emulator.conformance.shapes import check_output


def aws_executable() -> str | None:
    """The `aws` beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "aws"
    if beside.is_file():
        return str(beside)
    return shutil.which("aws")


def _env(ctx: Context, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ctx.h.access_key,
        AWS_SECRET_ACCESS_KEY=ctx.h.secret_key,
        AWS_DEFAULT_REGION=ctx.h.region,
        # Keep the user's own profiles and settings out of the run.
        AWS_CONFIG_FILE=str(Path(home) / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(Path(home) / "credentials"),
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )
    return env


def run(ctx: Context, files: dict[str, Path]) -> str:
    """Run the CLI cases for the implemented operations; returns a note for the report."""
    aws = aws_executable()
    if aws is None:
        return "AWS CLI: skipped, no `aws` executable (pip install awscli)"
    h = ctx.h
    cid = ctx.name("cli")
    missing = ctx.name("cli-missing")
    created = False
    ran = 0

    with tempfile.TemporaryDirectory(prefix="aws-cli-home-") as home:
        env = _env(ctx, home)

        def aws_call(
            operation: str,
            args: list[str],
            name: str,
            *,
            error: str | None = None,
            expect: Any = None,
        ) -> dict[str, Any] | None:
            nonlocal ran
            ran += 1
            command = [aws, "rekognition", *args, "--endpoint-url", h.endpoint, "--output", "json"]
            shown = " ".join(["aws", "rekognition", *args])

            def failed(kind: str, detail: str) -> None:
                h.record(Check(operation, "cli", kind, name, False, detail))

            try:
                proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
            except subprocess.TimeoutExpired:
                return failed("error" if error else "call", f"`{shown}` timed out")
            if error:
                ok = proc.returncode != 0 and f"({error})" in proc.stderr
                detail = (
                    ""
                    if ok
                    else f"`{shown}` exit {proc.returncode}, stderr {proc.stderr.strip()[:400]!r}, expected ({error})"
                )
                h.record(Check(operation, "cli", "error", f"{name} -> {error}", ok, detail))
                return None
            if proc.returncode != 0:
                return failed(
                    "call", f"`{shown}` exit {proc.returncode}: {proc.stderr.strip()[:600]}"
                )
            try:
                out = json.loads(proc.stdout or "{}")
            except ValueError as exc:
                return failed("call", f"`{shown}` printed no JSON ({exc}): {proc.stdout[:300]!r}")
            out.pop("ResponseMetadata", None)
            problems = check_output(out, h.model.operation_model(operation).output_shape, "parsed")
            if not problems and expect is not None:
                problems = expect(out)
            detail = f"`{shown}` -> " + "; ".join(problems[:6]) if problems else ""
            h.record(
                Check(operation, "cli", "call", name, not problems, detail, shape_checked=True)
            )
            return None if problems else out

        face, other = str(files["face"]), str(files["face_other"])
        if h.has("CreateCollection"):
            created = (
                aws_call(
                    "CreateCollection",
                    ["create-collection", "--collection-id", cid],
                    "create-collection",
                )
                is not None
            )
        if h.has("ListCollections"):
            aws_call(
                "ListCollections",
                ["list-collections"],
                "list-collections",
                expect=lambda o: (
                    []
                    if not created or cid in o.get("CollectionIds", [])
                    else [f"{cid} not listed"]
                ),
            )
        if created and h.has("DescribeCollection"):
            aws_call(
                "DescribeCollection",
                ["describe-collection", "--collection-id", cid],
                "describe-collection",
            )
        if h.has("DescribeCollection"):
            aws_call(
                "DescribeCollection",
                ["describe-collection", "--collection-id", missing],
                "describe-collection of a missing collection",
                error="ResourceNotFoundException",
            )
        if h.has("DetectFaces"):
            aws_call(
                "DetectFaces",
                ["detect-faces", "--image-bytes", f"fileb://{face}", "--attributes", "ALL"],
                "detect-faces --image-bytes fileb:// --attributes ALL",
                expect=lambda o: (
                    [] if len(o.get("FaceDetails", [])) == 1 else ["expected one face"]
                ),
            )
            aws_call(
                "DetectFaces",
                ["detect-faces", "--image-bytes", f"fileb://{files['tiny']}"],
                "detect-faces on a 64x64 photo",
                error="InvalidParameterException",
            )
        if h.has("CompareFaces"):
            aws_call(
                "CompareFaces",
                [
                    "compare-faces",
                    "--source-image-bytes",
                    f"fileb://{face}",
                    "--target-image-bytes",
                    f"fileb://{other}",
                ],
                "compare-faces --source-image-bytes --target-image-bytes",
                expect=lambda o: (
                    [] if o.get("FaceMatches") else ["no FaceMatches for the same person"]
                ),
            )
        if created and h.has("IndexFaces"):
            aws_call(
                "IndexFaces",
                [
                    "index-faces",
                    "--collection-id",
                    cid,
                    "--image-bytes",
                    f"fileb://{face}",
                    "--external-image-id",
                    "astronaut.jpg",
                ],
                "index-faces --image-bytes fileb://",
                expect=lambda o: (
                    [] if len(o.get("FaceRecords", [])) == 1 else ["expected one FaceRecord"]
                ),
            )
        if created and h.has("SearchFacesByImage"):
            aws_call(
                "SearchFacesByImage",
                [
                    "search-faces-by-image",
                    "--collection-id",
                    cid,
                    "--image-bytes",
                    f"fileb://{face}",
                ],
                "search-faces-by-image --image-bytes fileb://",
            )
        if h.has("DetectLabels"):
            aws_call(
                "DetectLabels",
                [
                    "detect-labels",
                    "--image-bytes",
                    f"fileb://{files['labels']}",
                    "--max-labels",
                    "5",
                ],
                "detect-labels --image-bytes fileb:// --max-labels 5",
            )
        if h.has("DetectText"):
            aws_call(
                "DetectText",
                ["detect-text", "--image-bytes", f"fileb://{files['text']}"],
                "detect-text --image-bytes fileb://",
            )
        if h.has("DetectModerationLabels"):
            aws_call(
                "DetectModerationLabels",
                [
                    "detect-moderation-labels",
                    "--image-bytes",
                    f"fileb://{files['labels']}",
                    "--min-confidence",
                    "60",
                ],
                "detect-moderation-labels --image-bytes fileb:// --min-confidence 60",
                expect=lambda o: (
                    []
                    if o.get("ModerationModelVersion") == "7.0"
                    else ["no ModerationModelVersion"]
                ),
            )
        if h.has("DetectProtectiveEquipment"):
            aws_call(
                "DetectProtectiveEquipment",
                [
                    "detect-protective-equipment",
                    "--image-bytes",
                    f"fileb://{face}",
                    "--summarization-attributes",
                    "MinConfidence=80,RequiredEquipmentTypes=FACE_COVER,HEAD_COVER",
                ],
                "detect-protective-equipment --image-bytes fileb:// --summarization-attributes",
                expect=lambda o: (
                    []
                    if len(o.get("Persons", [])) == 1 and "Summary" in o
                    else ["expected one person and a Summary"]
                ),
            )
        for name, job_id in ctx.video_jobs.items():
            start = video_start_params(ctx, name)
            aws_call(
                f"Start{name}",
                [f"start-{_kebab(name)}", *_cli_args(start)],
                f"start-{_kebab(name)} with the boto3 call's ClientRequestToken -> its job",
                expect=lambda o, job_id=job_id: [] if o.get("JobId") == job_id else ["another job"],
            )
            items = VIDEO_ANALYSES[name][0]
            aws_call(
                f"Get{name}",
                [f"get-{_kebab(name)}", "--job-id", job_id, "--max-results", "5"],
                f"get-{_kebab(name)} --max-results 5",
                expect=lambda o, items=items: (
                    []
                    if o.get("JobStatus") == "SUCCEEDED" and isinstance(o.get(items), list)
                    else [f"JobStatus {o.get('JobStatus')}, {items} {type(o.get(items)).__name__}"]
                ),
            )
        if ctx.video_jobs:
            first = next(iter(ctx.video_jobs))
            aws_call(
                f"Get{first}",
                [f"get-{_kebab(first)}", "--job-id", "0" * 64],
                "a JobId that does not exist",
                error="ResourceNotFoundException",
            )
        if h.has(*custom_labels.OPERATIONS) and ctx.s3_ready:
            custom_labels_commands(ctx, aws_call, home)
        _streams(ctx, aws_call)
        _liveness(ctx, aws_call)
        if h.has("RecognizeCelebrities"):
            name = ctx.celebrity[1] if ctx.celebrity else None
            aws_call(
                "RecognizeCelebrities",
                ["recognize-celebrities", "--image-bytes", f"fileb://{other}"],
                "recognize-celebrities --image-bytes fileb://",
                expect=lambda o: (
                    []
                    if name is None
                    or [c.get("Name") for c in o.get("CelebrityFaces", [])] == [name]
                    else [f"expected {name} alone"]
                ),
            )
        if h.has("GetCelebrityInfo"):
            if ctx.celebrity is not None:
                aws_call(
                    "GetCelebrityInfo",
                    ["get-celebrity-info", "--id", ctx.celebrity[0]],
                    "get-celebrity-info --id",
                    expect=lambda o: [] if o.get("Name") == ctx.celebrity[1] else ["another Name"],
                )
            aws_call(
                "GetCelebrityInfo",
                ["get-celebrity-info", "--id", "0conformance0"],
                "get-celebrity-info of an unknown id",
                error="ResourceNotFoundException",
            )
        if h.has("StartMediaAnalysisJob") and ctx.s3_ready:
            aws_call(
                "StartMediaAnalysisJob",
                [
                    "start-media-analysis-job",
                    "--operations-config",
                    "DetectModerationLabels={MinConfidence=60}",
                    "--input",
                    f"S3Object={{Bucket={ctx.bucket},Name=manifest.jsonl}}",
                    "--output-config",
                    f"S3Bucket={ctx.bucket},S3KeyPrefix=cli",
                ],
                "start-media-analysis-job --operations-config --input --output-config",
                expect=lambda o: [] if o.get("JobId") else ["no JobId"],
            )
        if h.has("GetMediaAnalysisJob"):
            if ctx.media_job:
                aws_call(
                    "GetMediaAnalysisJob",
                    ["get-media-analysis-job", "--job-id", ctx.media_job],
                    "get-media-analysis-job --job-id",
                    expect=lambda o: [] if o.get("Status") == "SUCCEEDED" else ["not SUCCEEDED"],
                )
            aws_call(
                "GetMediaAnalysisJob",
                ["get-media-analysis-job", "--job-id", "no-such-media-job"],
                "get-media-analysis-job of an unknown job",
                error="ResourceNotFoundException",
            )
        if h.has("ListMediaAnalysisJobs"):
            aws_call(
                "ListMediaAnalysisJobs",
                ["list-media-analysis-jobs", "--max-results", "5"],
                "list-media-analysis-jobs --max-results 5",
            )
        if created and h.has("DeleteCollection"):
            aws_call(
                "DeleteCollection",
                ["delete-collection", "--collection-id", cid],
                "delete-collection",
            )
    if not ran:
        return "AWS CLI: no command to run (none of its operations is implemented yet)"
    return f"AWS CLI: {ran} commands through {aws}"


def _kebab(name: str) -> str:
    """LabelDetection -> label-detection (the CLI's command and option spelling)."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def _cli_args(params: dict[str, Any]) -> list[str]:
    """Request parameters as CLI options: structures as JSON, lists as several values."""
    args: list[str] = []
    for key, value in params.items():
        args.append(f"--{_kebab(key)}")
        if isinstance(value, dict):
            args.append(json.dumps(value))
        elif isinstance(value, list):
            args += [str(v) for v in value]
        else:
            args.append(str(value))
    return args


def custom_labels_commands(ctx: Context, aws_call: Any, home: str) -> None:
    """The 20 Custom Labels operations as `aws rekognition` commands (and its waiters)."""
    h, bucket = ctx.h, ctx.bucket
    custom_labels.upload_training_set(h.s3, bucket)
    name = ctx.name("cli-cl")
    out = aws_call("CreateProject", ["create-project", "--project-name", name], "create-project")
    if out is None:
        return
    project = out["ProjectArn"]
    aws_call("DescribeProjects", ["describe-projects", "--project-names", name], "describe-projects")  # fmt: skip
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": custom_labels.MANIFEST_KEY}}}  # fmt: skip
    made = aws_call("CreateDataset", ["create-dataset", "--project-arn", project, "--dataset-type", "TRAIN", "--dataset-source", json.dumps(source)], "create-dataset --dataset-source (manifest)")  # fmt: skip
    empty = aws_call("CreateDataset", ["create-dataset", "--project-arn", project, "--dataset-type", "TEST"], "create-dataset (empty)")  # fmt: skip
    if made is None or empty is None:
        return
    train, test = made["DatasetArn"], empty["DatasetArn"]

    def settled() -> None:
        for arn in (train, test):
            custom_labels.wait_settled(h.rekognition, arn)

    settled()
    aws_call("DescribeDataset", ["describe-dataset", "--dataset-arn", train], "describe-dataset")
    aws_call("DescribeDataset", ["describe-dataset", "--dataset-arn", train + "0"], "describe-dataset of a missing dataset", error="ResourceNotFoundException")  # fmt: skip
    aws_call("ListDatasetEntries", ["list-dataset-entries", "--dataset-arn", train, "--labeled"], "list-dataset-entries --labeled")  # fmt: skip
    aws_call("ListDatasetLabels", ["list-dataset-labels", "--dataset-arn", train], "list-dataset-labels")  # fmt: skip
    line = json.dumps(custom_labels.classification_line(bucket, f"{custom_labels.PREFIX}/cool-0.jpg", "cool"))  # fmt: skip
    # AWS CLI v1 sends a blob given in JSON input as the text it is (v2 would read base64).
    aws_call("UpdateDatasetEntries", ["update-dataset-entries", "--dataset-arn", train, "--changes", json.dumps({"GroundTruth": line})], "update-dataset-entries --changes (JSON)")  # fmt: skip
    settled()
    aws_call("DescribeDataset", ["describe-dataset", "--dataset-arn", train], "describe-dataset after the update", expect=lambda o: [] if o["DatasetDescription"]["Status"] == "UPDATE_COMPLETE" else [f"status {o['DatasetDescription']['Status']}: {o['DatasetDescription']['StatusMessage']}"])  # fmt: skip
    aws_call("DistributeDatasetEntries", ["distribute-dataset-entries", "--datasets", f"Arn={train}", f"Arn={test}"], "distribute-dataset-entries")  # fmt: skip
    settled()
    output = f"S3Bucket={bucket},S3KeyPrefix={custom_labels.PREFIX}/cli-output"
    version = aws_call("CreateProjectVersion", ["create-project-version", "--project-arn", project, "--version-name", "v1", "--output-config", output], "create-project-version")  # fmt: skip
    if version is None:
        return
    arn = version["ProjectVersionArn"]
    aws_call("DescribeProjectVersions", ["wait", "project-version-training-completed", "--project-arn", project, "--version-names", "v1"], "wait project-version-training-completed")  # fmt: skip
    aws_call("DescribeProjectVersions", ["describe-project-versions", "--project-arn", project], "describe-project-versions", expect=lambda o: [] if o["ProjectVersionDescriptions"][0]["Status"] == "TRAINING_COMPLETED" else ["not trained"])  # fmt: skip
    aws_call("StartProjectVersion", ["start-project-version", "--project-version-arn", arn, "--min-inference-units", "1"], "start-project-version")  # fmt: skip
    aws_call("DescribeProjectVersions", ["wait", "project-version-running", "--project-arn", project, "--version-names", "v1"], "wait project-version-running")  # fmt: skip
    picture = Path(home) / "warm.jpg"
    picture.write_bytes(custom_labels.picture("warm", 4000))
    aws_call("DetectCustomLabels", ["detect-custom-labels", "--project-version-arn", arn, "--image-bytes", f"fileb://{picture}"], "detect-custom-labels --image-bytes fileb://", expect=lambda o: [] if [x["Name"] for x in o["CustomLabels"]][:1] == ["warm"] else [f"labels {o['CustomLabels']}"])  # fmt: skip
    aws_call("StopProjectVersion", ["stop-project-version", "--project-version-arn", arn], "stop-project-version")  # fmt: skip
    aws_call("StopProjectVersion", ["stop-project-version", "--project-version-arn", arn], "stop-project-version of a stopped model", error="ResourceInUseException")  # fmt: skip
    document = Path(home) / "policy.json"
    document.write_text(json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "rekognition:CopyProjectVersion", "Resource": arn}]}))  # fmt: skip
    put = aws_call("PutProjectPolicy", ["put-project-policy", "--project-arn", project, "--policy-name", "share", "--policy-document", f"file://{document}"], "put-project-policy --policy-document file://")  # fmt: skip
    aws_call("ListProjectPolicies", ["list-project-policies", "--project-arn", project], "list-project-policies")  # fmt: skip
    if put is not None:
        aws_call("DeleteProjectPolicy", ["delete-project-policy", "--project-arn", project, "--policy-name", "share", "--policy-revision-id", put["PolicyRevisionId"]], "delete-project-policy")  # fmt: skip
    copied = aws_call("CopyProjectVersion", ["copy-project-version", "--source-project-arn", project, "--source-project-version-arn", arn, "--destination-project-arn", project, "--version-name", "v1-copy", "--output-config", output], "copy-project-version")  # fmt: skip
    for version_arn in [arn] + ([copied["ProjectVersionArn"]] if copied else []):
        aws_call("DeleteProjectVersion", ["delete-project-version", "--project-version-arn", version_arn], "delete-project-version")  # fmt: skip
    for dataset in (train, test):
        aws_call("DeleteDataset", ["delete-dataset", "--dataset-arn", dataset], "delete-dataset")
    custom_labels.wait_gone(h.rekognition, name)
    aws_call("DeleteProject", ["delete-project", "--project-arn", project], "delete-project")


STREAM_CLI = ("CreateStreamProcessor", "DescribeStreamProcessor", "StopStreamProcessor")


def _streams(ctx: Context, aws_call: Any) -> None:
    """A face search processor created, described, listed, refused a Stop, deleted."""
    h = ctx.h
    if not h.has(*STREAM_CLI, "ListStreamProcessors", "DeleteStreamProcessor"):
        return
    name = ctx.name("cli-processor")
    account = "123456789012"
    made = aws_call(
        "CreateStreamProcessor",
        [
            "create-stream-processor",
            "--name",
            name,
            "--input",
            json.dumps(
                {
                    "KinesisVideoStream": {
                        "Arn": f"arn:aws:kinesisvideo:{h.region}:{account}:stream/{name}/1"
                    }
                }
            ),
            "--stream-processor-output",
            json.dumps(
                {
                    "KinesisDataStream": {
                        "Arn": f"arn:aws:kinesis:{h.region}:{account}:stream/{name}"
                    }
                }
            ),
            "--settings",
            json.dumps({"FaceSearch": {"CollectionId": ctx.name("cli"), "FaceMatchThreshold": 90}}),
            "--role-arn",
            f"arn:aws:iam::{account}:role/cli",
        ],
        "create-stream-processor --input --stream-processor-output --settings (face search)",
    )
    if made is None:
        return
    aws_call(
        "DescribeStreamProcessor",
        ["describe-stream-processor", "--name", name],
        "describe-stream-processor",
        expect=lambda o: [] if o.get("Status") == "STOPPED" else [f"Status {o.get('Status')}"],
    )
    aws_call(
        "ListStreamProcessors",
        ["list-stream-processors"],
        "list-stream-processors",
        expect=lambda o: (
            []
            if name in [p["Name"] for p in o.get("StreamProcessors", [])]
            else [f"{name} not listed"]
        ),
    )
    aws_call(
        "StopStreamProcessor",
        ["stop-stream-processor", "--name", name],
        "stop-stream-processor of a stopped processor",
        error="ResourceInUseException",
    )
    if h.has("UpdateStreamProcessor"):
        aws_call(
            "UpdateStreamProcessor",
            [
                "update-stream-processor",
                "--name",
                name,
                "--data-sharing-preference-for-update",
                "OptIn=true",
            ],
            "update-stream-processor of a face search processor",
            error="InvalidParameterException",
        )
    if h.has("StartStreamProcessor"):
        # The stream plays nothing (no /_emulator/streams mapping): the session fails at once.
        aws_call(
            "StartStreamProcessor",
            ["start-stream-processor", "--name", name],
            "start-stream-processor",
            expect=lambda o: [] if len(o.get("SessionId", "")) == 36 else ["no SessionId"],
        )
        _settled(ctx, name)
    aws_call("DeleteStreamProcessor", ["delete-stream-processor", "--name", name], "delete")
    aws_call(
        "DescribeStreamProcessor",
        ["describe-stream-processor", "--name", name],
        "describe-stream-processor of a deleted processor",
        error="ResourceNotFoundException",
    )


def _liveness(ctx: Context, aws_call: Any) -> None:
    h = ctx.h
    if not h.has("CreateFaceLivenessSession", "GetFaceLivenessSessionResults"):
        return
    made = aws_call(
        "CreateFaceLivenessSession",
        ["create-face-liveness-session", "--settings", "AuditImagesLimit=2"],
        "create-face-liveness-session --settings AuditImagesLimit=2",
    )
    if made is not None:
        aws_call(
            "GetFaceLivenessSessionResults",
            ["get-face-liveness-session-results", "--session-id", made["SessionId"]],
            "get-face-liveness-session-results of a new session",
            expect=lambda o: [] if o.get("Status") == "CREATED" else [f"Status {o.get('Status')}"],
        )
    aws_call(
        "GetFaceLivenessSessionResults",
        [
            "get-face-liveness-session-results",
            "--session-id",
            "00000000-0000-4000-8000-000000000000",
        ],
        "get-face-liveness-session-results of an unknown session",
        error="SessionNotFoundException",
    )


def _settled(ctx: Context, name: str, seconds: float = 30.0) -> None:
    """Wait until a started processor has left STARTING (through boto3: no check recorded)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ctx.h.rekognition.describe_stream_processor(Name=name)["Status"] != "STARTING":
            return
        time.sleep(0.1)
