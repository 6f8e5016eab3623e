"""The inspector's request journal and face thumbnails, through the JSON the page reads
(the page itself in a real browser: tests/test_inspector_browser.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import skimage.data

from rekognition_emulator.emulator.inspector.journal import Journal
from rekognition_emulator.emulator.inspector.thumbnails import Thumbnails
from tests.conftest import jpeg, make_client
from tests.wire import CheckedServer, call

ASTRONAUT = jpeg(skimage.data.astronaut())


def get(endpoint: str, path: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(endpoint + path, timeout=30) as reply:
            return reply.status, reply.read(), reply.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def get_json(endpoint: str, path: str):
    status, body, _ = get(endpoint, path)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def small_journal():
    """A server whose journal keeps 5 requests, images up to 100 kB."""
    server = CheckedServer(args=["--inspector-requests", "5", "--inspector-image-bytes", "100000"])
    server.start()
    yield server.endpoint
    server.cleanup()


def test_the_journal_lists_requests_newest_first_with_what_a_reader_needs(endpoint):
    rekognition = make_client("rekognition", endpoint)
    rekognition.create_collection(CollectionId="journal-a")
    with pytest.raises(rekognition.exceptions.ResourceAlreadyExistsException):
        rekognition.create_collection(CollectionId="journal-a")

    rows = get_json(endpoint, "/_emulator/ui/api/requests")["requests"]
    failed, created = rows[0], rows[1]
    assert (created["operation"], created["status"], created["error"]) == (
        "CreateCollection",
        200,
        None,
    )
    assert (failed["status"], failed["error"]) == (400, "ResourceAlreadyExistsException")
    assert failed["seq"] > created["seq"]
    assert (failed["account"], failed["region"]) == ("123456789012", "us-east-1")
    assert failed["ms"] >= 0

    detail = get_json(endpoint, f"/_emulator/ui/api/requests/{created['seq']}")
    assert detail["params"] == {"CollectionId": "journal-a"}
    assert detail["response"]["CollectionArn"].endswith(":collection/journal-a")
    assert detail["request_id"] == created["request_id"]

    newer = get_json(endpoint, f"/_emulator/ui/api/requests?after={created['seq']}")["requests"]
    assert [r["seq"] for r in newer] == [failed["seq"]]


def test_an_image_is_kept_and_served_back_with_the_request(endpoint):
    rekognition = make_client("rekognition", endpoint)
    faces = rekognition.detect_faces(Image={"Bytes": ASTRONAUT})["FaceDetails"]
    row = get_json(endpoint, "/_emulator/ui/api/requests?limit=1")["requests"][0]
    detail = get_json(endpoint, f"/_emulator/ui/api/requests/{row['seq']}")

    assert detail["params"]["Image"] == {"Bytes": {"$bytes": len(ASTRONAUT)}}
    assert detail["images"] == [
        {"member": "Image", "source": "bytes", "kept": True, "why_not": None}
    ]
    assert len(detail["response"]["FaceDetails"]) == len(faces) == 1
    status, body, media = get(endpoint, f"/_emulator/ui/api/requests/{row['seq']}/image")
    assert (status, media) == (200, "image/jpeg")
    assert body == ASTRONAUT


def test_an_s3_image_is_read_from_s3_when_shown(endpoint):
    s3 = make_client("s3", endpoint)
    s3.create_bucket(Bucket="journal-photos")
    s3.put_object(Bucket="journal-photos", Key="a.jpg", Body=ASTRONAUT)
    make_client("rekognition", endpoint).detect_faces(
        Image={"S3Object": {"Bucket": "journal-photos", "Name": "a.jpg"}}
    )
    rows = get_json(endpoint, "/_emulator/ui/api/requests?limit=3")["requests"]
    (row,) = [r for r in rows if r["operation"] == "DetectFaces"]
    assert any(r["service"] == "S3" and r["operation"].startswith("PUT ") for r in rows)
    detail = get_json(endpoint, f"/_emulator/ui/api/requests/{row['seq']}")
    assert detail["images"][0]["source"] == "s3"
    status, body, _ = get(endpoint, f"/_emulator/ui/api/requests/{row['seq']}/image")
    assert status == 200 and body == ASTRONAUT


def test_the_journal_is_bounded_and_skips_large_images(small_journal):
    rekognition = make_client("rekognition", small_journal)
    for _ in range(7):
        rekognition.list_collections()
    rows = get_json(small_journal, "/_emulator/ui/api/requests")["requests"]
    assert len(rows) == 5

    big = jpeg(skimage.data.astronaut(), quality=100)
    assert len(big) > 100_000
    rekognition.detect_faces(Image={"Bytes": big})
    row = get_json(small_journal, "/_emulator/ui/api/requests?limit=1")["requests"][0]
    detail = get_json(small_journal, f"/_emulator/ui/api/requests/{row['seq']}")
    (image,) = detail["images"]
    assert image["kept"] is False
    assert "100,000-byte limit" in image["why_not"]
    status, _, _ = get(small_journal, f"/_emulator/ui/api/requests/{row['seq']}/image")
    assert status == 404


def test_index_faces_keeps_a_thumbnail_of_each_face_for_the_collection_view(endpoint):
    rekognition = make_client("rekognition", endpoint)
    rekognition.create_collection(CollectionId="journal-thumbs")
    record = rekognition.index_faces(
        CollectionId="journal-thumbs", Image={"Bytes": ASTRONAUT}, ExternalImageId="eileen"
    )["FaceRecords"][0]
    face_id = record["Face"]["FaceId"]

    listed = get_json(endpoint, "/_emulator/ui/api/collections?q=journal-thumbs")["collections"]
    assert [(c["collection_id"], c["face_count"]) for c in listed] == [("journal-thumbs", 1)]
    view = get_json(endpoint, "/_emulator/ui/api/collections/123456789012/us-east-1/journal-thumbs")
    assert [(f["face_id"], f["external_image_id"]) for f in view["faces"]] == [(face_id, "eileen")]
    assert (
        get_json(
            endpoint, "/_emulator/ui/api/collections/123456789012/us-east-1/journal-thumbs?q=nobody"
        )["faces"]
        == []
    )

    status, body, media = get(endpoint, f"/_emulator/ui/api/faces/{face_id}/thumbnail")
    assert (status, media) == (200, "image/jpeg")
    import cv2

    thumb = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert max(thumb.shape[:2]) == 112  # the face and a margin, shrunk


def test_with_the_inspector_off_nothing_is_journaled_nor_cropped():
    server = CheckedServer(args=["--no-inspector"])
    endpoint = server.start()
    try:
        rekognition = make_client("rekognition", endpoint)
        rekognition.create_collection(CollectionId="off")
        face_id = rekognition.index_faces(CollectionId="off", Image={"Bytes": ASTRONAUT})[
            "FaceRecords"
        ][0]["Face"]["FaceId"]
        assert get_json(endpoint, "/_emulator/ui/api/requests") == {
            "enabled": False,
            "requests": [],
        }
        assert get(endpoint, f"/_emulator/ui/api/faces/{face_id}/thumbnail")[0] == 404
        assert not (server.data_dir / "thumbnails").exists()
        page = get(endpoint, "/_emulator/ui")
        assert page[0] == 200  # the page itself says the journal is off (browser test)
    finally:
        server.cleanup()


def test_the_reset_empties_the_journal(small_journal):
    make_client("rekognition", small_journal).list_collections()
    call(small_journal, None, method="POST", path="/_emulator/reset")
    rows = get_json(small_journal, "/_emulator/ui/api/requests")["requests"]
    assert rows == []


def test_the_page_and_its_files_are_served_from_the_package(endpoint):
    status, body, media = get(endpoint, "/_emulator/ui")
    assert status == 200 and media.startswith("text/html")
    assert b"/_emulator/ui/static/inspector.js" in body
    assert b"http" not in body.replace(b"http-equiv", b"")  # nothing from a CDN
    status, _, media = get(endpoint, "/_emulator/ui/static/inspector.js")
    assert status == 200 and media.startswith("text/javascript")
    assert get(endpoint, "/_emulator/ui/static/..%2Fpages.py")[0] == 404


# -- the bounds, in process -----------------------------------------------------------------
def test_the_journal_drops_the_oldest_images_past_its_memory_budget():
    journal = Journal(size=100, image_bytes=1000, memory_bytes=2500)
    for i in range(4):
        journal.record(
            service="Rekognition",
            operation="DetectFaces",
            status=200,
            ms=1.0,
            account="1",
            region="r",
            request_id=str(i),
            params={"Image": {"Bytes": bytes(1000)}},
        )
    entries = journal.entries()
    assert [bool(e.images) for e in entries] == [True, True, False, False]  # newest first
    assert journal.held() == 2000
    assert "memory budget" in entries[-1].omitted["Image"]


def test_thumbnails_stay_under_their_cap(tmp_path):
    store = Thumbnails(tmp_path, max_bytes=40_000)
    rgb = skimage.data.astronaut()
    box = {"Left": 0.4, "Top": 0.1, "Width": 0.25, "Height": 0.3}
    for i in range(40):
        store.keep(f"face-{i:04d}-0000", rgb, box)
    used = sum(p.stat().st_size for p in tmp_path.rglob("*.jpg"))
    assert 0 < used <= 40_000
    assert store.read("face-0039-0000") is not None  # the newest are kept
    assert store.read("../../etc/passwd") is None
