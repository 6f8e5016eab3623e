"""Durability: what a client was told succeeded survives kill -9, and the HNSW index, being
derived data, is caught up from SQLite when stale and rebuilt when missing or corrupt.

The first test is the one a user relies on, end to end: IndexFaces in a loop through boto3,
SIGKILL the server, restart it on the same data directory, and every acknowledged FaceId is
listed and searchable. The others drive the store in a child process (so that "crash" means
the process dies without closing anything) with synthetic embeddings.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.store import FaceStore
from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.collection_helpers import identities, unit_vectors
from tests.conftest import REPO, make_client

ACCOUNT, REGION = "123456789012", "us-east-1"


# -- end to end through the server -----------------------------------------------------------
def test_acknowledged_faces_survive_sigkill_of_the_server(tmp_path, testdata):
    photos = [p for paths in identities(testdata).values() for p in paths[:3]]
    server = EmulatorProcess(data_dir=tmp_path / "data")
    server.start()
    rek = make_client("rekognition", server.endpoint)
    rek.create_collection(CollectionId="durable")
    acked: dict[str, Path] = {}
    stop = threading.Event()
    failures: list[str] = []

    def index_forever() -> None:
        i = 0
        while not stop.is_set():
            path = photos[i % len(photos)]
            i += 1
            try:
                out = rek.index_faces(
                    CollectionId="durable",
                    Image={"Bytes": path.read_bytes()},
                    ExternalImageId=f"photo-{i}",
                    MaxFaces=1,
                    QualityFilter="NONE",
                )
            except Exception as exc:  # the kill: the request in flight is not acknowledged
                failures.append(type(exc).__name__)
                return
            for record in out["FaceRecords"]:
                acked[record["Face"]["FaceId"]] = path

    worker = threading.Thread(target=index_forever)
    worker.start()
    deadline = time.monotonic() + 300
    while len(acked) < 12 and time.monotonic() < deadline and worker.is_alive():
        time.sleep(0.05)
    server.kill()  # SIGKILL, most likely in the middle of an IndexFaces
    stop.set()
    worker.join(timeout=60)
    assert len(acked) >= 12, f"indexing too slow or failing: {failures}"

    server.start()  # same data directory
    try:
        rek = make_client("rekognition", server.endpoint)
        listed = {
            f["FaceId"]
            for page in rek.get_paginator("list_faces").paginate(CollectionId="durable")
            for f in page["Faces"]
        }
        lost = set(acked) - listed
        assert not lost, f"{len(lost)} acknowledged faces lost after kill -9"
        count = rek.describe_collection(CollectionId="durable")["FaceCount"]
        assert count == len(listed) >= len(acked)
        for face_id in acked:  # every acknowledged face can be searched with ...
            rek.search_faces(CollectionId="durable", FaceId=face_id, MaxFaces=1)
        last_id, last_path = list(acked.items())[-1]
        out = rek.search_faces_by_image(
            CollectionId="durable", Image={"Bytes": last_path.read_bytes()}, MaxFaces=50
        )
        # ... and is found by its own photo (the index was rebuilt or caught up).
        assert last_id in {m["Face"]["FaceId"] for m in out["FaceMatches"]}
        assert out["FaceMatches"][0]["Similarity"] > 99
    finally:
        server.cleanup()


def test_reset_forgets_everything_for_good(tmp_path):
    server = EmulatorProcess(data_dir=tmp_path / "data")
    server.start()
    try:
        rek = make_client("rekognition", server.endpoint)
        rek.create_collection(CollectionId="gone-after-reset")
        req = urllib.request.Request(f"{server.endpoint}/_emulator/reset", method="POST")
        with urllib.request.urlopen(req, timeout=30) as reply:
            assert json.loads(reply.read())["reset"] is True
        assert rek.list_collections()["CollectionIds"] == []
        server.stop()
        server.start()
        rek = make_client("rekognition", server.endpoint)
        assert rek.list_collections()["CollectionIds"] == []
        with pytest.raises(ClientError):
            rek.describe_collection(CollectionId="gone-after-reset")
    finally:
        server.cleanup()


# -- the store in a child process ------------------------------------------------------------
WRITER = f"""
import sys
import numpy as np
from rekognition_emulator.emulator.store import BoundingBox, FaceStore, NewFace
from tests.collection_helpers import unit_vectors

