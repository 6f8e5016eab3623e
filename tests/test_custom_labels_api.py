"""The Custom Labels operations through boto3, as AWS documents them: projects, datasets,
training and its failures, every lifecycle transition (the legal ones and AWS's error for
each illegal one), DetectCustomLabels, project policies, copies across accounts, tags and
moderation adapters.

The photos are made here: two kinds of picture ("warm": orange-red shapes on a light
ground, "cool": blue-green ones on a dark ground), easy for a model to tell apart, so these
tests check the contract, not accuracy (tests/test_custom_labels_models.py measures that on
real photos).
"""

from __future__ import annotations

import json

import botocore.exceptions
import numpy as np
import pytest

from rekognition_emulator.conformance.custom_labels import picture
from tests.conftest import jpeg, make_client
from tests.custom_labels_kit import (
    classification_line,
    manifest,
    put_manifest,
    s3_ref,
    wait_dataset,
)

BUCKET = "custom-labels-api"


@pytest.fixture(scope="module")
def photos(s3) -> dict[str, list[str]]:
    s3.create_bucket(Bucket=BUCKET)
    keys: dict[str, list[str]] = {"warm": [], "cool": []}
    for kind in keys:
        for i in range(10):
            key = f"pictures/{kind}-{i}.jpg"
            s3.put_object(Bucket=BUCKET, Key=key, Body=picture(kind, i + (100 if kind == "cool" else 0)))  # fmt: skip
            keys[kind].append(key)
    return keys


def lines(photos: dict[str, list[str]], n: int = 10) -> list[dict]:
    return [
        classification_line(s3_ref(BUCKET, key), kind)
        for kind, ks in photos.items()
        for key in ks[:n]
    ]


def error_code(call, **kwargs) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        call(**kwargs)
    return failed.value.response["Error"]["Code"]


def output(version: str) -> dict[str, str]:
    return {"S3Bucket": BUCKET, "S3KeyPrefix": f"output/{version}"}


def wait_trained(rek, project: str, version: str) -> dict:
    rek.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=[version], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    (described,) = rek.describe_project_versions(ProjectArn=project, VersionNames=[version])["ProjectVersionDescriptions"]  # fmt: skip
    return described


def trained_project(rek, s3, photos, name: str, version: str = "v1") -> tuple[str, str]:
    project = rek.create_project(ProjectName=name)["ProjectArn"]
    arn = rek.create_project_version(
        ProjectArn=project,
        VersionName=version,
        OutputConfig=output(f"{name}/{version}"),
        TrainingData={
            "Assets": [
                {
                    "GroundTruthManifest": put_manifest(
                        s3, BUCKET, f"manifests/{name}.manifest", lines(photos)
                    )
                }
            ]
        },  # fmt: skip
        TestingData={"AutoCreate": True},
    )["ProjectVersionArn"]
    assert wait_trained(rek, project, version)["Status"] == "TRAINING_COMPLETED"
    return project, arn


