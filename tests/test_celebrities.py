"""RecognizeCelebrities and GetCelebrityInfo through boto3, against galleries seeded the three
ways a user can: the admin endpoint, the CLI on a stopped server's data dir, and a folder
read at start.

The recognition figures are measured on the shared identities the similarity scale was not
fitted on (tests/groundtruth.py HELD_OUT_IDENTITIES): one photo of each seeds the gallery,
their other photos must be named, and everyone else (the FIT identities, the strangers of the
group photos) must stay unrecognized.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import skimage.data
from botocore.exceptions import ClientError

from rekognition_emulator.handlers.celebrities import celebrity_id
from tests.conftest import jpeg, make_client
from tests.groundtruth import (
    FIT_IDENTITIES,
    HELD_OUT_IDENTITIES,
    group_photos,
    identities,
)
from tests.shape_check import validate_responses
from tests.wire import CheckedServer

ADMIN = "/_emulator/celebrities"
DEFAULT_FACE = {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality", "Emotions", "Smile"}


def admin(endpoint: str, path: str = ADMIN, *, method: str = "GET", body=None, raw=None,
          content_type: str = "application/json") -> tuple[int, dict]:  # fmt: skip
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        endpoint + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def seed(endpoint: str, name: str, photo: Path, **extra) -> dict:
    status, body = admin(
        endpoint,
        method="POST",
        body={"Name": name, "Photos": [base64.b64encode(photo.read_bytes()).decode()], **extra},
    )
    assert status == 201, body
    return body


@pytest.fixture(scope="module")
def gallery_server():
    server = CheckedServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def client(gallery_server):
    return validate_responses(make_client("rekognition", gallery_server.endpoint))


def test_an_empty_gallery_recognizes_nobody(gallery_server, client):
    photo = jpeg(skimage.data.astronaut())
    answer = client.recognize_celebrities(Image={"Bytes": photo})
    assert answer["CelebrityFaces"] == []
    (face,) = answer["UnrecognizedFaces"]
    assert set(face) == DEFAULT_FACE
    assert len(face["Landmarks"]) == 5 and len(face["Emotions"]) >= 7
    assert "OrientationCorrection" not in answer  # AWS stopped returning it in 2021
    with pytest.raises(ClientError) as raised:
        client.get_celebrity_info(Id="3Ir0du6")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_seeded_identities_are_named_in_their_other_photos(gallery_server, client, testdata):
    """One photo each of the held-out identities seeds the gallery; their other photos must
    be named (top-1 at least 0.95); the other identities' photos stay unrecognized."""
    people = identities(testdata)
    seeded = {}
    for name in HELD_OUT_IDENTITIES:
        shown = name.replace("_", " ")
        seeded[name] = seed(gallery_server.endpoint, shown, people[name][0])
        assert seeded[name]["Id"] == celebrity_id(shown)

    named, total, misses = 0, 0, []
    for name in HELD_OUT_IDENTITIES:
        for path in people[name][1:]:
            answer = client.recognize_celebrities(Image={"Bytes": path.read_bytes()})
            best = answer["CelebrityFaces"][0] if answer["CelebrityFaces"] else None
            total += 1
            if best and best["Id"] == seeded[name]["Id"]:
                named += 1
                assert best["MatchConfidence"] >= 80
                assert set(best["Face"]) == DEFAULT_FACE
            else:
                misses.append((path.name, best and best["Name"]))
    assert total >= 30
    assert named / total >= 0.95, misses

    strangers = [p for n in FIT_IDENTITIES for p in people[n]]
    strangers += [p for p in group_photos(testdata) if "dlib_pascal" in p.name]
    wrongly = []
    for path in strangers:
        answer = client.recognize_celebrities(Image={"Bytes": path.read_bytes()})
        wrongly += [(path.name, c["Name"]) for c in answer["CelebrityFaces"]]
        assert answer["UnrecognizedFaces"]
    assert wrongly == []


def test_get_celebrity_info_round_trips(gallery_server, client, testdata):
    photo = identities(testdata)["Joe_Biden"][0]
    added = seed(
        gallery_server.endpoint,
        "Joe Biden",
        photo,
        Urls=["www.example.com/biden", "en.wikipedia.org/wiki/Joe_Biden"],
        KnownGender="Male",
    )
    assert re.fullmatch(r"[0-9A-Za-z]{8}", added["Id"])
    info = client.get_celebrity_info(Id=added["Id"])
    assert info["Name"] == "Joe Biden"
    assert info["Urls"] == ["www.example.com/biden", "en.wikipedia.org/wiki/Joe_Biden"]
    assert info["KnownGender"] == {"Type": "Male"}


