"""Face Liveness through boto3 against a live server: sessions created, checked from selfie
videos made at test time (POST /_emulator/liveness/{SessionId}), their results read back."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.clips import admin, jpeg, replay_frames, selfie_frames, write_video
from tests.conftest import make_client
from tests.groundtruth import read_rgb


@pytest.fixture(scope="module")
def selfies(testdata: Path, rekognition, tmp_path_factory) -> dict:
    """A selfie video (a head moving closer in front of a still room), one frame of it
    repeated, and that frame moved about as a whole (a photo held up to the camera)."""
    portrait_path = testdata / "faces" / "identities" / "Rose_Leslie"
    portrait_path = sorted(portrait_path.iterdir())[0]
    box = rekognition.detect_faces(Image={"Bytes": portrait_path.read_bytes()})["FaceDetails"][0][
        "BoundingBox"
    ]
    portrait = read_rgb(portrait_path)
    h, w = portrait.shape[:2]
    face = (box["Left"] * w, box["Top"] * h, box["Width"] * w, box["Height"] * h)
    room = read_rgb(testdata / "objects" / "coco8" / "000000000030.jpg")
    frames = selfie_frames(portrait, face, room)
    folder = tmp_path_factory.mktemp("selfies")
    return {
        "live": write_video(frames, folder / "live.mp4").read_bytes(),
        "still": [frames[0]] * 20,
        "replay": write_video(replay_frames(frames[0]), folder / "replay.mp4").read_bytes(),
        "room": write_video([cv2.resize(room, (480, 360))] * 10, folder / "room.avi").read_bytes(),
    }


def submit(endpoint: str, session: str, **how) -> tuple[int, dict]:
    if "video" in how:
        return admin(
            endpoint,
            "POST",
            f"/_emulator/liveness/{session}",
            raw=how["video"],
            content_type="video/mp4",
        )
    return admin(endpoint, "POST", f"/_emulator/liveness/{session}", how["json"])


def results(rekognition, session: str) -> dict:
    return rekognition.get_face_liveness_session_results(SessionId=session)


def test_a_live_face_clip_succeeds_with_a_high_confidence_and_audit_images(
    endpoint, rekognition, selfies
):
    session = rekognition.create_face_liveness_session(Settings={"AuditImagesLimit": 2})[
        "SessionId"
    ]
    assert results(rekognition, session)["Status"] == "CREATED"
    code, checked = submit(endpoint, session, video=selfies["live"])
    assert code == 200 and checked["Status"] == "SUCCEEDED", checked
    got = results(rekognition, session)
    assert got["Status"] == "SUCCEEDED"
    assert got["Confidence"] >= 80.0, checked["Cues"]
    assert got["Challenge"] == {"Type": "FaceMovementAndLightChallenge", "Version": "2.0.0"}
    assert got["Feedback"] == []
    reference = got["ReferenceImage"]
    assert 0 < len(reference["Bytes"]) <= 204_800
    # The reference image is a frame with the face where its BoundingBox says.
    found = rekognition.detect_faces(Image={"Bytes": reference["Bytes"]})["FaceDetails"]
    assert len(found) == 1
    assert abs(found[0]["BoundingBox"]["Left"] - reference["BoundingBox"]["Left"]) < 0.05
    assert len(got["AuditImages"]) == 2
    for image in got["AuditImages"]:
        assert cv2.imdecode(np.frombuffer(image["Bytes"], np.uint8), 1) is not None
        assert 0 < image["BoundingBox"]["Width"] < 1


def test_a_still_frame_repeated_scores_low(endpoint, rekognition, selfies):
    session = rekognition.create_face_liveness_session()["SessionId"]
    frames = [base64.b64encode(jpeg(f)).decode() for f in selfies["still"]]
    code, checked = submit(endpoint, session, json={"frames": frames, "fps": 10})
    assert code == 200 and checked["Cues"]["motion"] == 0.0
    got = results(rekognition, session)
    assert got["Status"] == "SUCCEEDED" and got["Confidence"] < 20.0
    assert "ReferenceImage" in got and got["AuditImages"] == []  # AuditImagesLimit 0


def test_a_photo_moved_in_front_of_the_camera_scores_below_a_live_face(
    endpoint, rekognition, selfies
):
    scores = {}
    for kind in ("live", "replay"):
        session = rekognition.create_face_liveness_session()["SessionId"]
        submit(endpoint, session, video=selfies[kind])
        scores[kind] = results(rekognition, session)["Confidence"]
    assert scores["replay"] < 50.0 < scores["live"]


def test_images_go_to_s3_when_the_session_says_so(endpoint, rekognition, s3, selfies):
    bucket = f"liveness-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    session = rekognition.create_face_liveness_session(
        Settings={
            "OutputConfig": {"S3Bucket": bucket, "S3KeyPrefix": "checks/"},
            "AuditImagesLimit": 1,
        }
    )["SessionId"]
    submit(endpoint, session, video=selfies["live"])
    got = results(rekognition, session)
    assert got["ReferenceImage"]["S3Object"] == {
        "Bucket": bucket,
        "Name": f"checks/{session}/reference.jpg",
    }
    assert "Bytes" not in got["ReferenceImage"]
    assert got["AuditImages"][0]["S3Object"]["Name"] == f"checks/{session}/audit_0.jpg"
    body = s3.get_object(Bucket=bucket, Key=f"checks/{session}/reference.jpg")["Body"].read()
    assert body[:2] == b"\xff\xd8"  # a JPEG


def test_a_scripted_outcome_for_the_callers_threshold(endpoint, rekognition):
    low = rekognition.create_face_liveness_session()["SessionId"]
    code, _ = submit(endpoint, low, json={"confidence": 12.5, "sdk_type": "amplify-react"})
    assert code == 200
    got = results(rekognition, low)
    assert got["Status"] == "SUCCEEDED" and got["Confidence"] == 12.5
    assert got["Metadata"] == {"SDKType": "amplify-react"} and "ReferenceImage" not in got
    failed = rekognition.create_face_liveness_session()["SessionId"]
    submit(endpoint, failed, json={"outcome": "FAILED"})
    got = results(rekognition, failed)
    assert got["Status"] == "FAILED" and "Confidence" not in got and "Feedback" not in got
    # A session is checked once.
    code, body = submit(endpoint, low, json={"confidence": 99.0})
    assert code == 409 and "SUCCEEDED" in body["error"]
    assert results(rekognition, low)["Confidence"] == 12.5


def test_a_video_without_a_face_fails_the_session(endpoint, rekognition, selfies):
    session = rekognition.create_face_liveness_session()["SessionId"]
    code, checked = submit(endpoint, session, video=selfies["room"])
    assert code == 200 and checked["Status"] == "FAILED"
    assert results(rekognition, session)["Status"] == "FAILED"


def test_bad_submissions_leave_the_session_created(endpoint, rekognition):
    session = rekognition.create_face_liveness_session()["SessionId"]
    for how in ({"json": {"confidence": 120}}, {"json": {"frames": ["???"]}}, {"video": b"GIF89a"}):
        code, _ = submit(endpoint, session, **how)
        assert code == 400, how
    assert results(rekognition, session)["Status"] == "CREATED"
    code, _ = submit(endpoint, str(uuid.uuid4()), json={"confidence": 50})
    assert code == 404


def test_sessions_are_idempotent_by_token_and_checked_as_aws_does(rekognition):
    token = uuid.uuid4().hex
    first = rekognition.create_face_liveness_session(ClientRequestToken=token)["SessionId"]
    again = rekognition.create_face_liveness_session(ClientRequestToken=token)["SessionId"]
    assert first == again
    assert rekognition.create_face_liveness_session()["SessionId"] != first
    with pytest.raises(ClientError) as missing:
        results(rekognition, str(uuid.uuid4()))
    assert missing.value.response["Error"]["Code"] == "SessionNotFoundException"
    with pytest.raises(ClientError) as impossible:
        rekognition.create_face_liveness_session(
            Settings={
                "ChallengePreferences": [
                    {"Type": "FaceMovementChallenge", "Versions": {"Minimum": "3.0.0"}}
                ]
            }
        )
    assert impossible.value.response["Error"]["Code"] == "InvalidParameterException"
    # Another region of the same account does not see the session.
    other = make_client("rekognition", rekognition.meta.endpoint_url, region="eu-west-1")
    with pytest.raises(ClientError) as elsewhere:
        results(other, first)
    assert elsewhere.value.response["Error"]["Code"] == "SessionNotFoundException"


def test_the_challenge_preference_is_the_sessions_challenge(endpoint, rekognition):
    session = rekognition.create_face_liveness_session(
        Settings={
            "ChallengePreferences": [
                {"Type": "FaceMovementChallenge"},
                {"Type": "FaceMovementAndLightChallenge"},
            ]
        }
    )["SessionId"]
    assert "Challenge" not in results(rekognition, session)  # not begun
    submit(endpoint, session, json={"confidence": 90.0})
    assert results(rekognition, session)["Challenge"] == {
        "Type": "FaceMovementChallenge",
        "Version": "1.0.0",
    }


def test_a_session_untouched_for_its_lifetime_is_expired():
    server = EmulatorProcess(env={"REKOGNITION_EMULATOR_LIVENESS_SESSION_SECONDS": "1.5"})
    endpoint = server.start()
    try:
        rekognition = make_client("rekognition", endpoint)
        untouched = rekognition.create_face_liveness_session()["SessionId"]
        checked = rekognition.create_face_liveness_session()["SessionId"]
        submit(endpoint, checked, json={"confidence": 88.0})
        assert results(rekognition, untouched)["Status"] == "CREATED"
        assert results(rekognition, checked)["Status"] == "SUCCEEDED"
        time.sleep(1.6)
        assert results(rekognition, untouched) | {"ResponseMetadata": None} == {
            "SessionId": untouched,
            "Status": "EXPIRED",
            "ResponseMetadata": None,
        }
        # Its data goes with it, whatever it was.
        expired = results(rekognition, checked)
        assert expired["Status"] == "EXPIRED" and "Confidence" not in expired
        code, body = submit(endpoint, untouched, json={"confidence": 50.0})
        assert code == 409 and "EXPIRED" in body["error"]
    finally:
        server.cleanup()