# -- projects ---------------------------------------------------------------------------------------
def test_projects_are_created_described_with_the_default_filter_and_deleted(rekognition, photos):
    rek = rekognition
    arn = rek.create_project(ProjectName="cl-projects-a", Tags={"team": "vision"})["ProjectArn"]
    assert arn.startswith("arn:aws:rekognition:us-east-1:") and ":project/cl-projects-a/" in arn
    assert error_code(rek.create_project, ProjectName="cl-projects-a") == "ResourceInUseException"
    adapter = rek.create_project(ProjectName="cl-projects-mod", Feature="CONTENT_MODERATION", AutoUpdate="ENABLED")["ProjectArn"]  # fmt: skip
    assert error_code(rek.create_project, ProjectName="cl-projects-b", AutoUpdate="ENABLED") == "InvalidParameterException"  # fmt: skip

    listed = rek.describe_projects(ProjectNames=["cl-projects-a", "cl-projects-mod"])["ProjectDescriptions"]  # fmt: skip
    # Without Features, only Custom Labels projects (AWS's default filter).
    assert [p["ProjectArn"] for p in listed] == [arn]
    (described,) = listed
    assert described["Status"] == "CREATED" and described["Feature"] == "CUSTOM_LABELS"
    assert described["Datasets"] == [] and "AutoUpdate" not in described
    (moderation,) = rek.describe_projects(ProjectNames=["cl-projects-mod"], Features=["CONTENT_MODERATION"])["ProjectDescriptions"]  # fmt: skip
    assert moderation["ProjectArn"] == adapter and moderation["AutoUpdate"] == "ENABLED"
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "vision"}

    pages = rek.get_paginator("describe_projects").paginate(
        Features=["CUSTOM_LABELS", "CONTENT_MODERATION"], PaginationConfig={"PageSize": 1}
    )
    names = [p["ProjectArn"] for page in pages for p in page["ProjectDescriptions"]]
    assert arn in names and adapter in names and len(names) == len(set(names))

    dataset = rek.create_dataset(ProjectArn=arn, DatasetType="TRAIN")["DatasetArn"]
    assert error_code(rek.delete_project, ProjectArn=arn) == "ResourceInUseException"
    rek.delete_dataset(DatasetArn=dataset)
    for _ in range(200):
        try:
            rek.describe_dataset(DatasetArn=dataset)
        except rek.exceptions.ResourceNotFoundException:
            break
    assert rek.delete_project(ProjectArn=arn)["Status"] == "DELETING"
    assert rek.describe_projects(ProjectNames=["cl-projects-a"])["ProjectDescriptions"] == []
    assert error_code(rek.delete_project, ProjectArn=arn) == "ResourceNotFoundException"
    assert error_code(rek.list_tags_for_resource, ResourceArn=arn) == "ResourceNotFoundException"
    rek.delete_project(ProjectArn=adapter)