def test_two_celebrities_in_one_photo_are_each_named_once(gallery_server, client, testdata):
    people = identities(testdata)
    for name in ("Barack_Obama", "Joe_Biden"):  # a photo already held is not added twice
        seed(gallery_server.endpoint, name.replace("_", " "), people[name][0])
    photo = testdata / "faces" / "groups" / "face_recognition__knn_test_obama_and_biden.jpg"
    answer = client.recognize_celebrities(Image={"Bytes": photo.read_bytes()})
    names = sorted(c["Name"] for c in answer["CelebrityFaces"])
    assert names == ["Barack Obama", "Joe Biden"]
    boxes = [tuple(c["Face"]["BoundingBox"].values()) for c in answer["CelebrityFaces"]]
    assert len(set(boxes)) == 2
    for celebrity in answer["CelebrityFaces"]:
        assert celebrity["KnownGender"] == {"Type": "Male"}


def test_gender_is_read_from_the_photos_when_not_given(gallery_server, testdata):
    seed(gallery_server.endpoint, "Rose Leslie", identities(testdata)["Rose_Leslie"][0])
    seed(
        gallery_server.endpoint,
        "Joe Biden",
        identities(testdata)["Joe_Biden"][0],
        KnownGender="Male",
    )
    status, listed = admin(gallery_server.endpoint)
    assert status == 200
    by_name = {c["Name"]: c for c in listed["Celebrities"]}
    assert by_name["Rose Leslie"]["KnownGender"] == {"Type": "Female"}
    assert by_name["Rose Leslie"]["KnownGenderFrom"] == "photos"
    assert by_name["Joe Biden"]["KnownGenderFrom"] == "given"


def test_admin_refuses_what_it_cannot_add(gallery_server):
    endpoint = gallery_server.endpoint
    coffee = base64.b64encode(jpeg(skimage.data.coffee())).decode()
    status, body = admin(endpoint, method="POST", body={"Name": "Cup", "Photos": [coffee]})
    assert status == 400 and "no face" in body["error"]
    status, body = admin(
        endpoint,
        method="POST",
        body={"Name": "X", "Photos": [coffee], "KnownGender": "Robot"},
    )
    assert status == 400 and "gender must be one of" in body["error"]
    status, body = admin(endpoint, method="POST", body={"Name": "X", "Photos": []})
    assert status == 400 and "at least one photo" in body["error"]
    status, body = admin(endpoint, method="POST", body={"Name": "X", "Photos": ["%%%"]})
    assert status == 400 and "base64" in body["error"]
    status, _ = admin(endpoint, f"{ADMIN}/nosuchid", method="DELETE")
    assert status == 404


def test_a_photo_posted_as_the_body_seeds_and_delete_forgets(gallery_server, client):
    endpoint = gallery_server.endpoint
    astronaut = skimage.data.astronaut()
    status, added = admin(
        endpoint,
        f"{ADMIN}?name=Eileen%20Collins&url=www.example.com/collins&gender=Female",
        method="POST",
        raw=jpeg(astronaut),
        content_type="image/jpeg",
    )
    assert status == 201, added
    # The same face in another picture: mirrored and recropped.
    other = jpeg(astronaut[16:496, 40:512][:, ::-1].copy())
    (found,) = client.recognize_celebrities(Image={"Bytes": other})["CelebrityFaces"]
    assert found["Name"] == "Eileen Collins" and found["Urls"] == ["www.example.com/collins"]

    status, _ = admin(endpoint, f"{ADMIN}/{added['Id']}", method="DELETE")
    assert status == 200
    assert client.recognize_celebrities(Image={"Bytes": other})["CelebrityFaces"] == []
    with pytest.raises(ClientError) as raised:
        client.get_celebrity_info(Id=added["Id"])
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rekognition_emulator", "celebrities", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_seeds_a_stopped_servers_data_dir(tmp_path, testdata):
    people = identities(testdata)
    data_dir = tmp_path / "data"
    photo = people["John_Simm"][0]
    done = _cli("add", "John Simm", str(photo), "--url", "www.example.com/simm", "--data-dir", str(data_dir))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"John Simm (Id {celebrity_id('John Simm')})" in done.stdout
    assert "KnownGender Male (read from the photos)" in done.stdout

    server = CheckedServer(data_dir=data_dir)
    try:
        rek = make_client("rekognition", server.start())
        answer = rek.recognize_celebrities(Image={"Bytes": people["John_Simm"][1].read_bytes()})
        assert [c["Name"] for c in answer["CelebrityFaces"]] == ["John Simm"]
        # With the server holding the data dir, the CLI says to use the server instead.
        busy = _cli("add", "John Simm", str(photo), "--data-dir", str(data_dir))
        assert busy.returncode == 3
        assert "in use by a running server" in busy.stderr and ADMIN in busy.stderr
    finally:
        server.stop()
    gone = _cli("remove", "John Simm", "--data-dir", str(data_dir))
    assert gone.returncode == 0, gone.stderr
    assert _cli("list", "--data-dir", str(data_dir)).stdout == ""
    bad = _cli("add", "Nobody", str(tmp_path / "missing.jpg"), "--data-dir", str(data_dir))
    assert bad.returncode == 2 and "cannot read" in bad.stderr


