"""Custom Labels across restarts and a kill -9, on a live server with its own data dir.

- What a user made survives a restart as it was: projects, datasets and their entries,
  policies, tags, and a RUNNING model is RUNNING again and answers DetectCustomLabels.
- kill -9 in the middle of a training (and of a dataset creation queued behind it): the
  version is TRAINING_IN_PROGRESS with no model file (nothing half-written), and after the
  restart the training runs again to TRAINING_COMPLETED with its model and its six output
  files, once.
- While a training runs, every operation that may not act on it answers AWS's error, and
  so does every dataset operation while the dataset is being created.

The server runs with one job worker and no wait in CreateProjectVersion, so the training is
seen in progress and a dataset job queues behind it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from pathlib import Path

import botocore.exceptions
import pytest

from rekognition_emulator.conformance.custom_labels import picture
from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.conftest import make_client
from tests.custom_labels_kit import classification_line, put_manifest, s3_ref, wait_dataset
from tests.test_custom_labels_api import error_code

BUCKET = "restart"


def server(tmp_path: Path) -> EmulatorProcess:
    return EmulatorProcess(
        data_dir=tmp_path / "data",
        args=["--job-workers", "1", "--custom-labels-wait", "0"],
    )


def clients(endpoint: str):
    return make_client("rekognition", endpoint), make_client("s3", endpoint)


def upload_pictures(s3, per_kind: int) -> list[dict]:
    s3.create_bucket(Bucket=BUCKET)
    lines = []
    for kind in ("warm", "cool"):
        for i in range(per_kind):
            key = f"{kind}-{i}.jpg"
            s3.put_object(Bucket=BUCKET, Key=key, Body=picture(kind, i + (500 if kind == "cool" else 0)))  # fmt: skip
            lines.append(classification_line(s3_ref(BUCKET, key), kind))
    return lines


def training_job(endpoint: str) -> dict:
    url = f"{endpoint}/_emulator/jobs?kind=CustomLabelsTraining"
    with urllib.request.urlopen(url, timeout=10) as r:
        (job,) = json.loads(r.read())["jobs"]
    return job


def stored_version(tmp_path: Path) -> tuple[str, str | None]:
    with sqlite3.connect(tmp_path / "data" / "rekognition.sqlite3") as conn:
        return conn.execute("SELECT status, model_file FROM cl_versions").fetchone()


def test_a_running_model_is_running_again_after_a_restart(tmp_path):
    proc = server(tmp_path)
    try:
        rek, s3 = clients(proc.start())
        project = rek.create_project(ProjectName="survivor", Tags={"keep": "yes"})["ProjectArn"]
        lines = upload_pictures(s3, 8)
        manifest = put_manifest(s3, BUCKET, "train.manifest", lines)
        train = rek.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource={"GroundTruthManifest": manifest})["DatasetArn"]  # fmt: skip
        wait_dataset(rek, train)
        arn = rek.create_project_version(ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET})["ProjectVersionArn"]  # fmt: skip
        rek.get_waiter("project_version_training_completed").wait(ProjectArn=project, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})  # fmt: skip
        rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=2)
        rek.get_waiter("project_version_running").wait(ProjectArn=project, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})  # fmt: skip
        document = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "rekognition:CopyProjectVersion", "Resource": arn}]})  # fmt: skip
        revision = rek.put_project_policy(ProjectArn=project, PolicyName="share", PolicyDocument=document)["PolicyRevisionId"]  # fmt: skip
        image = {"Bytes": picture("cool", 999)}
        before = rek.detect_custom_labels(ProjectVersionArn=arn, Image=image, MinConfidence=0)["CustomLabels"]  # fmt: skip
        described = rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        entries = rek.list_dataset_entries(DatasetArn=train)["DatasetEntries"]
        proc.stop()

        rek, s3 = clients(proc.start())
        assert rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"] == described  # fmt: skip
        assert described[0]["Status"] == "RUNNING" and described[0]["MinInferenceUnits"] == 2
        assert rek.detect_custom_labels(ProjectVersionArn=arn, Image=image, MinConfidence=0)["CustomLabels"] == before  # fmt: skip
        assert rek.list_dataset_entries(DatasetArn=train)["DatasetEntries"] == entries
        assert rek.list_project_policies(ProjectArn=project)["ProjectPolicies"][0]["PolicyRevisionId"] == revision  # fmt: skip
        assert rek.list_tags_for_resource(ResourceArn=project)["Tags"] == {"keep": "yes"}
        rek.stop_project_version(ProjectVersionArn=arn)
    finally:
        proc.cleanup()


def test_kill_9_during_training_leaves_nothing_half_written_and_the_restart_retrains(tmp_path):
    proc = server(tmp_path)
    try:
        rek, s3 = clients(proc.start())
        lines = upload_pictures(s3, 40)
        project = rek.create_project(ProjectName="crash")["ProjectArn"]
        arn = rek.create_project_version(
            ProjectArn=project,
            VersionName="v1",
            OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "out"},
            TrainingData={
                "Assets": [{"GroundTruthManifest": put_manifest(s3, BUCKET, "all.manifest", lines)}]
            },  # fmt: skip
            TestingData={"AutoCreate": True},
        )["ProjectVersionArn"]
        # The single worker trains; a dataset job waits behind it, CREATE_IN_PROGRESS.
        other = rek.create_project(ProjectName="queued")["ProjectArn"]
        small = put_manifest(s3, BUCKET, "small.manifest", lines[:4] + lines[-4:])
        dataset = rek.create_dataset(ProjectArn=other, DatasetType="TRAIN", DatasetSource={"GroundTruthManifest": small})["DatasetArn"]  # fmt: skip

        (version,) = rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        assert (version["Status"], version["StatusMessage"]) == ("TRAINING_IN_PROGRESS", "The model is being trained.")  # fmt: skip
        assert error_code(rek.start_project_version, ProjectVersionArn=arn, MinInferenceUnits=1) == "ResourceInUseException"  # fmt: skip
        assert error_code(rek.stop_project_version, ProjectVersionArn=arn) == "ResourceInUseException"  # fmt: skip
        assert error_code(rek.delete_project_version, ProjectVersionArn=arn) == "ResourceInUseException"  # fmt: skip
        assert error_code(rek.delete_project, ProjectArn=project) == "ResourceInUseException"
        assert error_code(rek.detect_custom_labels, ProjectVersionArn=arn, Image={"Bytes": picture("warm", 1)}) == "ResourceNotReadyException"  # fmt: skip
        assert error_code(rek.copy_project_version, SourceProjectArn=project, SourceProjectVersionArn=arn, DestinationProjectArn=project, VersionName="c", OutputConfig={"S3Bucket": BUCKET}) == "InvalidParameterException"  # fmt: skip
        with pytest.raises(botocore.exceptions.WaiterError):  # not trained within one poll
            rek.get_waiter("project_version_training_completed").wait(ProjectArn=project, WaiterConfig={"Delay": 0.1, "MaxAttempts": 1})  # fmt: skip

        assert rek.describe_dataset(DatasetArn=dataset)["DatasetDescription"]["Status"] == "CREATE_IN_PROGRESS"  # fmt: skip
        change = {"GroundTruth": json.dumps(lines[5]).encode()}
        assert error_code(rek.update_dataset_entries, DatasetArn=dataset, Changes=change) == "ResourceInUseException"  # fmt: skip
        assert error_code(rek.delete_dataset, DatasetArn=dataset) == "ResourceInUseException"
        assert error_code(rek.list_dataset_entries, DatasetArn=dataset) == "ResourceNotReadyException"  # fmt: skip
        assert error_code(rek.list_dataset_labels, DatasetArn=dataset) == "ResourceNotReadyException"  # fmt: skip
        assert error_code(rek.create_dataset, ProjectArn=other, DatasetType="TRAIN") == "ResourceAlreadyExistsException"  # fmt: skip

        deadline = time.monotonic() + 60
        while training_job(proc.endpoint)["started_at"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.7)  # well into the features of 80 images (about 3 s of work)
        proc.kill()
    finally:
        proc.stop()
    status, model_file = stored_version(tmp_path)
    assert (status, model_file) == ("TRAINING_IN_PROGRESS", None)  # killed mid-training, as meant
    assert not list((tmp_path / "data" / "custom_labels").glob("*.npz"))

    proc = server(tmp_path)
    try:
        rek, s3 = clients(proc.start())
        rek.get_waiter("project_version_training_completed").wait(ProjectArn=project, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})  # fmt: skip
        assert wait_dataset(rek, dataset)["Status"] == "CREATE_COMPLETE"
        (version,) = rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        assert version["Status"] == "TRAINING_COMPLETED"
        job = training_job(proc.endpoint)
        assert (job["status"], job["attempts"]) == ("SUCCEEDED", 2)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["Contents"]]
        assert len(keys) == 6
        rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
        rek.get_waiter("project_version_running").wait(ProjectArn=project, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})  # fmt: skip
        found = rek.detect_custom_labels(ProjectVersionArn=arn, Image={"Bytes": picture("warm", 4242)})["CustomLabels"]  # fmt: skip
        assert found[0]["Name"] == "warm"
    finally:
        proc.cleanup()
    assert stored_version(tmp_path)[0] == "RUNNING"