# -- datasets ---------------------------------------------------------------------------------------
def test_a_dataset_from_a_manifest_with_bad_lines_lists_entries_labels_and_errors(rekognition, s3, photos):  # fmt: skip
    rek = rekognition
    project = rek.create_project(ProjectName="cl-datasets")["ProjectArn"]
    good = lines(photos, 4)
    unlabelled = {"source-ref": f"s3://{BUCKET}/{photos['cool'][9]}"}  # valid, ignored in training
    bad_box = classification_line(s3_ref(BUCKET, photos["warm"][9]), "warm")
    del bad_box["label-metadata"]["class-name"]  # an error inside the line, which stays
    body = manifest([*good, unlabelled, bad_box]) + b"this is not json\n" + manifest([good[0]])
    s3.put_object(Bucket=BUCKET, Key="manifests/mixed.manifest", Body=body)
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "manifests/mixed.manifest"}}}  # fmt: skip
    train = rek.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source)["DatasetArn"]  # fmt: skip
    assert ":project/cl-datasets/dataset/train/" in train
    assert rek.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"] in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE")  # fmt: skip
    description = wait_dataset(rek, train)
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["StatusMessageCode"] == "SUCCESS"
    assert (
        description["StatusMessage"]
        == "The dataset was successfully created from the manifest file."
    )
    # 12 lines: the JSON error and the repeated source-ref are left out, 10 entries remain.
    assert description["DatasetStats"] == {"LabeledEntries": 8, "TotalEntries": 10, "TotalLabels": 2, "ErrorEntries": 1}  # fmt: skip
    (metadata,) = rek.describe_projects(ProjectNames=["cl-datasets"])["ProjectDescriptions"][0]["Datasets"]  # fmt: skip
    assert metadata["DatasetArn"] == train and metadata["DatasetType"] == "TRAIN"

    entries = [json.loads(e) for e in rek.list_dataset_entries(DatasetArn=train)["DatasetEntries"]]
    assert len(entries) == 10 and all("cl-metadata" in e for e in entries)
    assert sum(e["cl-metadata"]["is_labeled"] for e in entries) == 8

    def listed(**filters) -> list[str]:
        pages = rek.get_paginator("list_dataset_entries").paginate(DatasetArn=train, PaginationConfig={"PageSize": 3}, **filters)  # fmt: skip
        return [json.loads(e)["source-ref"] for page in pages for e in page["DatasetEntries"]]

    assert len(listed()) == 10
    assert listed(ContainsLabels=["warm"]) == [f"s3://{BUCKET}/{k}" for k in photos["warm"][:4]]
    assert listed(Labeled=False) == [unlabelled["source-ref"], bad_box["source-ref"]]
    assert listed(HasErrors=True) == [bad_box["source-ref"]]
    assert listed(SourceRefContains="cool-1") == [f"s3://{BUCKET}/{photos['cool'][1]}"]
    assert listed(ContainsLabels=["cool"], SourceRefContains="warm") == []
    labels = rek.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
    assert labels == [
        {"LabelName": "cool", "LabelStats": {"EntryCount": 4, "BoundingBoxCount": 0}},
        {"LabelName": "warm", "LabelStats": {"EntryCount": 4, "BoundingBoxCount": 0}},
    ]

    # UpdateDatasetEntries: a known source-ref is replaced, a new one added; the status
    # says UPDATE_* from the first DescribeDataset on.
    changes = manifest([classification_line(s3_ref(BUCKET, photos["warm"][0]), "cool"), classification_line(s3_ref(BUCKET, photos["warm"][8]), "warm")])  # fmt: skip
    rek.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": changes})
    assert rek.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"] in ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE")  # fmt: skip
    description = wait_dataset(rek, train)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == 11
    counts = {d["LabelName"]: d["LabelStats"]["EntryCount"] for d in rek.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]}  # fmt: skip
    assert counts == {"cool": 5, "warm": 4}

    assert error_code(rek.create_dataset, ProjectArn=project, DatasetType="TRAIN") == "ResourceAlreadyExistsException"  # fmt: skip
    test = rek.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    assert wait_dataset(rek, test)["DatasetStats"]["TotalEntries"] == 0
    rek.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    assert rek.describe_dataset(DatasetArn=test)["DatasetDescription"]["Status"] in ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE")  # fmt: skip
    assert wait_dataset(rek, train)["Status"] == "UPDATE_COMPLETE"
    moved = wait_dataset(rek, test)
    assert moved["Status"] == "UPDATE_COMPLETE" and moved["DatasetStats"]["TotalEntries"] == 2
    assert wait_dataset(rek, train)["DatasetStats"]["TotalEntries"] == 9
    assert not set(listed()) & {json.loads(e)["source-ref"] for e in rek.list_dataset_entries(DatasetArn=test)["DatasetEntries"]}  # fmt: skip
    assert error_code(rek.distribute_dataset_entries, Datasets=[{"Arn": train}, {"Arn": test}]) == "InvalidParameterException"  # fmt: skip

    # A copy of a dataset into another project has its entries.
    other = rek.create_project(ProjectName="cl-datasets-copy")["ProjectArn"]
    copy = rek.create_dataset(ProjectArn=other, DatasetType="TRAIN", DatasetSource={"DatasetArn": train})["DatasetArn"]  # fmt: skip
    assert wait_dataset(rek, copy)["DatasetStats"] == wait_dataset(rek, train)["DatasetStats"]

    rek.delete_dataset(DatasetArn=copy)
    assert error_code(rek.update_dataset_entries, DatasetArn=copy, Changes={"GroundTruth": changes}) in ("ResourceInUseException", "ResourceNotFoundException")  # fmt: skip
    for _ in range(200):
        try:
            rek.describe_dataset(DatasetArn=copy)
        except rek.exceptions.ResourceNotFoundException:
            break
    else:
        pytest.fail("the deleted dataset is still there")
    rek.delete_project(ProjectArn=other)


def test_a_manifest_that_cannot_be_a_dataset(rekognition, s3, photos):
    rek = rekognition
    project = rek.create_project(ProjectName="cl-bad-manifests")["ProjectArn"]
    missing = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "manifests/none"}}}
    assert error_code(rek.create_dataset, ProjectArn=project, DatasetType="TRAIN", DatasetSource=missing) == "InvalidS3ObjectException"  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key="manifests/junk", Body=b"not\njson\nat all\n" + manifest(lines(photos, 1)))  # fmt: skip
    junk = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "manifests/junk"}}}
    train = rek.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=junk)["DatasetArn"]  # fmt: skip
    failed = wait_dataset(rek, train)
    assert failed["Status"] == "CREATE_FAILED" and failed["StatusMessageCode"] == "CLIENT_ERROR"
    assert failed["StatusMessage"].startswith("The manifest file has too many terminal errors.")
    assert error_code(rek.list_dataset_entries, DatasetArn=train) == "ResourceNotReadyException"
    assert error_code(rek.create_project_version, ProjectArn=project, VersionName="v", OutputConfig=output("bad")) == "InvalidParameterException"  # fmt: skip
    rek.delete_dataset(DatasetArn=train)


