"""Media analysis jobs (bulk image moderation) through boto3 against a live emulator: the
manifest and the images in the embedded S3, the results read back from it.

The tests use an account of their own (a 12-digit access key), so the job listings hold
their jobs only.
"""

from __future__ import annotations

import json
import time

import cv2
import pytest
import skimage.data
from botocore.exceptions import ClientError

from tests.conftest import jpeg, make_client
from tests.shape_check import validate_responses

ACCOUNT = "111122223333"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "page", "clock", "hubble_deep_field")  # fmt: skip
MODERATION = {"MinConfidence": 50}


@pytest.fixture(scope="module")
def clients(endpoint):
    rek = validate_responses(make_client("rekognition", endpoint, access_key=ACCOUNT))
    s3 = make_client("s3", endpoint, access_key=ACCOUNT)
    s3.create_bucket(Bucket="media-in")
    s3.create_bucket(Bucket="media-out")
    return rek, s3


def photo(name: str, flip: bool = False) -> bytes:
    rgb = getattr(skimage.data, name)()
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    return jpeg(rgb[:, ::-1].copy() if flip else rgb)


def put_manifest(s3, key: str, lines: list[str]) -> dict:
    s3.put_object(Bucket="media-in", Key=key, Body=("\n".join(lines) + "\n").encode())
    return {"S3Object": {"Bucket": "media-in", "Name": key}}


