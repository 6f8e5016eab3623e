"""The user's test kit: a test file that uses only the plugin's fixtures, no import of ours,
run by a separate pytest process the way a user's project would run it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from rekognition_emulator.emulator.server.registry import implemented

# A user's test file, in parts: each part runs only once the operations it calls exist,
# so that the kit is proven against whatever the emulator implements today.
HEADER = """
import cv2
from skimage import data


def jpeg(rgb):
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()
"""

PARTS: dict[str, tuple[frozenset[str], str]] = {
    "endpoint": (
        frozenset(),
        """
def test_endpoint_is_a_live_emulator(rekognition_endpoint):
    import json
    import urllib.request

    with urllib.request.urlopen(rekognition_endpoint + "/_emulator/health") as r:
        assert json.loads(r.read())["status"] == "ok"
""",
    ),
    "s3": (
        frozenset(),
        """
def test_s3_client_talks_to_the_embedded_s3(s3_client):
    s3_client.create_bucket(Bucket="user-photos")
    s3_client.put_object(Bucket="user-photos", Key="note.txt", Body=b"hello")
    body = s3_client.get_object(Bucket="user-photos", Key="note.txt")["Body"].read()
    assert body == b"hello"
""",
    ),
    "detect_faces": (
        frozenset({"DetectFaces"}),
        """
def test_faces_are_found_in_a_photo_uploaded_to_s3(rekognition_client, s3_client):
    s3_client.create_bucket(Bucket="user-faces")
    s3_client.put_object(Bucket="user-faces", Key="astronaut.jpg", Body=jpeg(data.astronaut()))
    response = rekognition_client.detect_faces(
        Image={"S3Object": {"Bucket": "user-faces", "Name": "astronaut.jpg"}}
    )
    assert len(response["FaceDetails"]) == 1
""",
    ),
    "collections": (
        frozenset({"CreateCollection", "ListCollections", "DeleteCollection"}),
        """
def test_a_collection_can_be_created_listed_and_deleted(rekognition_client):
    rekognition_client.create_collection(CollectionId="user-kit")
    assert "user-kit" in rekognition_client.list_collections()["CollectionIds"]
    rekognition_client.delete_collection(CollectionId="user-kit")
""",
    ),
    "search": (
        frozenset({"CreateCollection", "IndexFaces", "SearchFacesByImage"}),
        """
def test_an_indexed_face_is_found_again(rekognition_client):
    rekognition_client.create_collection(CollectionId="user-kit-search")
    photo = jpeg(data.astronaut())
    indexed = rekognition_client.index_faces(CollectionId="user-kit-search", Image={"Bytes": photo})
    face_id = indexed["FaceRecords"][0]["Face"]["FaceId"]
    found = rekognition_client.search_faces_by_image(
        CollectionId="user-kit-search", Image={"Bytes": photo}
    )
    assert face_id in [m["Face"]["FaceId"] for m in found["FaceMatches"]]
""",
    ),
    "video": (
        frozenset({"StartFaceDetection", "GetFaceDetection"}),
        """
def test_a_video_job_is_waited_for(rekognition_client, s3_client, wait_for_job, tmp_path):
    import av
    import numpy as np

    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 90, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    s3_client.create_bucket(Bucket="user-videos")
    s3_client.put_object(Bucket="user-videos", Key="clip.mp4", Body=clip.read_bytes())
    job = rekognition_client.start_face_detection(
        Video={"S3Object": {"Bucket": "user-videos", "Name": "clip.mp4"}}
    )
    answer = wait_for_job(rekognition_client.get_face_detection, job["JobId"])
    assert answer["JobStatus"] == "SUCCEEDED"
    assert answer["VideoMetadata"]["DurationMillis"] == 1000
    assert answer["Faces"] == []
""",
    ),
}


REPO = Path(__file__).resolve().parent.parent


def _run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A project of the user's: its own rootdir, none of our conftest, the plugin found
    # through the installed package's entry point alone. The checkout goes first on the
    # path because an editable install made before a package had its __init__.py maps it
    # as a namespace package outside the checkout (a stale install, not the user's case).
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(folder), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_a_users_test_file_passes_with_only_the_fixtures(tmp_path: Path) -> None:
    available = set(implemented())
    chosen = [name for name, (needs, _) in PARTS.items() if needs <= available]
    source = HEADER + "".join(PARTS[name][1] for name in chosen)
    assert "rekognition_emulator" not in source
    (tmp_path / "test_my_app.py").write_text(textwrap.dedent(source))
    proc = _run_pytest(tmp_path, "-q", "test_my_app.py")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{len(chosen)} passed" in proc.stdout, proc.stdout[-2000:]


def test_the_plugin_starts_no_server_for_tests_that_do_not_ask(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    proc = _run_pytest(tmp_path, "-q", "--setup-show", "test_plain.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rekognition_endpoint" not in proc.stdout


def test_the_fixtures_can_use_a_server_already_running(tmp_path: Path, endpoint: str) -> None:
    (tmp_path / "test_given.py").write_text(
        f"def test_given(rekognition_endpoint):\n    assert rekognition_endpoint == {endpoint!r}\n"
    )
    proc = _run_pytest(tmp_path, "-q", "--rekognition-endpoint", endpoint, "test_given.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