# -- training and the model lifecycle ----------------------------------------------------------------
def test_training_from_datasets_then_every_transition(rekognition, s3, photos):
    rek = rekognition
    project = rek.create_project(ProjectName="cl-lifecycle")["ProjectArn"]
    source = {"GroundTruthManifest": put_manifest(s3, BUCKET, "manifests/lifecycle.manifest", lines(photos))}  # fmt: skip
    train = rek.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source)["DatasetArn"]  # fmt: skip
    test = rek.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    wait_dataset(rek, train), wait_dataset(rek, test)
    rek.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    wait_dataset(rek, train), wait_dataset(rek, test)
    manifests = {"Assets": [{"GroundTruthManifest": source["GroundTruthManifest"]}]}
    assert error_code(rek.create_project_version, ProjectArn=project, VersionName="x", OutputConfig=output("x"), TrainingData=manifests, TestingData={"AutoCreate": True}) == "InvalidParameterException"  # fmt: skip

    arn = rek.create_project_version(ProjectArn=project, VersionName="v1", OutputConfig=output("lifecycle"), VersionDescription="first try")["ProjectVersionArn"]  # fmt: skip
    assert ":project/cl-lifecycle/version/v1/" in arn
    assert error_code(rek.create_project_version, ProjectArn=project, VersionName="v1", OutputConfig=output("x")) == "ResourceInUseException"  # fmt: skip
    version = wait_trained(rek, project, "v1")
    assert version["Status"] == "TRAINING_COMPLETED"
    assert version["StatusMessage"] == "The model is ready to run."
    assert version["VersionDescription"] == "first try" and version["Feature"] == "CUSTOM_LABELS"
    assert version["BillableTrainingTimeInSeconds"] >= 1
    assert version["TrainingEndTimestamp"] >= version["CreationTimestamp"]
    assert version["TrainingDataResult"]["Input"] == {}
    assert version["TestingDataResult"]["Output"]["AutoCreate"] is False
    summary_at = version["EvaluationResult"]["Summary"]["S3Object"]
    assert summary_at == {"Bucket": BUCKET, "Name": "output/lifecycle/EvaluationResultSummary-cl-lifecycle-v1.json"}  # fmt: skip
    summary = json.loads(
        s3.get_object(**{"Bucket": BUCKET, "Key": summary_at["Name"]})["Body"].read()
    )
    assert summary["EvaluationDetails"]["ProjectVersionArn"] == arn
    assert summary["AggregatedEvaluationResults"]["F1Score"] == pytest.approx(version["EvaluationResult"]["F1Score"], abs=1e-6)  # fmt: skip
    written = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="output/lifecycle/")["Contents"]}  # fmt: skip
    assert {k.split("/")[-1].split("-")[0] for k in written} == {
        "EvaluationResultSummary", "ManifestSummary", "TrainingGroundTruth",
        "TestingGroundTruth", "TrainingManifestWithValidation", "TestingManifestWithValidation",
    }  # fmt: skip

    warm = {"Bytes": picture("warm", 77)}
    assert error_code(rek.detect_custom_labels, ProjectVersionArn=arn, Image=warm) == "ResourceNotReadyException"  # fmt: skip
    assert error_code(rek.stop_project_version, ProjectVersionArn=arn) == "ResourceInUseException"
    assert error_code(rek.start_project_version, ProjectVersionArn=arn, MinInferenceUnits=2, MaxInferenceUnits=1) == "InvalidParameterException"  # fmt: skip
    assert rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1, MaxInferenceUnits=3)["Status"] in ("STARTING", "RUNNING")  # fmt: skip
    rek.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"])
    (running,) = rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    assert (running["Status"], running["MinInferenceUnits"], running["MaxInferenceUnits"]) == ("RUNNING", 1, 3)  # fmt: skip
    assert error_code(rek.start_project_version, ProjectVersionArn=arn, MinInferenceUnits=1) == "ResourceInUseException"  # fmt: skip
    assert error_code(rek.delete_project_version, ProjectVersionArn=arn) == "ResourceInUseException"

    labels = rek.detect_custom_labels(ProjectVersionArn=arn, Image=warm, MinConfidence=0)["CustomLabels"]  # fmt: skip
    assert [label["Name"] for label in labels] == ["warm", "cool"]
    assert labels[0]["Confidence"] > 50 > labels[1]["Confidence"]
    assert [x["Name"] for x in rek.detect_custom_labels(ProjectVersionArn=arn, Image=warm)["CustomLabels"]] == ["warm"]  # fmt: skip
    assert rek.detect_custom_labels(ProjectVersionArn=arn, Image=warm, MinConfidence=0, MaxResults=1)["CustomLabels"] == labels[:1]  # fmt: skip
    s3_image = {"S3Object": {"Bucket": BUCKET, "Name": photos["cool"][0]}}
    assert rek.detect_custom_labels(ProjectVersionArn=arn, Image=s3_image)["CustomLabels"][0]["Name"] == "cool"  # fmt: skip
    big = np.random.default_rng(0).integers(0, 256, (1500, 1500, 3), np.uint8)  # 4.3 MB
    assert error_code(rek.detect_custom_labels, ProjectVersionArn=arn, Image={"Bytes": jpeg(big, 100)}) == "ImageTooLargeException"  # fmt: skip
    assert error_code(rek.detect_custom_labels, ProjectVersionArn=arn, Image={"Bytes": jpeg(np.zeros((40, 40, 3), np.uint8))}) == "InvalidParameterException"  # fmt: skip
    assert error_code(rek.detect_custom_labels, ProjectVersionArn=arn + "0", Image=warm) == "ResourceNotFoundException"  # fmt: skip

    assert rek.stop_project_version(ProjectVersionArn=arn)["Status"] in ("STOPPING", "STOPPED")
    assert error_code(rek.detect_custom_labels, ProjectVersionArn=arn, Image=warm) == "ResourceNotReadyException"  # fmt: skip
    assert error_code(rek.stop_project_version, ProjectVersionArn=arn) == "ResourceInUseException"
    rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
    rek.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"])
    assert rek.detect_custom_labels(ProjectVersionArn=arn, Image=warm)["CustomLabels"][0]["Name"] == "warm"  # fmt: skip
    rek.stop_project_version(ProjectVersionArn=arn)
    assert error_code(rek.delete_project, ProjectArn=project) == "ResourceInUseException"
    assert rek.delete_project_version(ProjectVersionArn=arn)["Status"] == "DELETING"
    assert rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"] == []
    assert error_code(rek.delete_project_version, ProjectVersionArn=arn) == "ResourceNotFoundException"  # fmt: skip
    assert error_code(rek.start_project_version, ProjectVersionArn=arn, MinInferenceUnits=1) == "ResourceNotFoundException"  # fmt: skip


