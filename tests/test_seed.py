"""Deterministic mode: with `--seed`, two servers answer the same requests with byte-identical
responses (FaceId, ImageId, JobId, request ids, NextTokens, the embedded services' ids)."""

from __future__ import annotations

import base64
import os

import boto3
import cv2
import numpy as np
import pytest
import skimage.data

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.conftest import REPO, jpeg
from tests.wire import call


def _server(*args: str, data_dir=None) -> EmulatorProcess:
    # The job probe serves every real operation, and StartLabelDetection as a test job, so
    # that a JobId is generated too.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return EmulatorProcess(
        data_dir=data_dir, args=list(args), env={"PYTHONPATH": path}, module="tests.job_probe"
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ASTRONAUT = jpeg(skimage.data.astronaut())
MIRRORED = jpeg(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1]))
SMALLER = jpeg(cv2.resize(skimage.data.astronaut(), (400, 400)))

# (operation, request): responses without a timestamp (DescribeCollection's CreationTimestamp
# and job times are the wall clock, see the README).
SCRIPT = [
    ("CreateCollection", {"CollectionId": "seeded"}),
    ("CreateCollection", {"CollectionId": "seeded-2"}),
    ("ListCollections", {"MaxResults": 1}),
    ("IndexFaces", {"CollectionId": "seeded", "Image": {"Bytes": _b64(ASTRONAUT)}}),
    ("IndexFaces", {"CollectionId": "seeded", "Image": {"Bytes": _b64(MIRRORED)}}),
    ("ListFaces", {"CollectionId": "seeded", "MaxResults": 1}),
    ("SearchFacesByImage", {"CollectionId": "seeded", "Image": {"Bytes": _b64(SMALLER)}}),
    ("CreateUser", {"CollectionId": "seeded", "UserId": "ann"}),
    ("ListUsers", {"CollectionId": "seeded"}),
    ("DetectFaces", {"Image": {"Bytes": _b64(ASTRONAUT)}}),
    ("StartLabelDetection", {"Video": {"S3Object": {"Bucket": "videos", "Name": "v.mp4"}}}),
    ("DescribeCollection", {"CollectionId": "missing"}),  # an error carries a request id too
]


def _run(endpoint: str) -> list[tuple[int, str, bytes]]:
    out = []
    for operation, body in SCRIPT:
        reply = call(endpoint, operation, body)
        out.append((reply.status, reply.headers["x-amzn-requestid"], reply.body))
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    sns = session.client("sns", endpoint_url=endpoint)
    topic = sns.create_topic(Name="jobs")["TopicArn"]
    message_id = sns.publish(TopicArn=topic, Message="hello")["MessageId"]
    out.append((200, "sns", message_id.encode()))
    return out


@pytest.fixture(scope="module")
def seeded_runs(tmp_path_factory):
    runs = {}
    for name, args in (("a", ("--seed", "42")), ("b", ("--seed", "42")), ("c", ("--seed", "43"))):
        server = _server(*args, data_dir=tmp_path_factory.mktemp(f"seed-{name}"))
        try:
            runs[name] = _run(server.start())
        finally:
            server.stop()
        runs[f"{name}-dir"] = server.data_dir
    return runs


def test_two_runs_with_the_same_seed_answer_byte_identical_responses(seeded_runs):
    first, second = seeded_runs["a"], seeded_runs["b"]
    assert [status for status, _, _ in first] == [200] * 11 + [400, 200]
    for (operation, _), one, other in zip(SCRIPT, first, second, strict=False):
        assert one == other, operation
    assert first[-1] == second[-1]  # the embedded SNS's MessageId too


def test_the_seeded_ids_look_like_awss(seeded_runs):
    import json

    bodies = [body for _, _, body in seeded_runs["a"]]
    responses = {op: json.loads(body) for (op, _), body in zip(SCRIPT, bodies, strict=False)}
    face_id = responses["IndexFaces"]["FaceRecords"][0]["Face"]["FaceId"]
    assert len(face_id) == 36 and face_id[14] == "4"  # a version-4 UUID
    job_id = responses["StartLabelDetection"]["JobId"]
    assert len(job_id) == 64 and int(job_id, 16) >= 0
    assert responses["ListCollections"]["NextToken"]


def test_another_seed_gives_other_ids(seeded_runs):
    first, other = seeded_runs["a"], seeded_runs["c"]
    index = [op for op, _ in SCRIPT].index("IndexFaces")
    assert first[index][2] != other[index][2]
    assert first[0][1] != other[0][1]  # request ids


def test_a_restart_on_the_same_data_dir_goes_on_with_fresh_ids(seeded_runs):
    import json

    index = [op for op, _ in SCRIPT].index("IndexFaces")
    earlier = json.loads(seeded_runs["a"][index][2])["FaceRecords"][0]["Face"]["FaceId"]
    server = _server("--seed", "42", data_dir=seeded_runs["a-dir"])
    try:
        endpoint = server.start()
        again = call(
            endpoint, "IndexFaces", {"CollectionId": "seeded", "Image": {"Bytes": _b64(ASTRONAUT)}}
        )
        assert again.status == 200, again
        faces = call(endpoint, "ListFaces", {"CollectionId": "seeded"}).json["Faces"]
    finally:
        server.stop()
    new_id = again.json["FaceRecords"][0]["Face"]["FaceId"]
    assert new_id != earlier
    assert len({f["FaceId"] for f in faces}) == len(faces) == 3