data_dir, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = FaceStore(data_dir)
backend = store.region("{ACCOUNT}", "{REGION}")
try:
    backend.create_collection("crash", None)
except Exception:
    pass
vectors = unit_vectors(count, seed=seed)
box = BoundingBox(0.25, 0.25, 0.5, 0.5)
for start in range(0, count, 5):
    _, faces = backend.add_faces(
        "crash", [NewFace(box, 99.0, v) for v in vectors[start : start + 5]], None
    )
    # Printed only once add_faces returned: this is the acknowledgement.
    for offset, face in enumerate(faces):
        print("ACK", start + offset, face.face_id, flush=True)
print("DONE", flush=True)
"""


def child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        },
    )


def open_store(data_dir: Path) -> FaceStore:
    return FaceStore(data_dir, preload=False, background_saves=False)


def test_store_killed_mid_write_loses_no_acknowledged_face(tmp_path):
    count = 4000
    proc = child(WRITER, str(tmp_path), str(count), "7")
    acked: dict[int, str] = {}
    assert proc.stdout is not None
    # Past the background-save threshold (500 changes), so the kill can land mid-save too.
    for line in proc.stdout:
        if line.startswith("ACK"):
            _, row, face_id = line.split()
            acked[int(row)] = face_id
            if len(acked) >= 2500:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(acked) >= 2500, proc.stderr.read() if proc.stderr else ""

    vectors = unit_vectors(count, seed=7)
    store = open_store(tmp_path)
    try:
        backend = store.region(ACCOUNT, REGION)
        collection = backend.describe_collection("crash")
        assert collection.face_count >= len(acked)
        listed = set()
        token = None
        while True:
            _, page, token = backend.list_faces("crash", token, 4096)
            listed |= {f.face_id for f in page}
            if token is None:
                break
        assert set(acked.values()) <= listed
        assert len(listed) == collection.face_count
        for row, face_id in acked.items():
            (best,) = backend.search_faces(collection, vectors[row], 1, 0.99)
            assert best.face.face_id == face_id
    finally:
        store.close()


def run_child(code: str, *args: str) -> str:
    proc = child(code, *args)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


SETUP = f"""
import os, sys
import numpy as np
from rekognition_emulator.emulator.store import BoundingBox, FaceStore, NewFace
from tests.collection_helpers import unit_vectors

store = FaceStore(sys.argv[1], preload=False, background_saves=False)
backend = store.region("{ACCOUNT}", "{REGION}")
vectors = unit_vectors(300, seed=11)
box = BoundingBox(0.25, 0.25, 0.5, 0.5)
def add(rows):
    _, faces = backend.add_faces("c", [NewFace(box, 99.0, vectors[i]) for i in rows], None)
    for i, f in zip(rows, faces):
        print(i, f.face_id)
    return [f.face_id for f in faces]
