"""The Custom Labels scenario: the 20 operations in the order a user meets them, with the
documented error of each at the point where it arises.

A project is trained on pictures made here (warm orange-red shapes on a light ground, cool
blue-green ones on a dark ground: two labels any model tells apart), so the scenario needs
no test data. The manifest and the pictures stay in the run's bucket under `custom-labels/`
for the AWS CLI and JS SDK runners, which train their own models from them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import cv2
import numpy as np

from rekognition_emulator.conformance.harness import StepFailed

PREFIX = "custom-labels"
MANIFEST_KEY = f"{PREFIX}/train.manifest"
OPERATIONS = frozenset(
    {
        "CreateProject",
        "DescribeProjects",
        "DeleteProject",
        "CreateDataset",
        "DescribeDataset",
        "ListDatasetEntries",
        "ListDatasetLabels",
        "UpdateDatasetEntries",
        "DistributeDatasetEntries",
        "DeleteDataset",
        "CreateProjectVersion",
        "DescribeProjectVersions",
        "StartProjectVersion",
        "StopProjectVersion",
        "DeleteProjectVersion",
        "CopyProjectVersion",
        "DetectCustomLabels",
        "PutProjectPolicy",
        "ListProjectPolicies",
        "DeleteProjectPolicy",
    }
)


def picture(kind: str, seed: int, size: int = 160) -> bytes:
    """A JPEG of the "warm" or "cool" kind (a different picture for every seed)."""
    rng = np.random.default_rng(seed)
    warm = kind == "warm"
    img = np.full((size, size, 3), 225 if warm else 35, np.uint8)
    for _ in range(6):
        x, y = rng.integers(0, size - 40, 2)
        w, h = rng.integers(20, 40, 2)
        color = (
            (rng.integers(200, 256), rng.integers(40, 120), 20)
            if warm
            else (20, rng.integers(120, 200), rng.integers(200, 256))
        )
        img[y : y + h, x : x + w] = color
    noise = rng.integers(-12, 13, img.shape)
    rgb = np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])  # fmt: skip
    assert ok
    return buf.tobytes()


def classification_line(bucket: str, key: str, label: str) -> dict[str, Any]:
    return {
        "source-ref": f"s3://{bucket}/{key}",
        "label": 1,
        "label-metadata": {
            "confidence": 1,
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": "2024-05-01T12:00:00.000",
            "type": "groundtruth/image-classification",
        },
    }


def upload_training_set(s3: Any, bucket: str, per_kind: int = 6) -> list[dict[str, Any]]:
    """Put the pictures and their manifest (MANIFEST_KEY) in the bucket; the manifest lines."""
    lines = []
    for kind in ("warm", "cool"):
        for i in range(per_kind):
            key = f"{PREFIX}/{kind}-{i}.jpg"
            s3.put_object(Bucket=bucket, Key=key, Body=picture(kind, i + 31 * (kind == "cool")))
            lines.append(classification_line(bucket, key, kind))
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    s3.put_object(Bucket=bucket, Key=MANIFEST_KEY, Body=body)
    return lines


def _problems(*pairs: tuple[bool, str]) -> list[str]:
    return [text for ok, text in pairs if not ok]


def wait_settled(rekognition: Any, arn: str, seconds: float = 60) -> None:
    """Until the dataset's status is no longer *_IN_PROGRESS (or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = rekognition.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"]
        if not status.endswith("IN_PROGRESS"):
            return
        time.sleep(0.05)


def wait_gone(rekognition: Any, project_name: str, seconds: float = 60) -> None:
    """Until the project's datasets are deleted (or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = rekognition.describe_projects(ProjectNames=[project_name])["ProjectDescriptions"]
        if not found or not found[0]["Datasets"]:
            return
        time.sleep(0.05)


def _settled(h: Any, arn: str) -> dict[str, Any]:
    """DescribeDataset once the dataset's status is no longer *_IN_PROGRESS (recorded)."""
    wait_settled(h.rekognition, arn)
    return h.call(
        "DescribeDataset",
        {"DatasetArn": arn},
        name="dataset settled",
        expect=lambda b: _problems(
            (
                b["DatasetDescription"]["Status"].endswith("COMPLETE"),
                f"status {b['DatasetDescription']['Status']}",
            ),  # fmt: skip
        ),
    )