def test_training_that_cannot_succeed_ends_training_failed_with_aws_message(rekognition, s3, photos):  # fmt: skip
    rek = rekognition
    project = rek.create_project(ProjectName="cl-failures")["ProjectArn"]
    one_label = put_manifest(s3, BUCKET, "manifests/one-label.manifest", lines({"warm": photos["warm"]}))  # fmt: skip
    arn = rek.create_project_version(
        ProjectArn=project,
        VersionName="one-label",
        OutputConfig=output("failures"),
        TrainingData={"Assets": [{"GroundTruthManifest": one_label}]},
        TestingData={"AutoCreate": True},
    )["ProjectVersionArn"]
    with pytest.raises(botocore.exceptions.WaiterError):  # the waiter's failure state
        rek.get_waiter("project_version_training_completed").wait(ProjectArn=project, VersionNames=["one-label"])  # fmt: skip
    (failed,) = rek.describe_project_versions(ProjectArn=project, VersionNames=["one-label"])["ProjectVersionDescriptions"]  # fmt: skip
    assert failed["Status"] == "TRAINING_FAILED"
    assert failed["StatusMessage"].startswith("The manifest file has too few labels.")
    assert "EvaluationResult" not in failed and "BillableTrainingTimeInSeconds" not in failed
    at = failed["ManifestSummary"]["S3Object"]
    written = json.loads(s3.get_object(Bucket=at["Bucket"], Key=at["Name"])["Body"].read())
    assert written["errors"][0]["code"] == "ERROR_MANIFEST_TOO_FEW_LABELS"
    assert error_code(rek.start_project_version, ProjectVersionArn=arn, MinInferenceUnits=1) == "ResourceInUseException"  # fmt: skip
    assert error_code(rek.copy_project_version, SourceProjectArn=project, SourceProjectVersionArn=arn, DestinationProjectArn=project, VersionName="copy", OutputConfig=output("copy")) == "InvalidParameterException"  # fmt: skip

    both = put_manifest(s3, BUCKET, "manifests/both.manifest", lines(photos))
    nowhere = rek.create_project_version(
        ProjectArn=project,
        VersionName="no-bucket",
        OutputConfig={"S3Bucket": "custom-labels-no-such-bucket"},
        TrainingData={"Assets": [{"GroundTruthManifest": both}]},
        TestingData={"AutoCreate": True},
    )["ProjectVersionArn"]
    (no_bucket,) = rek.describe_project_versions(ProjectArn=project, VersionNames=["no-bucket"])["ProjectVersionDescriptions"]  # fmt: skip
    assert no_bucket["Status"] == "TRAINING_FAILED"
    assert no_bucket["StatusMessage"].startswith("The output S3 bucket cannot be written to.")
    assert error_code(rek.create_project_version, ProjectArn=project, VersionName="half", OutputConfig=output("x"), TrainingData={"Assets": [{"GroundTruthManifest": both}]}) == "InvalidParameterException"  # fmt: skip
    assert error_code(rek.create_project_version, ProjectArn=project, VersionName="none", OutputConfig=output("x")) == "InvalidParameterException"  # fmt: skip
    for version in (arn, nowhere):
        assert rek.delete_project_version(ProjectVersionArn=version)["Status"] == "DELETING"
    rek.delete_project(ProjectArn=project)


