"""Stream processors through boto3 against a live server: the control plane with AWS's status
rules and errors, face search records read back from Kinesis with boto3, label detection
events read from S3 and from an SQS queue subscribed to the SNS topic."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import cv2
import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.clips import admin, wait_for, write_video, zoom_clip
from tests.conftest import make_client
from tests.groundtruth import read_rgb

ROLE = "arn:aws:iam::123456789012:role/RekognitionStreams"
ACCOUNT, REGION = "123456789012", "us-east-1"


def kvs_arn(name: str) -> str:
    return f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/{name}/1700000000000"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def kinesis(endpoint: str):
    return make_client("kinesis", endpoint)


def data_stream(kinesis, name: str) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]


def read_records(kinesis, name: str) -> list[dict]:
    shard = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"][0]
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        records += [json.loads(r["Data"]) for r in page["Records"]]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return records


def status(rekognition, name: str) -> str:
    return rekognition.describe_stream_processor(Name=name)["Status"]


def error_code(call, **params) -> str:
    with pytest.raises(ClientError) as failed:
        call(**params)
    return failed.value.response["Error"]["Code"]


def face_search(rekognition, name: str, video: str, output: str, collection: str) -> str:
    return rekognition.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": video}},
        Output={"KinesisDataStream": {"Arn": output}},
        Settings={"FaceSearch": {"CollectionId": collection, "FaceMatchThreshold": 80.0}},
        RoleArn=ROLE,
    )["StreamProcessorArn"]


@pytest.fixture(scope="module")
def obama(testdata: Path, tmp_path_factory) -> dict:
    """A collection holding one photo of Barack Obama, and a clip made from another one."""
    folder = testdata / "faces" / "identities" / "Barack_Obama"
    clip = write_video(
        zoom_clip(read_rgb(folder / "face_recognition__obama2.jpg")),
        tmp_path_factory.mktemp("clips") / "obama2.mp4",
    )
    return {"indexed": folder / "face_recognition__obama.jpg", "clip": clip}


@pytest.fixture(scope="module")
def people(rekognition, obama: dict) -> dict:
    collection = unique("people")
    rekognition.create_collection(CollectionId=collection)
    face = rekognition.index_faces(
        CollectionId=collection,
        Image={"Bytes": obama["indexed"].read_bytes()},
        ExternalImageId="obama.jpg",
    )["FaceRecords"][0]["Face"]
    return {"collection": collection, "face_id": face["FaceId"]}


def test_face_search_puts_records_naming_the_indexed_face(
    endpoint, rekognition, kinesis, obama, people
):
    video, output = kvs_arn(unique("door")), unique("faces")
    status_code, mapped = admin(
        endpoint,
        "POST",
        "/_emulator/streams",
        {"StreamArn": video, "Video": {"Path": str(obama["clip"])}},
    )
    assert status_code == 200 and mapped["FrameRate"] == 10.0
    output_arn = data_stream(kinesis, output)
    name = unique("door-cam")
    arn = face_search(rekognition, name, video, output_arn, people["collection"])
    assert arn == f"arn:aws:rekognition:{REGION}:{ACCOUNT}:streamprocessor/{name}"
    session = rekognition.start_stream_processor(Name=name)["SessionId"]
    assert len(session) == 36
    wait_for(lambda: status(rekognition, name) == "RUNNING")
    # The 3 s clip plays at real speed, analysed 5 times a second.
    records = wait_for(lambda: len(r := read_records(kinesis, output)) >= 12 and r, timeout=60)
    first = records[0]
    info = first["InputInformation"]["KinesisVideo"]
    assert info["StreamArn"] == video and info["FragmentNumber"].isdigit()
    assert info["ServerTimestamp"] > 1.6e9 and 0 <= info["FrameOffsetInSeconds"] < 2.0
    assert first["StreamProcessorInformation"] == {"Status": "RUNNING"}
    matched = [
        m["Face"]
        for r in records
        for found in r["FaceSearchResponse"]
        for m in found["MatchedFaces"]
    ]
    # Another photo of the same man: his indexed face is found in (nearly) every frame.
    assert sum(f["FaceId"] == people["face_id"] for f in matched) >= len(records) - 1
    assert all(f["ExternalImageId"] == "obama.jpg" for f in matched)
    detected = records[0]["FaceSearchResponse"][0]["DetectedFace"]
    assert set(detected) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    rekognition.stop_stream_processor(Name=name)
    wait_for(lambda: status(rekognition, name) == "STOPPED")
    rekognition.delete_stream_processor(Name=name)


def test_stop_and_restart_follow_the_status_table(endpoint, rekognition, kinesis, obama, people):
    video, output = kvs_arn(unique("hall")), unique("hall-out")
    admin(
        endpoint,
        "POST",
        "/_emulator/streams",
        {"StreamArn": video, "Video": {"Path": str(obama["clip"])}, "Loop": True},
    )
    output_arn = data_stream(kinesis, output)
    name = unique("hall-cam")
    face_search(rekognition, name, video, output_arn, people["collection"])
    described = rekognition.describe_stream_processor(Name=name)
    assert described["Status"] == "STOPPED" and "StatusMessage" not in described
    assert described["Settings"]["FaceSearch"]["CollectionId"] == people["collection"]
    assert described["Input"]["KinesisVideoStream"]["Arn"] == video
    # Stopping a processor that is not running, or deleting a running one: ResourceInUse.
    assert error_code(rekognition.stop_stream_processor, Name=name) == "ResourceInUseException"
    first = rekognition.start_stream_processor(Name=name)["SessionId"]
    assert status(rekognition, name) in ("STARTING", "RUNNING")
    assert error_code(rekognition.start_stream_processor, Name=name) == "ResourceInUseException"
    assert error_code(rekognition.delete_stream_processor, Name=name) == "ResourceInUseException"
    wait_for(lambda: status(rekognition, name) == "RUNNING")
    wait_for(lambda: read_records(kinesis, output), timeout=30)
    rekognition.stop_stream_processor(Name=name)
    assert status(rekognition, name) in ("STOPPING", "STOPPED")
    wait_for(lambda: status(rekognition, name) == "STOPPED", timeout=30)
    before = len(read_records(kinesis, output))
    time.sleep(0.6)
    assert len(read_records(kinesis, output)) == before  # stopped means no more records
    # Started again: a new session, records flowing again.
    second = rekognition.start_stream_processor(Name=name)["SessionId"]
    assert second != first
    wait_for(lambda: len(read_records(kinesis, output)) > before, timeout=30)
    rekognition.stop_stream_processor(Name=name)
    wait_for(lambda: status(rekognition, name) == "STOPPED", timeout=30)
    rekognition.delete_stream_processor(Name=name)
    assert error_code(rekognition.describe_stream_processor, Name=name) == (
        "ResourceNotFoundException"
    )
    assert name not in [p["Name"] for p in rekognition.list_stream_processors()["StreamProcessors"]]
    # The name is free again.
    face_search(rekognition, name, video, output_arn, people["collection"])
    rekognition.delete_stream_processor(Name=name)


def test_a_stream_that_plays_nothing_fails_the_processor(rekognition, kinesis, people):
    video = kvs_arn(unique("unmapped"))
    name = unique("nothing")
    face_search(rekognition, name, video, data_stream(kinesis, unique("o")), people["collection"])
    rekognition.start_stream_processor(Name=name)
    wait_for(lambda: status(rekognition, name) == "FAILED")
    described = rekognition.describe_stream_processor(Name=name)
    assert video in described["StatusMessage"]
    assert "not found or not active" in described["StatusMessage"]
    # A FAILED processor can be deleted (and started again, which fails the same way).
    rekognition.delete_stream_processor(Name=name)


def test_a_missing_collection_fails_the_processor(endpoint, rekognition, kinesis, obama):
    video = kvs_arn(unique("gate"))
    admin(
        endpoint,
        "POST",
        "/_emulator/streams",
        {"StreamArn": video, "Video": {"Path": str(obama["clip"])}},
    )
    name = unique("gate-cam")
    missing = unique("nobody")
    face_search(rekognition, name, video, data_stream(kinesis, unique("o")), missing)
    rekognition.start_stream_processor(Name=name)
    wait_for(lambda: status(rekognition, name) == "FAILED")
    assert missing in rekognition.describe_stream_processor(Name=name)["StatusMessage"]


def connected_home(rekognition, name: str, video: str, bucket: str, topic: str, **extra) -> str:
    return rekognition.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": video}},
        Output={"S3Destination": {"Bucket": bucket, "KeyPrefix": "events"}},
        NotificationChannel={"SNSTopicArn": topic},
        Settings={"ConnectedHome": {"Labels": ["PERSON"], "MinConfidence": 60.0}},
        RoleArn=ROLE,
        **extra,
    )["StreamProcessorArn"]


def test_connected_home_reports_people_of_the_crowd_clip_to_s3_and_sns(
    endpoint, rekognition, s3, testdata
):
    sns, sqs = make_client("sns", endpoint), make_client("sqs", endpoint)
    bucket = unique("events")
    s3.create_bucket(Bucket=bucket)
    clip = testdata / "video" / "dlib__MOT20-05-raw_even_shorter.mp4"
    s3.put_object(Bucket=bucket, Key="cams/crowd.mp4", Body=clip.read_bytes())
    topic = sns.create_topic(Name=unique("events"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    video = kvs_arn(unique("street"))
    code, _ = admin(
        endpoint,
        "POST",
        "/_emulator/streams",
        {"StreamArn": video, "Video": {"S3Object": {"Bucket": bucket, "Name": "cams/crowd.mp4"}}},
    )
    assert code == 200
    name = unique("street-cam")
    connected_home(rekognition, name, video, bucket, topic, Tags={"site": "street"})
    session = rekognition.start_stream_processor(
        Name=name,
        StartSelector={"KVSStreamStartSelector": {"ProducerTimestamp": int(time.time() * 1000)}},
        StopSelector={"MaxDurationInSeconds": 2},
    )["SessionId"]
    # A label detection processor shows STARTING for its whole session, then STOPPED.
    assert status(rekognition, name) == "STARTING"
    wait_for(lambda: status(rekognition, name) == "STOPPED", timeout=120)

    messages = []

    def drained() -> bool:
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            messages.append(json.loads(json.loads(m["Body"])["Message"]))
        return any(m["eventNamespace"]["type"] == "STREAM_PROCESSING_COMPLETE" for m in messages)

    wait_for(drained, timeout=30)
    detected = [m for m in messages if m["eventNamespace"]["type"] == "LABEL_DETECTED"]
    assert len(detected) == 1  # one notification for the first person seen
    event = detected[0]
    assert event["sessionId"] == session and event["tags"] == {"site": "street"}
    assert event["inputInformation"]["kinesisVideo"]["streamArn"] == video
    label = event["labels"][0]
    assert label["name"] == "PERSON"
    box = label["boundingBox"]
    assert 0 <= box["left"] < 1 and 0 < box["width"] <= 1 and 0 < box["height"] <= 1
    mapping = label["videoMapping"]["kinesisVideoMapping"]
    assert 0 <= mapping["frameOffsetMillis"] <= 2000 and mapping["fragmentNumber"].isdigit()
    for uri in (label["frameImageUri"], label["croppedImageUri"]):
        assert uri.startswith(f"s3://{bucket}/events/{name}/{session}/")
        key = uri.split("/", 3)[3]
        image = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert cv2.imdecode(__import__("numpy").frombuffer(image, "uint8"), 1) is not None
    done = next(m for m in messages if m["eventNamespace"]["type"] == "STREAM_PROCESSING_COMPLETE")
    assert 1000 <= done["inputInformation"]["kinesisVideo"]["processedVideoDurationMillis"] <= 2000
    summary = json.loads(
        s3.get_object(Bucket=bucket, Key=f"events/{name}/{session}/summary.json")["Body"].read()
    )
    # A crowd: several people in every analysed frame.
    assert len(summary["detections"]) > 3 * summary["framesAnalysed"]
    assert all(d["confidence"] >= 60.0 for d in summary["detections"])


def test_create_checks_settings_as_aws_does(rekognition):
    video, name = kvs_arn("v"), unique("bad")
    base = {
        "Name": name,
        "Input": {"KinesisVideoStream": {"Arn": video}},
        "RoleArn": ROLE,
    }
    kds = {"KinesisDataStream": {"Arn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/out"}}
    s3 = {"S3Destination": {"Bucket": "bucket"}}
    topic = {"SNSTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t"}
    home = {"ConnectedHome": {"Labels": ["PERSON"]}}
    bad = [
        {"Output": kds, "Settings": {"FaceSearch": {"CollectionId": "c"}, **home}},
        {"Output": s3, "Settings": {"FaceSearch": {"CollectionId": "c"}}},
        {"Output": kds, "Settings": {"FaceSearch": {}}},
        {"Output": kds, "Settings": {"FaceSearch": {"CollectionId": "c"}}, "KmsKeyId": "k"},
        {"Output": s3, "Settings": home},  # no NotificationChannel
        {"Output": kds, "Settings": home, "NotificationChannel": topic},
        {
            "Output": s3,
            "Settings": {"ConnectedHome": {"Labels": ["CAR"]}},
            "NotificationChannel": topic,
        },
        {
            "Output": s3,
            "Settings": home,
            "NotificationChannel": topic,
            "RegionsOfInterest": [{"Polygon": [{"X": 0.1, "Y": 0.1}, {"X": 0.5, "Y": 0.5}]}],
        },
        {
            "Output": s3,
            "Settings": home,
            "NotificationChannel": topic,
            "RegionsOfInterest": [
                {"BoundingBox": {"Left": 0.8, "Top": 0, "Width": 0.5, "Height": 1}}
            ],
        },
    ]
    for params in bad:
        code = error_code(rekognition.create_stream_processor, **base, **params)
        assert code == "InvalidParameterException", params
    assert error_code(rekognition.describe_stream_processor, Name=name) == (
        "ResourceNotFoundException"
    )
    # Name is idempotent: the same request again is the same processor; other settings under
    # the name are refused.
    good = {**base, "Output": kds, "Settings": {"FaceSearch": {"CollectionId": "c"}}}
    arn = rekognition.create_stream_processor(**good)["StreamProcessorArn"]
    assert rekognition.create_stream_processor(**good)["StreamProcessorArn"] == arn
    other = {**good, "Settings": {"FaceSearch": {"CollectionId": "d"}}}
    assert error_code(rekognition.create_stream_processor, **other) == "ResourceInUseException"
    # A video stream feeds one processor; a data stream takes one processor's records.
    for taken in (
        {"Input": good["Input"]},
        {"Output": kds, "Input": {"KinesisVideoStream": {"Arn": kvs_arn("w")}}},
    ):
        second = {**good, "Name": unique("second"), **taken}
        assert error_code(rekognition.create_stream_processor, **second) == "ResourceInUseException"
    # A face search processor takes no selectors, and is not updated.
    start = error_code(
        rekognition.start_stream_processor,
        Name=name,
        StopSelector={"MaxDurationInSeconds": 5},
    )
    assert start == "InvalidParameterException"
    update = error_code(
        rekognition.update_stream_processor,
        Name=name,
        DataSharingPreferenceForUpdate={"OptIn": True},
    )
    assert update == "InvalidParameterException"
    assert status(rekognition, name) == "STOPPED"
    rekognition.delete_stream_processor(Name=name)
    assert error_code(rekognition.delete_stream_processor, Name=name) == "ResourceNotFoundException"
    assert error_code(rekognition.start_stream_processor, Name=name) == "ResourceNotFoundException"


def test_update_changes_a_label_detection_processor(rekognition):
    name = unique("porch")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:porch"
    connected_home(
        rekognition,
        name,
        kvs_arn("porch"),
        "porch-bucket",
        topic,
        RegionsOfInterest=[{"BoundingBox": {"Left": 0, "Top": 0, "Width": 0.5, "Height": 0.5}}],
        DataSharingPreference={"OptIn": False},
    )
    # Without a StartSelector a label detection processor does not start.
    assert error_code(rekognition.start_stream_processor, Name=name) == "InvalidParameterException"
    polygon = [{"X": 0.1, "Y": 0.1}, {"X": 0.9, "Y": 0.1}, {"X": 0.5, "Y": 0.9}]
    rekognition.update_stream_processor(
        Name=name,
        SettingsForUpdate={"ConnectedHomeForUpdate": {"Labels": ["PET", "PACKAGE"]}},
        RegionsOfInterestForUpdate=[{"Polygon": polygon}],
        DataSharingPreferenceForUpdate={"OptIn": True},
        ParametersToDelete=["ConnectedHomeMinConfidence"],
    )
    described = rekognition.describe_stream_processor(Name=name)
    assert described["Status"] == "STOPPED"
    assert described["Settings"]["ConnectedHome"] == {"Labels": ["PET", "PACKAGE"]}
    assert described["RegionsOfInterest"] == [{"Polygon": polygon}]
    assert described["DataSharingPreference"] == {"OptIn": True}
    assert described["LastUpdateTimestamp"] >= described["CreationTimestamp"]
    rekognition.update_stream_processor(Name=name, ParametersToDelete=["RegionsOfInterest"])
    assert "RegionsOfInterest" not in rekognition.describe_stream_processor(Name=name)
    rekognition.delete_stream_processor(Name=name)


def test_stream_processors_are_tagged_and_listed_page_by_page(rekognition):
    names = [unique("lst") for _ in range(3)]
    arns = [
        face_search(
            rekognition, n, kvs_arn(n), f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{n}", "c"
        )
        for n in names
    ]
    rekognition.tag_resource(ResourceArn=arns[0], Tags={"team": "doors", "floor": "1"})
    rekognition.untag_resource(ResourceArn=arns[0], TagKeys=["floor"])
    assert rekognition.list_tags_for_resource(ResourceArn=arns[0])["Tags"] == {"team": "doors"}
    seen, token = [], None
    while True:
        page = rekognition.list_stream_processors(
            MaxResults=2, **({"NextToken": token} if token else {})
        )
        assert len(page["StreamProcessors"]) <= 2
        seen += page["StreamProcessors"]
        token = page.get("NextToken")
        if not token:
            break
    listed = {p["Name"]: p["Status"] for p in seen}
    assert all(listed[n] == "STOPPED" for n in names)
    bad = error_code(rekognition.list_stream_processors, NextToken="not-a-token")
    assert bad == "InvalidPaginationTokenException"
    for n in names:
        rekognition.delete_stream_processor(Name=n)
    missing = error_code(rekognition.list_tags_for_resource, ResourceArn=arns[0])
    assert missing == "ResourceNotFoundException"


def test_the_admin_endpoint_refuses_what_it_cannot_play(endpoint, tmp_path):
    (tmp_path / "text.mp4").write_text("not a video")
    s3_video = {"S3Object": {"Bucket": "no-such-bucket", "Name": "k.mp4"}}
    refused = [
        ("arn:aws:kinesis:x", {"Path": "/x.mp4"}, "Kinesis video stream ARN"),
        (kvs_arn("a"), {"Path": str(tmp_path / "none.mp4")}, "none.mp4"),
        (kvs_arn("a"), {"Path": str(tmp_path / "text.mp4")}, "cannot be decoded"),
        (kvs_arn("a"), s3_video, "no-such-bucket"),
    ]
    for arn, video, why in refused:
        code, body = admin(
            endpoint, "POST", "/_emulator/streams", {"StreamArn": arn, "Video": video}
        )
        assert code == 400 and why in body["error"], body


def test_the_cli_maps_lists_and_unmaps_a_stream(endpoint, obama):
    arn = kvs_arn(unique("cli"))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "rekognition_emulator",
                "streams",
                "--endpoint-url",
                endpoint,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    mapped = cli("map", arn, str(obama["clip"]), "--loop")
    assert mapped.returncode == 0, mapped.stderr
    assert json.loads(mapped.stdout)["Loop"] is True
    listed = json.loads(cli("list").stdout)["streams"]
    assert any(s["StreamArn"] == arn and s["Video"] == {"Path": str(obama["clip"])} for s in listed)
    assert cli("unmap", arn).returncode == 0
    again = cli("unmap", arn)
    assert again.returncode == 1 and "no mapping" in again.stderr


def test_processors_and_their_sessions_survive_a_restart(tmp_path, obama, testdata):
    """A restart keeps processors, tags and stream mappings; a RUNNING processor goes on."""
    data = tmp_path / "data"
    env = {"REKOGNITION_EMULATOR_STREAM_SPEED": "0"}  # as fast as the frames are analysed
    arn = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:streamprocessor/lobby"

    def clients(endpoint: str) -> tuple:
        return make_client("rekognition", endpoint), make_client("kinesis", endpoint)

    first = EmulatorProcess(data_dir=data, env=env)
    endpoint = first.start()
    try:
        rekognition, kinesis = clients(endpoint)
        rekognition.create_collection(CollectionId="staff")
        video = kvs_arn("lobby")
        admin(
            endpoint,
            "POST",
            "/_emulator/streams",
            {"StreamArn": video, "Video": {"Path": str(obama["clip"])}, "Loop": True},
        )
        output = data_stream(kinesis, "lobby-out")
        face_search(rekognition, "lobby", video, output, "staff")
        rekognition.tag_resource(ResourceArn=arn, Tags={"floor": "0"})
        session = rekognition.start_stream_processor(Name="lobby")["SessionId"]
        wait_for(lambda: status(rekognition, "lobby") == "RUNNING")
    finally:
        first.stop()
    second = EmulatorProcess(data_dir=data, env=env)
    endpoint = second.start()
    try:
        rekognition, kinesis = clients(endpoint)
        assert status(rekognition, "lobby") == "RUNNING"
        assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"floor": "0"}
        code, listed = admin(endpoint, "GET", "/_emulator/streams")
        assert code == 200 and [s["StreamArn"] for s in listed["streams"]] == [video]
        # Kinesis keeps its streams (not its records) across a restart: new records arrive.
        wait_for(lambda: read_records(kinesis, "lobby-out"), timeout=60)
        code, job = admin(endpoint, "GET", f"/_emulator/jobs/{session}")
        assert code == 200 and job["kind"] == "StartStreamProcessor" and job["attempts"] == 2
        rekognition.stop_stream_processor(Name="lobby")
        wait_for(lambda: status(rekognition, "lobby") == "STOPPED", timeout=30)
    finally:
        second.cleanup()