def wait(rek, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        job = rek.get_media_analysis_job(JobId=job_id)
        seen.append(job["Status"])
        if job["Status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            job["SeenStatuses"] = seen
            return job
        time.sleep(0.2)


def read_json(s3, s3_object: dict) -> bytes:
    return s3.get_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"])["Body"].read()


def test_a_job_over_20_images_writes_one_line_per_image(clients):
    rek, s3 = clients
    refs = []
    for i in range(20):
        name = PHOTOS[i % len(PHOTOS)]
        key = f"images/{i:02d}-{name}.jpg"
        s3.put_object(Bucket="media-in", Key=key, Body=photo(name, flip=i >= len(PHOTOS)))
        refs.append(f"s3://media-in/{key}")
    manifest = put_manifest(s3, "twenty.jsonl", [json.dumps({"source-ref": r}) for r in refs])
    started = rek.start_media_analysis_job(
        JobName="twenty-images",
        OperationsConfig={"DetectModerationLabels": MODERATION},
        Input=manifest,
        OutputConfig={"S3Bucket": "media-out", "S3KeyPrefix": "bulk/"},
    )
    job = wait(rek, started["JobId"])
    assert job["Status"] == "SUCCEEDED", job
    assert set(job["SeenStatuses"]) <= {"QUEUED", "IN_PROGRESS", "SUCCEEDED"}
    assert job["JobName"] == "twenty-images"
    assert job["CompletionTimestamp"] >= job["CreationTimestamp"]
    assert job["Results"]["ModelVersions"] == {"Moderation": "7.0"}
    assert job["Results"]["S3Object"]["Name"].startswith(f"bulk/{job['JobId']}/")

    lines = read_json(s3, job["Results"]["S3Object"]).decode().splitlines()
    assert len(lines) == 20
    out = [json.loads(line) for line in lines]
    assert [o["source-ref"] for o in out] == refs
    for o in out:
        assert set(o) == {"source-ref", "detect-moderation-labels"}
        result = o["detect-moderation-labels"]
        assert set(result) == {"ModerationLabels", "ModerationModelVersion", "ContentTypes"}
        assert result["ModerationModelVersion"] == "7.0"
    # Each line is what DetectModerationLabels answers for that image.
    for i in (0, 3, 13):
        direct = rek.detect_moderation_labels(
            Image={"S3Object": {"Bucket": "media-in", "Name": refs[i].split("/", 3)[3]}},
            MinConfidence=50,
        )
        assert out[i]["detect-moderation-labels"]["ModerationLabels"] == direct["ModerationLabels"]
        assert out[i]["detect-moderation-labels"]["ContentTypes"] == direct["ContentTypes"]

    summary = json.loads(read_json(s3, job["ManifestSummary"]["S3Object"]))
    assert summary == {
        "version": "1.0",
        "statistics": {"total-json-lines": 20, "valid-json-lines": 20, "invalid-json-lines": 0},
        "errors": [],
    }


def test_bad_lines_are_reported_and_the_rest_analysed(clients):
    rek, s3 = clients
    s3.put_object(Bucket="media-in", Key="good.jpg", Body=photo("coffee"))
    s3.put_object(Bucket="media-in", Key="not-an-image.jpg", Body=b"GIF89a not a photo")
    manifest = put_manifest(
        s3,
        "mixed.jsonl",
        [
            '{"source-ref": "s3://media-in/good.jpg"}',
            "this is not JSON",
            '{"image": "s3://media-in/good.jpg"}',
            '{"source-ref": "https://example.com/good.jpg"}',
            '{"source-ref": "s3://media-in/missing.jpg"}',
            "",  # a blank line is not a JSON line
            '{"source-ref": "s3://media-in/not-an-image.jpg"}',
            '{"source-ref": "s3://media-in/good.jpg"}',  # duplicates are analysed again
        ],
    )
    started = rek.start_media_analysis_job(
        OperationsConfig={"DetectModerationLabels": {}},
        Input=manifest,
        OutputConfig={"S3Bucket": "media-out"},
    )
    job = wait(rek, started["JobId"])
    assert job["Status"] == "SUCCEEDED", job
    lines = read_json(s3, job["Results"]["S3Object"]).decode().splitlines()
    assert [json.loads(x)["source-ref"] for x in lines] == ["s3://media-in/good.jpg"] * 2
    summary = json.loads(read_json(s3, job["ManifestSummary"]["S3Object"]))
    assert job["ManifestSummary"]["S3Object"]["Name"] == f"{job['JobId']}/manifest-summary.json"
    assert summary["statistics"] == {
        "total-json-lines": 7,
        "valid-json-lines": 2,
        "invalid-json-lines": 5,
    }
    found = [(e["line-numer"], e["code"], e.get("source-ref")) for e in summary["errors"]]
    assert found == [
        (2, "ERROR_INVALID_JSON_LINE", None),
        (3, "ERROR_MISSING_SOURCE_REF", None),
        (4, "ERROR_INVALID_SOURCE_REF_FORMAT", None),
        (5, "ERROR_INVALID_IMAGE", "s3://media-in/missing.jpg"),
        (6, "ERROR_INVALID_IMAGE", "s3://media-in/not-an-image.jpg"),
    ]
    assert all(e["message"] for e in summary["errors"])


def test_start_refuses_what_cannot_run(clients):
    rek, s3 = clients
    output = {"S3Bucket": "media-out"}
    ops = {"DetectModerationLabels": {}}

    def code(**params) -> str:
        with pytest.raises(ClientError) as raised:
            rek.start_media_analysis_job(**params)
        return raised.value.response["Error"]["Code"]

    empty = put_manifest(s3, "empty.jsonl", ["", "  "])
    assert (
        code(OperationsConfig=ops, Input=empty, OutputConfig=output) == "InvalidManifestException"
    )
    huge = put_manifest(s3, "huge.jsonl", ['{"source-ref": "s3://media-in/good.jpg"}'] * 10_001)
    assert code(OperationsConfig=ops, Input=huge, OutputConfig=output) == "InvalidManifestException"
    missing = {"S3Object": {"Bucket": "media-in", "Name": "no-such-manifest.jsonl"}}
    assert (
        code(OperationsConfig=ops, Input=missing, OutputConfig=output) == "InvalidS3ObjectException"
    )
    one = put_manifest(s3, "one.jsonl", ['{"source-ref": "s3://media-in/good.jpg"}'])
    assert code(OperationsConfig={}, Input=one, OutputConfig=output) == "InvalidParameterException"
    adapter = f"arn:aws:rekognition:us-east-1:{ACCOUNT}:project/mod/version/v1/1"
    assert (
        code(
            OperationsConfig={"DetectModerationLabels": {"ProjectVersion": adapter}},
            Input=one,
            OutputConfig=output,
        )
        == "ResourceNotFoundException"
    )
    with pytest.raises(ClientError) as raised:
        rek.get_media_analysis_job(JobId="no-such-job")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_output_bucket_that_does_not_exist_fails_the_job(clients):
    rek, s3 = clients
    s3.put_object(Bucket="media-in", Key="good.jpg", Body=photo("coffee"))
    one = put_manifest(s3, "one.jsonl", ['{"source-ref": "s3://media-in/good.jpg"}'])
    started = rek.start_media_analysis_job(
        OperationsConfig={"DetectModerationLabels": {}},
        Input=one,
        OutputConfig={"S3Bucket": "no-such-output-bucket"},
    )
    job = wait(rek, started["JobId"])
    assert job["Status"] == "FAILED"
    assert job["FailureDetails"]["Code"] == "INVALID_OUTPUT_CONFIG"
    assert "no-such-output-bucket" in job["FailureDetails"]["Message"]
    assert "Results" not in job


def test_client_request_token_gives_the_same_job(clients):
    rek, s3 = clients
    s3.put_object(Bucket="media-in", Key="good.jpg", Body=photo("coffee"))
    one = put_manifest(s3, "one.jsonl", ['{"source-ref": "s3://media-in/good.jpg"}'])
    params = {
        "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 60}},
        "Input": one,
        "OutputConfig": {"S3Bucket": "media-out"},
        "ClientRequestToken": "bulk-token-1",
    }
    first = rek.start_media_analysis_job(**params)["JobId"]
    assert rek.start_media_analysis_job(**params)["JobId"] == first
    changed = {**params, "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 70}}}
    with pytest.raises(ClientError) as raised:
        rek.start_media_analysis_job(**changed)
    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert wait(rek, first)["OperationsConfig"] == params["OperationsConfig"]


def test_list_is_newest_first_in_pages(clients):
    rek, s3 = clients
    s3.put_object(Bucket="media-in", Key="good.jpg", Body=photo("coffee"))
    one = put_manifest(s3, "one.jsonl", ['{"source-ref": "s3://media-in/good.jpg"}'])
    ids = [
        rek.start_media_analysis_job(
            JobName=f"listed-{n}",
            OperationsConfig={"DetectModerationLabels": {}},
            Input=one,
            OutputConfig={"S3Bucket": "media-out"},
        )["JobId"]
        for n in range(3)
    ]
    listed, token = [], None
    while True:
        page = rek.list_media_analysis_jobs(MaxResults=2, **({"NextToken": token} if token else {}))  # fmt: skip
        assert len(page["MediaAnalysisJobs"]) <= 2
        listed += page["MediaAnalysisJobs"]
        token = page.get("NextToken")
        if not token:
            break
    order = [j["JobId"] for j in listed]
    assert order[:3] == ids[::-1]
    stamps = [j["CreationTimestamp"] for j in listed]
    assert stamps == sorted(stamps, reverse=True)
    assert len(rek.list_media_analysis_jobs()["MediaAnalysisJobs"]) == min(len(listed), 100)
    with pytest.raises(ClientError) as raised:
        make_client("rekognition", rek.meta.endpoint_url, access_key=ACCOUNT).list_media_analysis_jobs(MaxResults=101)  # fmt: skip
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        rek.list_media_analysis_jobs(NextToken="not-a-token")
    assert raised.value.response["Error"]["Code"] == "InvalidPaginationTokenException"
    for job_id in ids:
        wait(rek, job_id)