# -- policies and copies ------------------------------------------------------------------------------
def policy_document(account: str, version_arn: str, action: str = "rekognition:CopyProjectVersion", **extra) -> str:  # fmt: skip
    statement = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": action, "Resource": version_arn, **extra}  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_project_policies_revisions_and_a_copy_to_another_account(rekognition, s3, endpoint, photos):  # fmt: skip
    rek = rekognition
    project, arn = trained_project(rek, s3, photos, "cl-policies")
    owner = arn.split(":")[4]
    other = make_client("rekognition", endpoint, access_key="222233334444")
    document = policy_document("222233334444", arn)

    def put(**kwargs) -> str:
        return rek.put_project_policy(ProjectArn=project, **kwargs)["PolicyRevisionId"]

    assert error_code(put, PolicyName="p", PolicyDocument="{not json") == "MalformedPolicyDocumentException"  # fmt: skip
    assert error_code(put, PolicyName="p", PolicyDocument=policy_document("222233334444", arn, action="rekognition:DetectCustomLabels")) == "MalformedPolicyDocumentException"  # fmt: skip
    not_action = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "NotAction": "s3:*", "Resource": arn}]})  # fmt: skip
    assert error_code(put, PolicyName="p", PolicyDocument=not_action) == "MalformedPolicyDocumentException"  # fmt: skip

    # The other account cannot copy before a policy allows it.
    destination = other.create_project(ProjectName="cl-policies-copies")["ProjectArn"]
    copy = {"SourceProjectArn": project, "SourceProjectVersionArn": arn, "DestinationProjectArn": destination, "OutputConfig": output("copies")}  # fmt: skip
    assert (
        error_code(other.copy_project_version, VersionName="c1", **copy) == "AccessDeniedException"
    )

    first = put(PolicyName="share", PolicyDocument=document)
    assert error_code(put, PolicyName="share", PolicyDocument=document) == "ResourceAlreadyExistsException"  # fmt: skip
    second = put(PolicyName="share", PolicyDocument=document, PolicyRevisionId=first)
    assert second != first
    assert error_code(put, PolicyName="share", PolicyDocument=document, PolicyRevisionId=first) == "InvalidPolicyRevisionIdException"  # fmt: skip
    (listed,) = rek.list_project_policies(ProjectArn=project)["ProjectPolicies"]
    assert (listed["PolicyName"], listed["PolicyRevisionId"], listed["PolicyDocument"]) == ("share", second, document)  # fmt: skip
    for n in range(4):
        put(PolicyName=f"extra-{n}", PolicyDocument=document)
    assert error_code(put, PolicyName="sixth", PolicyDocument=document) == "LimitExceededException"
    pages = rek.get_paginator("list_project_policies").paginate(ProjectArn=project, PaginationConfig={"PageSize": 2})  # fmt: skip
    assert sorted(p["PolicyName"] for page in pages for p in page["ProjectPolicies"]) == ["extra-0", "extra-1", "extra-2", "extra-3", "share"]  # fmt: skip
    assert error_code(rek.delete_project_policy, ProjectArn=project, PolicyName="extra-0", PolicyRevisionId="abc123") == "InvalidPolicyRevisionIdException"  # fmt: skip
    for n in range(4):
        rek.delete_project_policy(ProjectArn=project, PolicyName=f"extra-{n}")
    assert error_code(rek.delete_project_policy, ProjectArn=project, PolicyName="extra-0") == "ResourceNotFoundException"  # fmt: skip

    copied = other.copy_project_version(VersionName="c1", **copy)["ProjectVersionArn"]
    assert copied.split(":")[4] == "222233334444" and owner != "222233334444"
    (version,) = other.describe_project_versions(ProjectArn=destination)["ProjectVersionDescriptions"]  # fmt: skip
    assert version["Status"] == "COPYING_COMPLETED" and version["SourceProjectVersionArn"] == arn
    summary = version["EvaluationResult"]["Summary"]["S3Object"]
    assert summary["Name"] == "output/copies/EvaluationResultSummary-cl-policies-copies-c1.json"
    other.start_project_version(ProjectVersionArn=copied, MinInferenceUnits=1)
    other.get_waiter("project_version_running").wait(ProjectArn=destination, VersionNames=["c1"])
    rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
    rek.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"])
    image = {"Bytes": picture("cool", 55)}
    assert other.detect_custom_labels(ProjectVersionArn=copied, Image=image, MinConfidence=0)["CustomLabels"] == rek.detect_custom_labels(ProjectVersionArn=arn, Image=image, MinConfidence=0)["CustomLabels"]  # fmt: skip
    # A copy within one account needs no policy.
    same = rek.copy_project_version(**{**copy, "DestinationProjectArn": project}, VersionName="v1-copy")["ProjectVersionArn"]  # fmt: skip
    assert rek.describe_project_versions(ProjectArn=project, VersionNames=["v1-copy"])["ProjectVersionDescriptions"][0]["Status"] == "COPYING_COMPLETED"  # fmt: skip
    # The project goes, and its policies with it.
    for client, version_arn in ((rek, arn), (other, copied)):
        client.stop_project_version(ProjectVersionArn=version_arn)
    for client, version_arn in ((rek, arn), (rek, same), (other, copied)):
        client.delete_project_version(ProjectVersionArn=version_arn)
    rek.delete_project(ProjectArn=project)
    other.delete_project(ProjectArn=destination)
    assert error_code(rek.list_project_policies, ProjectArn=project) == "ResourceNotFoundException"


