"""Concurrency: 8 threads indexing into one collection end with exactly the right FaceCount
and no duplicate ids, while searches running at the same time keep answering correctly.

Once through the server with real photos (what a user sees), once on the store with
synthetic embeddings and many more writes (where a race would show).
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rekognition_emulator.emulator.store import BoundingBox, FaceStore, NewFace
from tests.collection_helpers import identities, unique, unit_vectors
from tests.conftest import make_client

THREADS = 8


def test_eight_threads_index_while_others_search_through_the_server(endpoint, testdata):
    people = identities(testdata)
    admin = make_client("rekognition", endpoint)
    cid = unique("concurrent")
    admin.create_collection(CollectionId=cid)
    obama = people["Barack_Obama"]
    admin.index_faces(
        CollectionId=cid,
        Image={"Bytes": obama[0].read_bytes()},
        ExternalImageId="Barack_Obama",
        MaxFaces=1,
    )
    others = [(name, p) for name, paths in people.items() if name != "Barack_Obama" for p in paths]
    work = [others[i::THREADS][:3] for i in range(THREADS)]
    done = threading.Event()
    search_errors: list[str] = []
    searches = 0

    def search_loop() -> None:
        nonlocal searches
        client = make_client("rekognition", endpoint)
        probe = obama[1].read_bytes()
        while not done.is_set():
            out = client.search_faces_by_image(
                CollectionId=cid, Image={"Bytes": probe}, FaceMatchThreshold=0, MaxFaces=3
            )
            searches += 1
            top = out["FaceMatches"][0]["Face"].get("ExternalImageId")
            sims = [m["Similarity"] for m in out["FaceMatches"]]
            if top != "Barack_Obama" or sims != sorted(sims, reverse=True):
                search_errors.append(f"top match {top}, similarities {sims}")

    def index(batch: list) -> list[str]:
        client = make_client("rekognition", endpoint)
        ids = []
        for name, path in batch:
            out = client.index_faces(
                CollectionId=cid,
                Image={"Bytes": path.read_bytes()},
                ExternalImageId=name,
                QualityFilter="NONE",
            )
            ids += [r["Face"]["FaceId"] for r in out["FaceRecords"]]
        return ids

    searcher = threading.Thread(target=search_loop)
    searcher.start()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(index, work))
    finally:
        done.set()
        searcher.join(timeout=120)
    face_ids = [f for ids in results for f in ids]
    assert len(face_ids) == len(set(face_ids)), "duplicate FaceIds"
    assert admin.describe_collection(CollectionId=cid)["FaceCount"] == len(face_ids) + 1
    listed = [
        f["FaceId"]
        for page in admin.get_paginator("list_faces").paginate(CollectionId=cid)
        for f in page["Faces"]
    ]
    assert len(listed) == len(set(listed)) == len(face_ids) + 1
    assert set(face_ids) <= set(listed)
    assert searches > 0 and not search_errors, search_errors[:5]
    admin.delete_collection(CollectionId=cid)


@pytest.fixture
def store(tmp_path):
    store = FaceStore(tmp_path, preload=False)
    yield store
    store.close()


def test_concurrent_writers_deleters_and_searchers_on_the_store(store):
    backend = store.region("123456789012", "us-east-1")
    backend.create_collection("race", None)
    per_thread = 300
    vectors = unit_vectors(THREADS * per_thread, seed=21)
    box = BoundingBox(0.2, 0.2, 0.4, 0.4)
    acked: dict[int, str] = {}  # vector row -> face id, once add_faces returned
    deleting: set[int] = set()
    deleted: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()
    problems: list[str] = []

    def writer(t: int) -> None:
        rng = random.Random(t)
        rows = list(range(t * per_thread, (t + 1) * per_thread))
        i = 0
        while i < len(rows):
            batch = rows[i : i + rng.randint(1, 6)]
            i += len(batch)
            _, faces = backend.add_faces(
                "race", [NewFace(box, 99.0, vectors[r]) for r in batch], None
            )
            with lock:
                acked.update({r: f.face_id for r, f in zip(batch, faces, strict=True)})
            # Every fourth batch of this thread deletes its first face again.
            if rng.random() < 0.25:
                with lock:
                    deleting.add(batch[0])  # from now on a search may or may not find it
                backend.delete_faces("race", [faces[0].face_id])
                with lock:
                    deleted.add(batch[0])

    def searcher(seed: int) -> None:
        rng = random.Random(seed)
        collection = backend.describe_collection("race")
        while not stop.is_set():
            with lock:
                if not acked:
                    continue
                row = rng.choice(list(acked))
                expect_gone = row in deleted
                in_doubt = row in deleting and not expect_gone
                face_id = acked[row]
            hits = backend.search_faces(collection, vectors[row], 3, 0.99)
            ids = [h.face.face_id for h in hits]
            if expect_gone and face_id in ids:
                problems.append(f"deleted face {face_id} still found")
            if not expect_gone and not in_doubt and ids[:1] != [face_id]:
                problems.append(f"acknowledged face {face_id} not found first: {ids}")

    searchers = [threading.Thread(target=searcher, args=(s,)) for s in range(3)]
    for thread in searchers:
        thread.start()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(writer, range(THREADS)))
    stop.set()
    for thread in searchers:
        thread.join(timeout=60)

    collection = backend.describe_collection("race")
    expected = THREADS * per_thread - len(deleted)
    assert collection.face_count == expected
    assert store.index(collection.pk).live_count == expected
    listed: list[str] = []
    token = None
    while True:
        _, page, token = backend.list_faces("race", token, 1000)
        listed += [f.face_id for f in page]
        if token is None:
            break
    assert len(listed) == len(set(listed)) == expected
    assert set(listed) == {acked[r] for r in acked if r not in deleted}
    assert not problems, problems[:5]
    for row in list(acked)[::37]:
        hits = backend.search_faces(collection, vectors[row], 1, 0.99)
        assert [h.face.face_id for h in hits] == ([] if row in deleted else [acked[row]])