def test_a_folder_is_read_at_start(tmp_path, testdata):
    people = identities(testdata)
    folder = tmp_path / "celebrities"
    for name in ("Kit_Harington", "Rose_Leslie"):
        (folder / name).mkdir(parents=True)
        shutil.copy(people[name][0], folder / name / people[name][0].name)
    (folder / "Kit_Harington" / "info.json").write_text(
        json.dumps({"Urls": ["www.example.com/kit"], "KnownGender": "Male"})
    )
    (folder / "Nobody").mkdir()
    (folder / "Nobody" / "cup.jpg").write_bytes(jpeg(skimage.data.coffee()))
    group = (testdata / "faces" / "groups" / "face_recognition__knn_test_kit_with_rose.jpg").read_bytes()  # fmt: skip

    data_dir = tmp_path / "data"
    server = CheckedServer(data_dir=data_dir, args=["--celebrities-dir", str(folder)])
    try:
        rek = make_client("rekognition", server.start())
        answer = rek.recognize_celebrities(Image={"Bytes": group})
        assert sorted(c["Name"] for c in answer["CelebrityFaces"]) == ["Kit_Harington", "Rose_Leslie"]  # fmt: skip
        kit = rek.get_celebrity_info(Id=celebrity_id("Kit_Harington"))
        assert kit == {**kit, "Urls": ["www.example.com/kit"], "KnownGender": {"Type": "Male"}}
        _, listed = admin(server.endpoint)
        assert "Nobody" not in {c["Name"] for c in listed["Celebrities"]}  # no face: skipped
    finally:
        server.stop()

    # A celebrity taken out of the folder leaves the gallery at the next start.
    shutil.rmtree(folder / "Rose_Leslie")
    server = CheckedServer(data_dir=data_dir, args=["--celebrities-dir", str(folder)])
    try:
        rek = make_client("rekognition", server.start())
        answer = rek.recognize_celebrities(Image={"Bytes": group})
        assert [c["Name"] for c in answer["CelebrityFaces"]] == ["Kit_Harington"]
        # The admin reset empties the gallery, then reads the folder again.
        admin(server.endpoint, "/_emulator/reset", method="POST")
        _, listed = admin(server.endpoint)
        assert [c["Name"] for c in listed["Celebrities"]] == ["Kit_Harington"]
    finally:
        server.cleanup()


def test_a_video_frame_names_celebrities_with_their_body_box(testdata):
    """The per-frame piece celebrity recognition in stored videos will use: a CelebrityDetail
    per celebrity seen, its BoundingBox the body around the face."""
    from rekognition_emulator.handlers.analysis import celebrities as frame
    from tests.groundtruth import read_rgb

    people = identities(testdata)
    entries, owners, vectors = [], [], []
    for name in ("Barack_Obama", "Joe_Biden"):
        enrolment = frame.enrol(read_rgb(people[name][0]))
        cid = celebrity_id(name)
        entries.append({"Id": cid, "Name": name, "Urls": [], "KnownGender": {"Type": "Male"}})
        owners.append(cid)
        vectors.append(enrolment.embedding)
    gallery = frame.Gallery.build(entries, owners, vectors)
    rgb = read_rgb(testdata / "faces" / "groups" / "face_recognition__two_people.jpg")
    details = frame.celebrity_details(rgb, gallery)
    assert sorted(d["Name"] for d in details) == ["Barack_Obama", "Joe_Biden"]
    for d in details:
        assert d["Confidence"] >= 80
        body, face = d["BoundingBox"], d["Face"]["BoundingBox"]
        assert body["Height"] > 1.5 * face["Height"]  # the person, not the face
        assert body["Left"] <= face["Left"] and body["Top"] <= face["Top"]
    assert frame.celebrity_details(rgb, frame.Gallery.empty()) == []