def custom_labels_flow(ctx: Any) -> None:
    h = ctx.h
    if not h.has(*OPERATIONS) or not ctx.s3_ready:
        return
    region, bucket = h.region, ctx.bucket
    missing_project = f"arn:aws:rekognition:{region}:123456789012:project/missing/1"
    try:
        lines = upload_training_set(h.s3, bucket)
        name = ctx.name("cl")
        project = h.call("CreateProject", {"ProjectName": name}, name="new project")["ProjectArn"]
        h.expect_error("CreateProject", {"ProjectName": name}, "ResourceInUseException", name="name taken")  # fmt: skip
        h.call(
            "DescribeProjects",
            {"ProjectNames": [name]},
            name="the project, default Features filter",
            expect=lambda b: _problems(
                ([p["ProjectArn"] for p in b["ProjectDescriptions"]] == [project], "not listed"),
            ),
        )
        manifest = {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": MANIFEST_KEY}}}
        train = h.call("CreateDataset", {"ProjectArn": project, "DatasetType": "TRAIN", "DatasetSource": manifest}, name="from a manifest")["DatasetArn"]  # fmt: skip
        h.expect_error(
            "CreateDataset",
            {
                "ProjectArn": project,
                "DatasetType": "TEST",
                "DatasetSource": {
                    "GroundTruthManifest": {
                        "S3Object": {"Bucket": bucket, "Name": "no-such.manifest"}
                    }
                },
            },  # fmt: skip
            "InvalidS3ObjectException",
            name="manifest that does not exist",
        )
        test = h.call("CreateDataset", {"ProjectArn": project, "DatasetType": "TEST"}, name="empty")["DatasetArn"]  # fmt: skip
        _settled(h, train)
        h.expect_error("DescribeDataset", {"DatasetArn": train.replace("/train/", "/test/") + "0"}, "ResourceNotFoundException", name="dataset that does not exist")  # fmt: skip
        h.call(
            "ListDatasetEntries",
            {"DatasetArn": train, "ContainsLabels": ["warm"], "Labeled": True},
            name="filtered entries",
            expect=lambda b: _problems(
                (len(b["DatasetEntries"]) == len(lines) // 2, f"{len(b['DatasetEntries'])} entries")
            ),  # fmt: skip
        )
        h.call(
            "ListDatasetLabels",
            {"DatasetArn": train},
            name="two labels",
            expect=lambda b: _problems(
                (
                    sorted(d["LabelName"] for d in b["DatasetLabelDescriptions"])
                    == ["cool", "warm"],
                    "labels",
                )
            ),  # fmt: skip
        )
        extra = classification_line(bucket, f"{PREFIX}/warm-0.jpg", "warm")
        h.call("UpdateDatasetEntries", {"DatasetArn": train, "Changes": {"GroundTruth": json.dumps(extra).encode()}}, name="replace one entry")  # fmt: skip
        _settled(h, train)
        h.call("DistributeDatasetEntries", {"Datasets": [{"Arn": train}, {"Arn": test}]}, name="20 % to the test dataset")  # fmt: skip
        _settled(h, train), _settled(h, test)
        h.expect_error("DistributeDatasetEntries", {"Datasets": [{"Arn": train}, {"Arn": test}]}, "InvalidParameterException", name="test dataset not empty")  # fmt: skip

        output = {"S3Bucket": bucket, "S3KeyPrefix": f"{PREFIX}/output"}
        version = h.call("CreateProjectVersion", {"ProjectArn": project, "VersionName": "v1", "OutputConfig": output}, name="trained from the datasets")["ProjectVersionArn"]  # fmt: skip
        h.expect_error("CreateProjectVersion", {"ProjectArn": project, "VersionName": "v1", "OutputConfig": output}, "ResourceInUseException", name="version name taken")  # fmt: skip
        h.rekognition.get_waiter("project_version_training_completed").wait(ProjectArn=project, WaiterConfig={"Delay": 1, "MaxAttempts": 120})  # fmt: skip
        h.call(
            "DescribeProjectVersions",
            {"ProjectArn": project},
            name="trained, with its evaluation",
            expect=lambda b: _problems(
                (
                    b["ProjectVersionDescriptions"][0]["Status"] == "TRAINING_COMPLETED",
                    "not TRAINING_COMPLETED",
                ),  # fmt: skip
                (
                    "F1Score" in b["ProjectVersionDescriptions"][0].get("EvaluationResult", {}),
                    "no F1Score",
                ),  # fmt: skip
            ),
        )
        h.expect_error("DescribeProjectVersions", {"ProjectArn": missing_project}, "ResourceNotFoundException", name="project that does not exist")  # fmt: skip
        warm = {"Bytes": picture("warm", 900)}
        h.expect_error("DetectCustomLabels", {"ProjectVersionArn": version, "Image": warm}, "ResourceNotReadyException", name="model not started")  # fmt: skip
        h.call("StartProjectVersion", {"ProjectVersionArn": version, "MinInferenceUnits": 1}, name="start")  # fmt: skip
        h.rekognition.get_waiter("project_version_running").wait(ProjectArn=project, WaiterConfig={"Delay": 1, "MaxAttempts": 60})  # fmt: skip
        h.expect_error("StartProjectVersion", {"ProjectVersionArn": version, "MinInferenceUnits": 1}, "ResourceInUseException", name="already running")  # fmt: skip
        h.call(
            "DetectCustomLabels",
            {"ProjectVersionArn": version, "Image": warm},
            name="a warm picture",
            expect=lambda b: _problems(
                (
                    [x["Name"] for x in b["CustomLabels"]][:1] == ["warm"],
                    f"labels {b['CustomLabels']}",
                )
            ),  # fmt: skip
        )
        from rekognition_emulator.conformance.scenarios import image_errors

        image_errors(ctx, "DetectCustomLabels", {"ProjectVersionArn": version})
        h.call("StopProjectVersion", {"ProjectVersionArn": version}, name="stop")
        h.expect_error("StopProjectVersion", {"ProjectVersionArn": version}, "ResourceInUseException", name="not running")  # fmt: skip

        document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "rekognition:CopyProjectVersion", "Resource": version}]})  # fmt: skip
        revision = h.call("PutProjectPolicy", {"ProjectArn": project, "PolicyName": "share", "PolicyDocument": document}, name="new policy")["PolicyRevisionId"]  # fmt: skip
        h.expect_error("PutProjectPolicy", {"ProjectArn": project, "PolicyName": "bad", "PolicyDocument": "{not json"}, "MalformedPolicyDocumentException", name="not JSON")  # fmt: skip
        h.call("ListProjectPolicies", {"ProjectArn": project}, name="one policy", expect=lambda b: _problems(([p["PolicyRevisionId"] for p in b["ProjectPolicies"]] == [revision], "revision")))  # fmt: skip
        h.expect_error("DeleteProjectPolicy", {"ProjectArn": project, "PolicyName": "share", "PolicyRevisionId": "0" * 32}, "InvalidPolicyRevisionIdException", name="stale revision")  # fmt: skip
        h.call("DeleteProjectPolicy", {"ProjectArn": project, "PolicyName": "share", "PolicyRevisionId": revision}, name="current revision")  # fmt: skip

        copy = h.call(
            "CopyProjectVersion",
            {
                "SourceProjectArn": project,
                "SourceProjectVersionArn": version,
                "DestinationProjectArn": project,
                "VersionName": "v1-copy",
                "OutputConfig": output,
            },  # fmt: skip
            name="within the account",
        )["ProjectVersionArn"]
        h.expect_error("CopyProjectVersion", {"SourceProjectArn": missing_project, "SourceProjectVersionArn": missing_project.replace("/1", "/version/v/1"), "DestinationProjectArn": project, "VersionName": "v2", "OutputConfig": output}, "ResourceNotFoundException", name="source that does not exist")  # fmt: skip
        h.expect_error("DeleteProject", {"ProjectArn": project}, "ResourceInUseException", name="project with versions and datasets")  # fmt: skip
        for arn in (version, copy):
            h.call("DeleteProjectVersion", {"ProjectVersionArn": arn}, name="stopped model")
        h.expect_error("DeleteProjectVersion", {"ProjectVersionArn": version}, "ResourceNotFoundException", name="already deleted")  # fmt: skip
        for arn in (train, test):
            h.call("DeleteDataset", {"DatasetArn": arn}, name="dataset")
        wait_gone(h.rekognition, name)
        h.call("DeleteProject", {"ProjectArn": project}, name="empty project")
    except StepFailed:
        pass  # recorded; the operations after it in this flow depend on it
