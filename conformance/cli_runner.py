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

from rekognition_emulator.conformance.harness import Check
from rekognition_emulator.conformance.scenarios import Context
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
