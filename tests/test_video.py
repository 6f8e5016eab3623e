"""Rekognition Video through boto3 against a live server, on clips made here (PyAV) and the
shared MOT20 crowd clip: what each analysis finds, when, and how Get* presents it.

The server runs jobs synchronously (`--sync-jobs`): Start* answers once the job is done,
so each test reads the results at once; tests/test_video_example.py runs them in the
background, as AWS does, with the SNS -> SQS completion message."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from botocore.exceptions import ClientError

from rekognition_emulator.conformance.videos import pyav_missing
from rekognition_emulator.emulator.testing import all_pages
from tests.conftest import make_client
from tests.test_celebrities import seed
from tests.video_clips import (
    HEIGHT,
    WIDTH,
    box_iou,
    corners,
    crossing_clip,
    edited_clip,
    face_clip,
    fit,
    identities,
    mot_clip,
    plain_background,
    read_rgb,
    slideshow,
)
from tests.wire import CheckedServer, call

pytestmark = pytest.mark.skipif(pyav_missing() is not None, reason=str(pyav_missing()))
BUCKET = "videos"


@pytest.fixture(scope="module")
def server():
    proc = CheckedServer(args=["--sync-jobs"])
    proc.start()
    yield proc
    proc.cleanup()


@pytest.fixture(scope="module")
def rekognition(server):
    return make_client("rekognition", server.endpoint)


@pytest.fixture(scope="module")
def upload(server):
    s3 = make_client("s3", server.endpoint)
    s3.create_bucket(Bucket=BUCKET)

    def put(path: Path, key: str | None = None) -> dict:
        key = key or path.name
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        return {"S3Object": {"Bucket": BUCKET, "Name": key}}

    return put


def items(get, job_id: str, key: str, **params) -> list[dict]:
    return [item for page in all_pages(get, job_id, **params) for item in page[key]]


# -- faces ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def obama_clip(testdata, tmp_path_factory, upload):
    portrait = read_rgb(testdata / "faces/identities/Barack_Obama/face_recognition__obama.jpg")
    clip = face_clip(tmp_path_factory.mktemp("faces"), portrait, appears=1.0, leaves=3.0)
    return clip, upload(clip.path)


def test_a_face_is_found_while_it_is_on_screen(rekognition, obama_clip):
    clip, video = obama_clip
    job = rekognition.start_face_detection(Video=video)["JobId"]
    answer = rekognition.get_face_detection(JobId=job)
    assert answer["JobStatus"] == "SUCCEEDED"
    times = [f["Timestamp"] for f in answer["Faces"]]
    # Sampled every 500 ms (the first frame at or after each multiple): 1000, 1520, 2000, 2520.
    assert times == [1000, 1520, 2000, 2520]
    for face in answer["Faces"]:
        assert set(face["Face"]) == {"BoundingBox", "Confidence", "Pose", "Quality", "Landmarks"}
        assert len(face["Face"]["Landmarks"]) == 5
        assert face["Face"]["Confidence"] > 99
        box = face["Face"]["BoundingBox"]
        assert 0.35 < box["Left"] + box["Width"] / 2 < 0.65  # the portrait is in the middle


def test_all_face_attributes_but_the_two_aws_leaves_null(rekognition, obama_clip):
    _, video = obama_clip
    job = rekognition.start_face_detection(Video=video, FaceAttributes="ALL")["JobId"]
    face = rekognition.get_face_detection(JobId=job)["Faces"][0]["Face"]
    assert {"AgeRange", "Emotions", "Gender", "Smile", "EyesOpen", "MouthOpen"} <= set(face)
    assert not {"FaceOccluded", "EyeDirection"} & set(face)
    assert len(face["Landmarks"]) == 30
    assert face["Gender"]["Value"] == "Male"


def test_face_search_finds_the_person_indexed_from_another_photo(rekognition, testdata, obama_clip):
    clip, video = obama_clip
    people = testdata / "faces/identities"
    rekognition.create_collection(CollectionId="video-people")
    indexed = {}
    for name, photo in (
        ("obama", "Barack_Obama/face_recognition__obama2.jpg"),
        ("biden", "Joe_Biden/face_recognition__biden.jpg"),
    ):
        record = rekognition.index_faces(
            CollectionId="video-people",
            Image={"Bytes": (people / photo).read_bytes()},
            ExternalImageId=name,
            MaxFaces=1,
        )["FaceRecords"][0]
        indexed[name] = record["Face"]["FaceId"]

    job = rekognition.start_face_search(Video=video, CollectionId="video-people")["JobId"]
    persons = items(rekognition.get_face_search, job, "Persons")
    matched = [p for p in persons if p["FaceMatches"]]
    # Sampled every 200 ms while on screen (1000 .. 2800): every sample matches Obama only.
    assert [p["Timestamp"] for p in matched] == list(range(1000, 3000, 200))
    for p in matched:
        assert [m["Face"]["FaceId"] for m in p["FaceMatches"]] == [indexed["obama"]]
        assert p["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama"
        assert p["FaceMatches"][0]["Similarity"] >= 80
        assert p["Person"]["Index"] == 0 and "Face" in p["Person"]
    assert all(1000 <= p["Timestamp"] < 3000 for p in persons)

    # A threshold above every similarity: the person is listed, with no match.
    strict = rekognition.start_face_search(
        Video=video, CollectionId="video-people", FaceMatchThreshold=99.99
    )["JobId"]
    persons = items(rekognition.get_face_search, strict, "Persons", SortBy="INDEX")
    assert persons and all(p["FaceMatches"] == [] for p in persons)

    with pytest.raises(ClientError) as missing:
        rekognition.start_face_search(Video=video, CollectionId="no-such-collection")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_celebrity_recognition_names_the_seeded_celebrity_while_on_screen(
    server, rekognition, testdata, obama_clip
):
    _, video = obama_clip
    seeded = seed(
        server.endpoint,
        "Barack Obama",
        testdata / "faces/identities/Barack_Obama/face_recognition__obama2.jpg",
        Urls=["www.example.com/obama"],
    )
    job = rekognition.start_celebrity_recognition(Video=video)["JobId"]
    found = items(rekognition.get_celebrity_recognition, job, "Celebrities", SortBy="ID")
    # Sampled every 500 ms while on screen (1000 .. 2999): he is named at each sample.
    assert [c["Timestamp"] for c in found] == [1000, 1520, 2000, 2520]
    for c in found:
        celebrity = c["Celebrity"]
        assert (celebrity["Name"], celebrity["Id"]) == ("Barack Obama", seeded["Id"])
        assert celebrity["Urls"] == ["www.example.com/obama"]
        assert celebrity["Confidence"] >= 80
        assert {"BoundingBox", "Face", "KnownGender"} <= set(celebrity)
    assert rekognition.get_celebrity_info(Id=seeded["Id"])["Name"] == "Barack Obama"


# -- segments ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def edited(tmp_path_factory, upload):
    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    folder = tmp_path_factory.mktemp("segments")
    clip = edited_clip(folder, photos)
    voiced = edited_clip(folder, photos, black_with_audio=True, name="voiced.mp4")
    return clip, upload(clip.path), upload(voiced.path)


def _cues(segments: list[dict], kind: str) -> list[dict]:
    return [s for s in segments if s.get("TechnicalCueSegment", {}).get("Type") == kind]


def test_segments_find_the_cuts_within_a_frame_and_the_black_within_two(rekognition, edited):
    clip, video, _ = edited
    job = rekognition.start_segment_detection(Video=video, SegmentTypes=["TECHNICAL_CUE", "SHOT"])[
        "JobId"
    ]
    answer = rekognition.get_segment_detection(JobId=job)
    segments = answer["Segments"]
    # Listed by the requested types' order, then by time.
    kinds = [s["Type"] for s in segments]
    assert kinds == sorted(kinds, key=["TECHNICAL_CUE", "SHOT"].index)
    shots = [s for s in segments if s["Type"] == "SHOT"]
    assert [s["ShotSegment"]["Index"] for s in shots] == list(range(len(shots)))
    starts = [s["StartFrameNumber"] for s in shots]
    assert len(starts) == len(clip.cuts) + 1 and starts[0] == 0
    for found, made in zip(starts[1:], clip.cuts, strict=True):
        assert abs(found - made) <= 1
    assert shots[-1]["EndFrameNumber"] == clip.shot_c[1]

    (black,) = _cues(segments, "BlackFrames")
    assert abs(black["StartFrameNumber"] - clip.black[0]) <= 2
    assert abs(black["EndFrameNumber"] - clip.black[1]) <= 2
    (bars,) = _cues(segments, "ColorBars")
    assert bars["StartFrameNumber"] == 0 and abs(bars["EndFrameNumber"] - clip.bars[1]) <= 1
    assert len(_cues(segments, "Content")) == 2
    cues = [s for s in segments if s["Type"] == "TECHNICAL_CUE"]
    for before, after in zip(cues, cues[1:], strict=False):  # contiguous, as AWS's sample
        assert after["StartFrameNumber"] == before["EndFrameNumber"]

    for s in segments:  # the frame arithmetic of AWS's samples, at 25 fps
        assert s["DurationFrames"] == s["EndFrameNumber"] - s["StartFrameNumber"]
        assert s["StartTimestampMillis"] == math.floor(s["StartFrameNumber"] * 1000 / 25)
        assert s["EndTimestampMillis"] == math.floor(s["EndFrameNumber"] * 1000 / 25)
        assert s["DurationMillis"] == s["EndTimestampMillis"] - s["StartTimestampMillis"]
        start = s["StartFrameNumber"]
        assert s["StartTimecodeSMPTE"] == f"00:00:{start // 25:02d}:{start % 25:02d}"
        confidence = (s.get("ShotSegment") or s["TechnicalCueSegment"])["Confidence"]
        assert 50 <= confidence <= 100

    assert answer["VideoMetadata"] == [
        {
            "Codec": "h264",
            "DurationMillis": 8000,
            "Format": "QuickTime / MOV",
            "FrameRate": 25.0,
            "FrameHeight": HEIGHT,
            "FrameWidth": WIDTH,
            "ColorRange": "LIMITED",
        }
    ]
    (audio,) = answer["AudioMetadata"]
    assert (audio["Codec"], audio["SampleRate"], audio["NumberOfChannels"]) == ("aac", 48000, 1)
    assert abs(audio["DurationMillis"] - 8000) <= 25
    assert answer["SelectedSegmentTypes"] == [
        {"Type": "TECHNICAL_CUE", "ModelVersion": "2.0"},
        {"Type": "SHOT", "ModelVersion": "2.0"},
    ]


def test_black_frames_over_sound_are_content(rekognition, edited):
    _, _, voiced = edited
    job = rekognition.start_segment_detection(Video=voiced, SegmentTypes=["TECHNICAL_CUE"])["JobId"]
    segments = rekognition.get_segment_detection(JobId=job)["Segments"]
    assert {s["Type"] for s in segments} == {"TECHNICAL_CUE"}
    assert not _cues(segments, "BlackFrames")
    assert [c["TechnicalCueSegment"]["Type"] for c in segments] == ["ColorBars", "Content"]


def test_segment_filters(rekognition, edited):
    clip, video, _ = edited
    # Only pixels at pure black count (a threshold of 0) and all of them: still black.
    job = rekognition.start_segment_detection(
        Video=video,
        SegmentTypes=["SHOT", "TECHNICAL_CUE"],
        Filters={
            "TechnicalCueFilter": {
                "BlackFrame": {"MaxPixelThreshold": 0.02, "MinCoveragePercentage": 100}
            },
            "ShotFilter": {"MinSegmentConfidence": 97},
        },
    )["JobId"]
    answer = rekognition.get_segment_detection(JobId=job)
    segments = answer["Segments"]
    assert segments[0]["Type"] == "SHOT"
    assert answer["SelectedSegmentTypes"][0]["Type"] == "SHOT"
    assert _cues(segments, "BlackFrames")
    shots = [s for s in segments if s["Type"] == "SHOT"]
    assert 0 < len(shots) < len(clip.cuts) + 1  # the less certain shots are left out
    assert all(s["ShotSegment"]["Confidence"] >= 97 for s in shots)


# -- labels --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crowd(testdata, upload):
    return upload(mot_clip(testdata), "crowd.mp4")


@pytest.fixture(scope="module")
def crowd_labels(rekognition, crowd):
    return rekognition.start_label_detection(Video=crowd, MinConfidence=60)["JobId"]


def test_labels_by_segments_merge_each_run(rekognition, crowd_labels):
    by_time = items(rekognition.get_label_detection, crowd_labels, "Labels")
    answer = rekognition.get_label_detection(JobId=crowd_labels, AggregateBy="SEGMENTS")
    assert answer["GetRequestMetadata"] == {"SortBy": "TIMESTAMP", "AggregateBy": "SEGMENTS"}
    assert answer["LabelModelVersion"] == "3.0"
    (person,) = [s for s in answer["Labels"] if s["Label"]["Name"] == "Person"]
    # The crowd is in every sampled frame: one run over the whole clip.
    assert (person["StartTimestampMillis"], person["EndTimestampMillis"]) == (0, 5000)
    assert person["DurationMillis"] == 5000 and person["Timestamp"] == 0
    assert "Instances" not in person["Label"]
    assert person["Label"]["Confidence"] == max(
        i["Label"]["Confidence"] for i in by_time if i["Label"]["Name"] == "Person"
    )
    assert all(i["Label"]["Confidence"] >= 60 for i in by_time)


def test_labels_sorted_by_name(rekognition, crowd_labels):
    labels = items(
        rekognition.get_label_detection, crowd_labels, "Labels", SortBy="NAME", MaxResults=3
    )
    names = [i["Label"]["Name"] for i in labels]
    assert names == sorted(names)
    for name in set(names):
        confidences = [i["Label"]["Confidence"] for i in labels if i["Label"]["Name"] == name]
        assert confidences == sorted(confidences, reverse=True)


def test_a_next_token_is_good_for_its_own_listing_only(rekognition, crowd_labels):
    page = rekognition.get_label_detection(JobId=crowd_labels, MaxResults=2, SortBy="NAME")
    token = page["NextToken"]
    assert rekognition.get_label_detection(JobId=crowd_labels, NextToken=token, SortBy="NAME")
    for bad in ({"NextToken": token}, {"NextToken": "not-a-token", "SortBy": "NAME"}):
        with pytest.raises(ClientError) as refused:
            rekognition.get_label_detection(JobId=crowd_labels, **bad)
        assert refused.value.response["Error"]["Code"] == "InvalidPaginationTokenException"


# -- people --------------------------------------------------------------------------------
def test_people_in_a_crowd_keep_their_index(rekognition, crowd):
    job = rekognition.start_person_tracking(Video=crowd)["JobId"]
    persons = items(rekognition.get_person_tracking, job, "Persons", SortBy="INDEX")
    indices = sorted({p["Person"]["Index"] for p in persons})
    assert indices == list(range(len(indices)))
    samples = sorted({p["Timestamp"] for p in persons})
    by_index: dict[int, list[dict]] = {}
    for p in persons:
        by_index.setdefault(p["Person"]["Index"], []).append(p)
    # Many people are followed through most of the clip under one Index...
    lasting = [i for i, seen in by_index.items() if len(seen) >= 0.8 * len(samples)]
    assert len(lasting) >= 8
    # ...and an Index does not jump: a pedestrian's box a sample later (200 ms) still overlaps
    # the one before (a switch to another person would not).
    steps = jumps = 0
    for seen in by_index.values():
        boxes = [
            (p["Timestamp"], corners(p["Person"]["BoundingBox"]))
            for p in sorted(seen, key=lambda p: p["Timestamp"])
            if "BoundingBox" in p["Person"]
        ]
        for (ta, a), (tb, b) in zip(boxes, boxes[1:], strict=False):
            if tb - ta <= 200:
                steps += 1
                jumps += box_iou(a, b) < 0.2
    assert steps > 500 and jumps / steps < 0.02


def test_two_people_crossing_keep_their_own_index(rekognition, testdata, tmp_path, upload):
    clip = crossing_clip(tmp_path, testdata)
    job = rekognition.start_person_tracking(Video=upload(clip.path))["JobId"]
    persons = items(rekognition.get_person_tracking, job, "Persons")
    assigned = identities(
        clip,
        [
            (p["Timestamp"], p["Person"]["Index"], p["Person"]["BoundingBox"])
            for p in persons
            if "BoundingBox" in p["Person"]
        ],
    )
    assert len(assigned[0]) == 1 and len(assigned[1]) == 1
    assert assigned[0] != assigned[1]


def test_the_trackers_parts_earn_their_place(testdata, tmp_path):
    # README ("People", the figures of scripts/measure_tracking.py, every 200 ms, 640x360): a
    # plain IoU tracker gives each of the two crossing people several Indexes (4), the Kalman
    # prediction one each; on the MOT20 crowd, without the weaker boxes 11 people a frame and 1
    # followed through 80 % of the clip, with them (and the colour histogram, as served) 34
    # and 17; every 500 ms the served tracker follows 9.
    import collections

    from tests.groundtruth import measurement_script

    script = measurement_script("measure_tracking")

    clip = crossing_clip(tmp_path, testdata)
    for variant, most in (("IoU", 3), ("+ Kalman", 1)):
        people = script.track(clip.path, 200, script.VARIANTS[variant])
        sightings = [(s.timestamp, i, s.box) for i, s in people.sightings() if s.box is not None]
        indexes = max(len(found) for found in identities(clip, sightings).values())
        assert indexes >= most if variant == "IoU" else indexes == most, variant

    def crowd(interval: float, variant: str) -> tuple[int, float]:
        people = script.track(mot_clip(testdata), interval, script.VARIANTS[variant], (640, 360))
        counts = collections.Counter(index for index, _ in people.sightings())
        frames = len({s.timestamp for _, s in people.sightings()})
        lasting = sum(1 for c in counts.values() if c >= 0.8 * frames)
        return lasting, sum(counts.values()) / frames

    sure_only = crowd(200, "+ Kalman")
    served = crowd(200, "+ appearance")
    assert sure_only[0] <= 3 and sure_only[1] <= 15
    assert served[0] >= 14 and served[1] >= 28
    assert crowd(500, "+ appearance")[0] <= served[0] * 0.7


# -- text and moderation -------------------------------------------------------------------
def test_text_is_read_as_it_changes(rekognition, tmp_path, upload):
    def card(words: str) -> np.ndarray:
        img = np.full((HEIGHT, WIDTH, 3), 245, np.uint8)
        cv2.putText(
            img, words, (60, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (20, 20, 20), 5, cv2.LINE_AA
        )
        return img

    video = upload(
        slideshow(tmp_path, [(card("HELLO WORLD"), 2.0), (card("GOODBYE"), 2.0)], name="cards.mp4")
    )
    job = rekognition.start_text_detection(Video=video)["JobId"]
    answer = rekognition.get_text_detection(JobId=job)
    assert answer["TextModelVersion"] == "3.0"
    lines = {
        (d["Timestamp"], d["TextDetection"]["DetectedText"])
        for d in answer["TextDetections"]
        if d["TextDetection"]["Type"] == "LINE"
    }
    assert lines == {
        (0, "HELLO WORLD"),
        (1000, "HELLO WORLD"),
        (2000, "GOODBYE"),
        (3000, "GOODBYE"),
    }
    for t in (0, 1000):  # Ids restart at 0 in each frame; words point at their line
        found = [d["TextDetection"] for d in answer["TextDetections"] if d["Timestamp"] == t]
        assert [d["Id"] for d in found] == [0, 1, 2]
        assert [d.get("ParentId") for d in found] == [None, 0, 0]
    # A word filter above every confidence leaves nothing.
    strict = rekognition.start_text_detection(
        Video=video, Filters={"WordFilter": {"MinConfidence": 100}}
    )["JobId"]
    assert rekognition.get_text_detection(JobId=strict)["TextDetections"] == []


def test_moderation_finds_swimwear_only_while_it_is_shown(rekognition, testdata, tmp_path, upload):
    # A portrait video the photo's own size (the nudity classifiers judge the whole frame:
    # the same photo letterboxed in a wide frame reads 50 times weaker).
    swimsuit = read_rgb(testdata / "objects/coco8/000000000036.jpg")[:640, :480]
    coffee = fit(skimage.data.coffee(), 480, 640)
    video = upload(
        slideshow(tmp_path, [(coffee, 1.0), (swimsuit, 2.0), (coffee, 1.0)], name="beach.mp4")
    )
    job = rekognition.start_content_moderation(Video=video)["JobId"]
    answer = rekognition.get_content_moderation(JobId=job)
    assert answer["ModerationModelVersion"] == "7.0"
    found = answer["ModerationLabels"]
    assert {i["ModerationLabel"]["Name"] for i in found} >= {"Swimwear or Underwear"}
    assert all(1000 <= i["Timestamp"] < 3000 for i in found)
    for item in found:
        label = item["ModerationLabel"]
        assert label["Confidence"] >= 50 and label["TaxonomyLevel"] in (1, 2, 3)
        assert "ContentTypes" in item
    segments = rekognition.get_content_moderation(JobId=job, AggregateBy="SEGMENTS", SortBy="NAME")
    top = [
        s
        for s in segments["ModerationLabels"]
        if s["ModerationLabel"]["Name"] == "Swimwear or Underwear"
    ]
    assert len(top) == 1 and top[0]["StartTimestampMillis"] == 1000
    assert top[0]["EndTimestampMillis"] == 2520 and top[0]["DurationMillis"] == 1520
    assert segments["GetRequestMetadata"] == {"SortBy": "NAME", "AggregateBy": "SEGMENTS"}


# -- errors --------------------------------------------------------------------------------
def test_start_checks_the_video_and_the_token(rekognition, upload, tmp_path):
    def code(call, **params) -> str:
        with pytest.raises(ClientError) as refused:
            call(**params)
        return refused.value.response["Error"]["Code"]

    missing = {"S3Object": {"Bucket": BUCKET, "Name": "no-such-video.mp4"}}
    assert code(rekognition.start_label_detection, Video=missing) == "InvalidS3ObjectException"
    no_bucket = {"S3Object": {"Bucket": "no-such-bucket", "Name": "clip.mp4"}}
    assert code(rekognition.start_face_detection, Video=no_bucket) == "InvalidS3ObjectException"

    video = upload(slideshow(tmp_path, [(plain_background(), 0.5)], name="quiet.mp4"))
    first = rekognition.start_label_detection(Video=video, ClientRequestToken="same-token")
    again = rekognition.start_label_detection(Video=video, ClientRequestToken="same-token")
    assert first["JobId"] == again["JobId"]
    assert (
        code(
            rekognition.start_label_detection,
            Video=video,
            ClientRequestToken="same-token",
            MinConfidence=90,
        )
        == "IdempotentParameterMismatchException"
    )
    assert code(rekognition.start_face_detection, Video=video, ClientRequestToken="same-token") == (
        "IdempotentParameterMismatchException"
    )


def test_a_topic_that_does_not_exist_is_reported_and_the_job_succeeds(
    server, rekognition, upload, tmp_path
):
    video = upload(slideshow(tmp_path, [(plain_background(), 0.5)], name="quiet3.mp4"))
    topic = "arn:aws:sns:us-east-1:123456789012:AmazonRekognition-nobody-made-this"
    job = rekognition.start_label_detection(
        Video=video,
        NotificationChannel={
            "SNSTopicArn": topic,
            "RoleArn": "arn:aws:iam::123456789012:role/AmazonRekognitionRole",
        },
    )["JobId"]
    assert rekognition.get_label_detection(JobId=job)["JobStatus"] == "SUCCEEDED"
    page = json.loads(call(server.endpoint, None, method="GET", path=f"/_emulator/jobs/{job}").body)
    assert page["notification"]["topic_arn"] == topic
    assert page["notification"]["outcome"] == f"not sent: the topic {topic} does not exist"


def test_get_knows_its_own_jobs_only(rekognition, upload, tmp_path):
    video = upload(slideshow(tmp_path, [(plain_background(), 0.5)], name="quiet2.mp4"))
    job = rekognition.start_face_detection(Video=video)["JobId"]
    assert rekognition.get_face_detection(JobId=job)["Faces"] == []
    for get, job_id in (
        (rekognition.get_label_detection, job),  # another analysis' job
        (rekognition.get_face_detection, "0" * 64),
    ):
        with pytest.raises(ClientError) as refused:
            get(JobId=job_id)
        assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