def test_tags_on_model_versions_and_datasets(rekognition, s3, photos):
    rek = rekognition
    project, arn = trained_project(rek, s3, photos, "cl-tags")
    rek.tag_resource(ResourceArn=arn, Tags={"stage": "test", "owner": "qa"})
    rek.untag_resource(ResourceArn=arn, TagKeys=["owner"])
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"stage": "test"}
    assert rek.list_tags_for_resource(ResourceArn=project)["Tags"] == {}
    assert error_code(rek.tag_resource, ResourceArn=arn + "1", Tags={"a": "b"}) == "ResourceNotFoundException"  # fmt: skip
    rek.delete_project_version(ProjectVersionArn=arn)
    assert error_code(rek.list_tags_for_resource, ResourceArn=arn) == "ResourceNotFoundException"
    rek.delete_project(ProjectArn=project)


# -- moderation adapters ---------------------------------------------------------------------------------
def test_a_moderation_adapter_rescored_detect_moderation_labels(rekognition, s3, photos):
    rek = rekognition
    project = rek.create_project(ProjectName="cl-adapter", Feature="CONTENT_MODERATION")["ProjectArn"]  # fmt: skip

    def line(key: str, names: list[str]) -> dict:
        return {"source-ref": f"s3://{BUCKET}/{key}", "content-moderation-groundtruth": {"ModerationLabels": [{"Name": n} for n in names]}}  # fmt: skip

    flagged = "Gambling"  # the user's rule: warm pictures are to be flagged as gambling
    rows = [line(k, [flagged]) for k in photos["warm"][:8]] + [line(k, []) for k in photos["cool"][:8]]  # fmt: skip
    arn = rek.create_project_version(
        ProjectArn=project,
        VersionName="adapter-1",
        OutputConfig=output("adapter"),
        TrainingData={
            "Assets": [
                {
                    "GroundTruthManifest": put_manifest(
                        s3, BUCKET, "manifests/adapter.manifest", rows
                    )
                }
            ]
        },  # fmt: skip
        TestingData={"AutoCreate": True},
        FeatureConfig={"ContentModeration": {"ConfidenceThreshold": 60}},
    )["ProjectVersionArn"]
    version = wait_trained(rek, project, "adapter-1")
    assert version["Feature"] == "CONTENT_MODERATION" and version["BaseModelVersion"] == "7.0"
    assert version["FeatureConfig"] == {"ContentModeration": {"ConfidenceThreshold": 60.0}}
    warm = {"S3Object": {"Bucket": BUCKET, "Name": photos["warm"][9]}}
    adapted = rek.detect_moderation_labels(Image=warm, ProjectVersion=arn)
    assert adapted["ProjectVersion"] == arn
    assert flagged in [label["Name"] for label in adapted["ModerationLabels"]]
    plain = rek.detect_moderation_labels(Image=warm)
    assert "ProjectVersion" not in plain
    assert flagged not in [label["Name"] for label in plain["ModerationLabels"]]
    cool = rek.detect_moderation_labels(Image={"S3Object": {"Bucket": BUCKET, "Name": photos["cool"][9]}}, ProjectVersion=arn)  # fmt: skip
    assert flagged not in [label["Name"] for label in cool["ModerationLabels"]]
    # An adapter is never started, and is no Custom Labels model; and a model is no adapter.
    assert error_code(rek.start_project_version, ProjectVersionArn=arn, MinInferenceUnits=1) == "InvalidParameterException"  # fmt: skip
    assert error_code(rek.detect_custom_labels, ProjectVersionArn=arn, Image=warm) == "InvalidParameterException"  # fmt: skip
    missing = arn.replace("adapter-1", "adapter-2")
    assert error_code(rek.detect_moderation_labels, Image=warm, ProjectVersion=missing) == "ResourceNotFoundException"  # fmt: skip
    custom, model = trained_project(rek, s3, photos, "cl-not-an-adapter")
    assert error_code(rek.detect_moderation_labels, Image=warm, ProjectVersion=model) == "InvalidParameterException"  # fmt: skip
    assert error_code(rek.create_project_version, ProjectArn=custom, VersionName="v2", OutputConfig=output("x"), FeatureConfig={"ContentModeration": {"ConfidenceThreshold": 50}}) == "InvalidParameterException"  # fmt: skip
    for version_arn, project_arn in ((arn, project), (model, custom)):
        rek.delete_project_version(ProjectVersionArn=version_arn)
        rek.delete_project(ProjectArn=project_arn)
