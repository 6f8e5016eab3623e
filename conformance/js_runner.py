"""The AWS SDK for JavaScript v3 as a second client (collections, DetectFaces, IndexFaces,
SearchFacesByImage, DetectModerationLabels, DetectProtectiveEquipment, RecognizeCelebrities,
GetCelebrityInfo, every Rekognition Video pair, the 20 Custom Labels operations with the SDK's
two waiters, stream processors, Face Liveness, media analysis jobs and error cases), where
`node` and `npm` are available.

The SDK is installed with `npm ci` from the pinned package-lock.json into
conformance/js/node_modules (git-ignored), or, when that folder is not writable (an
installed wheel), into a copy under the user's cache folder. Anything missing or failing
on the way is a skip with its reason, never a failure: the JS client is a second opinion,
available where node is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from rekognition_emulator.conformance import custom_labels
from rekognition_emulator.conformance.harness import Check
from rekognition_emulator.conformance.scenarios import (
    LIVENESS_OPERATIONS,
    STREAM_OPERATIONS,
    VIDEO_ANALYSES,
    VIDEO_OPERATIONS,
    Context,
    video_start_params,
)
from rekognition_emulator.conformance.shapes import check_output

HERE = Path(__file__).resolve().parent / "js"
PACKAGE = "@aws-sdk/client-rekognition"
FILES = ("package.json", "package-lock.json", "driver.js", "sns_sqs.js")
JS_OPERATIONS = {
    "CreateCollection",
    "ListCollections",
    "DescribeCollection",
    "DeleteCollection",
    "DetectFaces",
    "IndexFaces",
    "SearchFacesByImage",
    "DetectModerationLabels",
    "DetectProtectiveEquipment",
    *VIDEO_OPERATIONS,
    *custom_labels.OPERATIONS,
    *STREAM_OPERATIONS,
    *LIVENESS_OPERATIONS,
    "RecognizeCelebrities",
    "GetCelebrityInfo",
    "StartMediaAnalysisJob",
    "GetMediaAnalysisJob",
    "ListMediaAnalysisJobs",
}


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rekognition-emulator" / "conformance-js"


def _workdir() -> Path:
    """Where node_modules lives: beside the driver if writable, else a cached copy."""
    if os.access(HERE, os.W_OK):
        return HERE
    target = _cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        src, dst = HERE / name, target / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
    return target


def ensure_installed() -> tuple[Path | None, str]:
    """(folder with the SDK installed, '') or (None, why the JS client is skipped)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, f"JS SDK v3: skipped, {'node' if node is None else 'npm'} is not installed"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) < 18:
            return None, f"JS SDK v3: skipped, node {version} is older than 18"
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return None, f"JS SDK v3: skipped, cannot run node: {exc}"
    work = _workdir()
    installed = work / "node_modules" / ".package-lock.json"
    lock = work / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return None, f"JS SDK v3: skipped, `npm ci` failed in {work}: {' | '.join(tail)}"
    return work, ""


def sdk_version(work: Path) -> str:
    try:
        return json.loads((work / "node_modules" / PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def run(ctx: Context, files: dict[str, Path]) -> str:
    h = ctx.h
    wanted = JS_OPERATIONS & h.implemented
    if not wanted:
        return "JS SDK v3: no call to make (none of its operations is implemented yet)"
    work, reason = ensure_installed()
    if work is None:
        return reason
    config = {
        "endpoint": h.endpoint,
        "region": h.region,
        "accessKeyId": h.access_key,
        "secretAccessKey": h.secret_key,
        "collection": ctx.name("js"),
        "missing": ctx.name("js-missing"),
        "images": {role: str(path) for role, path in files.items()},
        "implemented": sorted(wanted),
        "video": {
            "analyses": {
                name: {
                    "start": video_start_params(ctx, name),
                    "jobId": job_id,
                    "items": VIDEO_ANALYSES[name][0],
                }
                for name, job_id in ctx.video_jobs.items()
            }
        },
        "celebrity": None if ctx.celebrity is None else list(ctx.celebrity),
        "bucket": ctx.bucket if ctx.s3_ready else None,
        "mediaJob": ctx.media_job or None,
    }
    if custom_labels.OPERATIONS <= h.implemented and ctx.s3_ready:
        custom_labels.upload_training_set(h.s3, ctx.bucket)
        warm = Path(files["face"]).parent / "custom-labels-warm.jpg"  # the run's photo folder
        warm.write_bytes(custom_labels.picture("warm", 5000))
        config["images"]["warm"] = str(warm)  # type: ignore[index]
        config["customLabels"] = {
            "bucket": ctx.bucket,
            "manifest": custom_labels.MANIFEST_KEY,
            "project": ctx.name("js-cl"),
            "output": f"{custom_labels.PREFIX}/js-output",
            "line": json.dumps(
                custom_labels.classification_line(
                    ctx.bucket, f"{custom_labels.PREFIX}/cool-0.jpg", "cool"
                )
            ),  # fmt: skip
        }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(config, fh)
        config_path = fh.name
    try:
        proc = subprocess.run(
            [shutil.which("node") or "node", str(work / "driver.js"), config_path],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            # The SDK warns on stderr about node versions it will drop later; not our concern.
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    finally:
        os.unlink(config_path)
    try:
        results = json.loads(proc.stdout)
    except ValueError:
        # The driver itself broke: that is a failure of the run, charged to the first operation.
        h.record(
            Check(
                sorted(wanted)[0],
                "js",
                "call",
                "driver.js ran",
                False,
                f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-800:]}",
            )
        )
        return f"JS SDK v3 {sdk_version(work)}: the driver failed"
    for r in results:
        ok, detail = bool(r["ok"]), r.get("detail", "")
        shaped = False
        if ok and r["kind"] == "call":
            shape = h.model.operation_model(r["operation"]).output_shape
            problems = check_output(r.get("output", {}), shape, "parsed")
            shaped = True
            if problems:
                ok, detail = False, "; ".join(problems[:6])
        h.record(
            Check(r["operation"], "js", r["kind"], r["name"], ok, detail, shape_checked=shaped)
        )
    return f"JS SDK v3: @aws-sdk/client-rekognition {sdk_version(work)}, {len(results)} calls"