"""


def face_ids_by_row(output: str) -> dict[int, str]:
    return {int(line.split()[0]): line.split()[1] for line in output.splitlines() if line}


def test_a_stale_saved_index_is_caught_up_from_sqlite(tmp_path, caplog):
    code = SETUP + textwrap.dedent(
        """
        backend.create_collection("c", None)
        first = add(range(0, 200))
        store.save_index(backend.describe_collection("c").pk)   # the index file: 200 faces
        add(range(200, 300))                                     # ... then 100 more
        backend.delete_faces("c", first[:20])                    # ... and 20 deletions
        os._exit(0)  # die without saving the index again (SQLite has committed everything)
        """
    )
    rows = face_ids_by_row(run_child(code, str(tmp_path)))
    vectors = unit_vectors(300, seed=11)
    caplog.set_level(logging.INFO, logger="rekognition_emulator.store")
    store = open_store(tmp_path)
    try:
        backend = store.region(ACCOUNT, REGION)
        collection = backend.describe_collection("c")
        assert collection.face_count == 280
        index = store.index(collection.pk)
        assert "loaded" in caplog.text and "rebuilt" not in caplog.text
        assert index.live_count == 280
        for row in (0, 19):  # deleted after the save: never found
            hits = backend.search_faces(collection, vectors[row], 1, 0.99)
            assert hits == []
        for row in (20, 150, 250, 299):  # saved, and added after the save: both found
            (hit,) = backend.search_faces(collection, vectors[row], 1, 0.99)
            assert hit.face.face_id == rows[row]
    finally:
        store.close()


@pytest.mark.parametrize("damage", ["corrupt", "missing", "truncated", "metadata"])
def test_a_damaged_index_file_is_rebuilt(tmp_path, caplog, damage):
    code = SETUP + textwrap.dedent(
        """
        backend.create_collection("c", None)
        add(range(0, 300))
        store.close()  # a clean shutdown saves the index
        """
    )
    rows = face_ids_by_row(run_child(code, str(tmp_path)))
    index_dir = tmp_path / "indexes"
    (index_file,) = index_dir.glob("c*.hnsw")
    if damage == "corrupt":
        data = bytearray(index_file.read_bytes())
        for i in range(1000, len(data), 997):
            data[i] ^= 0x5A
        index_file.write_bytes(bytes(data))
    elif damage == "missing":
        index_file.unlink()
    elif damage == "truncated":
        index_file.write_bytes(index_file.read_bytes()[: index_file.stat().st_size // 2])
    else:
        (meta,) = index_dir.glob("c*.json")
        meta.write_text("{not json")
    caplog.set_level(logging.INFO, logger="rekognition_emulator.store")
    vectors = unit_vectors(300, seed=11)
    store = open_store(tmp_path)
    try:
        backend = store.region(ACCOUNT, REGION)
        collection = backend.describe_collection("c")
        assert store.index(collection.pk).live_count == 300
        assert "rebuilt" in caplog.text
        for row in (0, 123, 299):
            (hit,) = backend.search_faces(collection, vectors[row], 1, 0.99)
            assert hit.face.face_id == rows[row]
    finally:
        store.close()


def test_an_index_from_another_data_directory_is_not_trusted(tmp_path, caplog):
    first, second = tmp_path / "first", tmp_path / "second"
    code = SETUP + 'backend.create_collection("c", None)\nadd(range(0, 300))\nstore.close()\n'
    run_child(code, str(first))
    code = SETUP + 'backend.create_collection("c", None)\nadd(range(0, 10))\nstore.close()\n'
    rows = face_ids_by_row(run_child(code, str(second)))
    # Copy the first directory's (bigger, valid) index over the second's.
    for path in (second / "indexes").iterdir():
        path.unlink()
    for path in (first / "indexes").iterdir():
        (second / "indexes" / path.name).write_bytes(path.read_bytes())
    caplog.set_level(logging.INFO, logger="rekognition_emulator.store")
    store = open_store(second)
    try:
        backend = store.region(ACCOUNT, REGION)
        collection = backend.describe_collection("c")
        assert store.index(collection.pk).live_count == 10
        assert "another database" in caplog.text
        (hit,) = backend.search_faces(collection, unit_vectors(300, seed=11)[5], 1, 0.99)
        assert hit.face.face_id == rows[5]
    finally:
        store.close()


def test_deleted_faces_free_index_slots_for_new_ones(tmp_path):
    store = open_store(tmp_path)
    try:
        from rekognition_emulator.emulator.store import BoundingBox, NewFace

        backend = store.region(ACCOUNT, REGION)
        backend.create_collection("churn", None)
        box = BoundingBox(0.25, 0.25, 0.5, 0.5)
        vectors = unit_vectors(2000, seed=5)
        for round_ in range(4):
            part = vectors[round_ * 500 : (round_ + 1) * 500]
            _, faces = backend.add_faces("churn", [NewFace(box, 99.0, v) for v in part], None)
            if round_ < 3:
                backend.delete_faces("churn", [f.face_id for f in faces])
        collection = backend.describe_collection("churn")
        index = store.index(collection.pk)
        assert collection.face_count == index.live_count == 500
        assert index._index.element_count <= 1000  # slots were reused, not grown 4x
        (hit,) = backend.search_faces(collection, vectors[1999], 1, 0.99)
        assert hit.face.face_id == faces[-1].face_id
        assert backend.search_faces(collection, vectors[0], 1, 0.99) == []
    finally:
        store.close()
