"""IndexFaces, ListFaces, DeleteFaces, SearchFaces and SearchFacesByImage through boto3
against a live server, on real photos (the shared test identities) and, where many faces
are needed, on a collection seeded with synthetic embeddings.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.testing import EmulatorProcess
from rekognition_emulator.handlers.analysis.faces import similarity
from tests.collection_helpers import (
    group_photo,
    identities,
    photo,
    seed_collection,
    unique,
    unit_vectors,
)
from tests.conftest import make_client
from tests.shape_check import validate_responses

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DEFAULT_MEMBERS = {"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"}
GROUP_OF_SEVEN = "dlib_pascal__2007_007763"


@pytest.fixture(scope="module")
def rek(endpoint):
    return validate_responses(make_client("rekognition", endpoint))


@pytest.fixture
def collection(rek):
    cid = unique("faces")
    rek.create_collection(CollectionId=cid)
    yield cid
    rek.delete_collection(CollectionId=cid)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def area(box: dict) -> float:
    return box["Width"] * box["Height"]


# -- IndexFaces -------------------------------------------------------------------------------
def test_index_faces_stores_the_face_with_its_detail(rek, collection, testdata):
    out = rek.index_faces(
        CollectionId=collection,
        Image={"Bytes": photo(testdata, "Barack_Obama", 1)},
        ExternalImageId="obama:portrait.1",
    )
    assert out["FaceModelVersion"] == "7.0"
    assert out["UnindexedFaces"] == []
    (record,) = out["FaceRecords"]
    face, detail = record["Face"], record["FaceDetail"]
    assert UUID.fullmatch(face["FaceId"]) and UUID.fullmatch(face["ImageId"])
    assert face["ExternalImageId"] == "obama:portrait.1"
    assert face["BoundingBox"] == detail["BoundingBox"]
    assert face["Confidence"] == detail["Confidence"] > 90
    assert set(detail) == DEFAULT_MEMBERS
    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == 1
    (listed,) = rek.list_faces(CollectionId=collection)["Faces"]
    assert listed["FaceId"] == face["FaceId"]
    assert listed["IndexFacesModelVersion"] == "7.0"
    assert listed["ExternalImageId"] == "obama:portrait.1"
    assert listed["BoundingBox"] == face["BoundingBox"]


def test_detection_attributes_all_returns_every_attribute(rek, collection, testdata):
    out = rek.index_faces(
        CollectionId=collection,
        Image={"Bytes": photo(testdata, "Joe_Biden")},
        DetectionAttributes=["ALL"],
    )
    detail = out["FaceRecords"][0]["FaceDetail"]
    assert {"AgeRange", "Gender", "Emotions", "Smile", "EyeDirection"} <= set(detail)
    assert len(detail["Landmarks"]) > 5


def test_max_faces_leaves_the_smallest_faces_unindexed(rek, collection, testdata):
    out = rek.index_faces(
        CollectionId=collection,
        Image={"Bytes": group_photo(testdata, GROUP_OF_SEVEN)},
        MaxFaces=2,
        QualityFilter="NONE",
    )
    records, unindexed = out["FaceRecords"], out["UnindexedFaces"]
    assert len(records) == 2 and len(unindexed) >= 3
    areas = [area(r["Face"]["BoundingBox"]) for r in records]
    assert areas == sorted(areas, reverse=True), "FaceRecords must be largest first"
    for face in unindexed:
        assert face["Reasons"] == ["EXCEEDS_MAX_FACES"]
        assert area(face["FaceDetail"]["BoundingBox"]) <= min(areas)
    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == 2


def test_faces_of_one_image_share_its_image_id(rek, collection, testdata):
    out = rek.index_faces(
        CollectionId=collection,
        Image={"Bytes": group_photo(testdata, GROUP_OF_SEVEN)},
        QualityFilter="NONE",
    )
    image_ids = {r["Face"]["ImageId"] for r in out["FaceRecords"]}
    face_ids = {r["Face"]["FaceId"] for r in out["FaceRecords"]}
    assert len(image_ids) == 1 and len(face_ids) == len(out["FaceRecords"]) >= 5
    again = rek.index_faces(
        CollectionId=collection, Image={"Bytes": photo(testdata, "Barack_Obama")}
    )
    assert again["FaceRecords"][0]["Face"]["ImageId"] not in image_ids


def test_quality_filter_none_indexes_every_detected_face(rek, collection, testdata):
    image = {"Bytes": group_photo(testdata, GROUP_OF_SEVEN)}
    detected = rek.detect_faces(Image=image)["FaceDetails"]
    out = rek.index_faces(CollectionId=collection, Image=image, QualityFilter="NONE")
    assert len(out["FaceRecords"]) == len(detected)
    assert out["UnindexedFaces"] == []


def test_quality_filter_reasons_are_the_measured_ones(rek, collection, testdata):
    out = rek.index_faces(
        CollectionId=collection,
        Image={"Bytes": group_photo(testdata, GROUP_OF_SEVEN)},
        QualityFilter="HIGH",
    )
    allowed = {
        "EXTREME_POSE",
        "LOW_BRIGHTNESS",
        "LOW_SHARPNESS",
        "LOW_CONFIDENCE",
        "SMALL_BOUNDING_BOX",
        "LOW_FACE_QUALITY",
    }
    # 7 small faces in a 500 px photo: HIGH's bar (40 px faces) leaves some out, for a reason.
    assert out["UnindexedFaces"]
    for face in out["UnindexedFaces"]:
        assert face["Reasons"] and set(face["Reasons"]) <= allowed


def test_an_image_without_faces_indexes_nothing(rek, collection, testdata):
    noise = (testdata / "faces" / "negatives" / "facenet-pytorch__noise_1.jpg").read_bytes()
    out = rek.index_faces(CollectionId=collection, Image={"Bytes": noise})
    assert out["FaceRecords"] == [] and out["UnindexedFaces"] == []
    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == 0


def test_index_faces_into_a_missing_collection_is_not_found(rek, testdata):
    with pytest.raises(ClientError) as exc:
        rek.index_faces(CollectionId="no-such-coll", Image={"Bytes": photo(testdata, "Joe_Biden")})
    assert code_of(exc) == "ResourceNotFoundException"


def test_index_faces_reads_images_from_s3(rek, endpoint, collection, testdata):
    s3 = make_client("s3", endpoint)
    bucket = unique("photos")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="biden.jpg", Body=photo(testdata, "Joe_Biden"))
    out = rek.index_faces(
        CollectionId=collection, Image={"S3Object": {"Bucket": bucket, "Name": "biden.jpg"}}
    )
    assert len(out["FaceRecords"]) == 1


# -- ListFaces / DeleteFaces ------------------------------------------------------------------
def index_group(rek, collection, testdata) -> list[str]:
    out = rek.index_faces(
        CollectionId=collection,
        Image={"Bytes": group_photo(testdata, GROUP_OF_SEVEN)},
        QualityFilter="NONE",
    )
    return [r["Face"]["FaceId"] for r in out["FaceRecords"]]


def test_list_faces_pages_with_the_botocore_paginator(rek, collection, testdata):
    ids = index_group(rek, collection, testdata)
    pages = list(
        rek.get_paginator("list_faces").paginate(
            CollectionId=collection, PaginationConfig={"PageSize": 2}
        )
    )
    listed = [f["FaceId"] for page in pages for f in page["Faces"]]
    assert sorted(listed) == sorted(ids)
    assert len(pages) == (len(ids) + 1) // 2
    assert all(page["FaceModelVersion"] == "7.0" for page in pages)


def test_list_faces_filters_by_face_ids(rek, collection, testdata):
    ids = index_group(rek, collection, testdata)
    wanted = ids[1:3] + ["11111111-1111-4111-8111-111111111111"]
    listed = rek.list_faces(CollectionId=collection, FaceIds=wanted)["Faces"]
    assert sorted(f["FaceId"] for f in listed) == sorted(ids[1:3])


def test_a_list_faces_token_is_bound_to_its_filter(rek, collection, testdata):
    ids = index_group(rek, collection, testdata)
    token = rek.list_faces(CollectionId=collection, MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as exc:
        rek.list_faces(CollectionId=collection, MaxResults=1, NextToken=token, FaceIds=ids[:3])
    assert code_of(exc) == "InvalidPaginationTokenException"


def test_delete_faces_deletes_and_reports_unknown_ids(rek, collection, testdata):
    ids = index_group(rek, collection, testdata)
    missing = "11111111-1111-4111-8111-111111111111"
    out = rek.delete_faces(CollectionId=collection, FaceIds=[ids[0], missing, ids[1]])
    assert sorted(out["DeletedFaces"]) == sorted(ids[:2])
    assert out["UnsuccessfulFaceDeletions"] == [{"FaceId": missing, "Reasons": ["FACE_NOT_FOUND"]}]
    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == len(ids) - 2
    remaining = {f["FaceId"] for f in rek.list_faces(CollectionId=collection)["Faces"]}
    assert remaining == set(ids[2:])
    # A deleted face is never a match again, and cannot be searched with.
    for face_id in ids[2:4]:
        out = rek.search_faces(CollectionId=collection, FaceId=face_id, FaceMatchThreshold=0)
        assert not {m["Face"]["FaceId"] for m in out["FaceMatches"]} & set(ids[:2])
    with pytest.raises(ClientError) as exc:
        rek.search_faces(CollectionId=collection, FaceId=ids[0])
    assert code_of(exc) == "InvalidParameterException"
    assert ids[0] in exc.value.response["Error"]["Message"]


# -- SearchFaces / SearchFacesByImage ---------------------------------------------------------
@pytest.fixture
def people(rek, collection, testdata):
    """Two photos of Obama and one of Biden indexed; -> {external id: face id}."""
    faces = {}
    for name, index in (("Barack_Obama", 0), ("Barack_Obama", 1), ("Joe_Biden", 0)):
        ext = f"{name}.{index}"
        out = rek.index_faces(
            CollectionId=collection,
            Image={"Bytes": photo(testdata, name, index)},
            ExternalImageId=ext,
            MaxFaces=1,
        )
        faces[ext] = out["FaceRecords"][0]["Face"]["FaceId"]
    return faces


def test_search_faces_finds_the_same_person_but_not_the_face_itself(rek, collection, people):
    out = rek.search_faces(CollectionId=collection, FaceId=people["Barack_Obama.0"])
    assert out["SearchedFaceId"] == people["Barack_Obama.0"]
    assert out["FaceModelVersion"] == "7.0"
    assert [m["Face"]["ExternalImageId"] for m in out["FaceMatches"]] == ["Barack_Obama.1"]
    assert out["FaceMatches"][0]["Similarity"] >= 80
    assert out["FaceMatches"][0]["Face"]["IndexFacesModelVersion"] == "7.0"


def test_search_faces_orders_by_similarity_and_honours_threshold(rek, collection, people):
    out = rek.search_faces(
        CollectionId=collection, FaceId=people["Barack_Obama.0"], FaceMatchThreshold=0
    )
    sims = [m["Similarity"] for m in out["FaceMatches"]]
    assert len(sims) == 2 and sims == sorted(sims, reverse=True)
    assert out["FaceMatches"][-1]["Face"]["ExternalImageId"] == "Joe_Biden.0"
    cut = (sims[0] + sims[1]) / 2
    out = rek.search_faces(
        CollectionId=collection, FaceId=people["Barack_Obama.0"], FaceMatchThreshold=cut
    )
    assert [m["Similarity"] for m in out["FaceMatches"]] == sims[:1]
    out = rek.search_faces(
        CollectionId=collection, FaceId=people["Barack_Obama.0"], FaceMatchThreshold=0, MaxFaces=1
    )
    assert len(out["FaceMatches"]) == 1


def test_search_faces_by_image_uses_the_calibration_of_compare_faces(
    rek, collection, people, testdata
):
    probe = photo(testdata, "Barack_Obama", 2)
    out = rek.search_faces_by_image(CollectionId=collection, Image={"Bytes": probe})
    names = [m["Face"]["ExternalImageId"] for m in out["FaceMatches"]]
    assert names[0].startswith("Barack_Obama") and "Joe_Biden.0" not in names
    assert out["SearchedFaceConfidence"] > 90
    assert 0 < out["SearchedFaceBoundingBox"]["Width"] <= 1
    compared = rek.compare_faces(
        SourceImage={"Bytes": probe},
        TargetImage={"Bytes": photo(testdata, "Barack_Obama", 0)},
        SimilarityThreshold=0,
    )
    expected = compared["FaceMatches"][0]["Similarity"]
    by_search = {m["Face"]["ExternalImageId"]: m["Similarity"] for m in out["FaceMatches"]}
    assert by_search["Barack_Obama.0"] == pytest.approx(expected, abs=0.05)
    assert compared["SourceImageFace"]["BoundingBox"] == pytest.approx(
        out["SearchedFaceBoundingBox"]
    )


def test_search_faces_by_image_searches_with_the_largest_face(rek, collection, people, testdata):
    two = (testdata / "faces" / "groups" / "face_recognition__two_people.jpg").read_bytes()
    faces = rek.detect_faces(Image={"Bytes": two})["FaceDetails"]
    largest = max(faces, key=lambda f: area(f["BoundingBox"]))
    out = rek.search_faces_by_image(CollectionId=collection, Image={"Bytes": two})
    assert out["SearchedFaceBoundingBox"] == pytest.approx(largest["BoundingBox"])


def test_search_faces_by_image_without_a_face_is_an_invalid_parameter(rek, collection, testdata):
    noise = (testdata / "faces" / "negatives" / "facenet-pytorch__noise_1.jpg").read_bytes()
    with pytest.raises(ClientError) as exc:
        rek.search_faces_by_image(CollectionId=collection, Image={"Bytes": noise})
    assert code_of(exc) == "InvalidParameterException"


def test_search_finds_each_person_from_another_photo(rek, testdata):
    """Index one photo per person, search with every other photo: top-1 accuracy >= 0.9."""
    cid = unique("identities")
    rek.create_collection(CollectionId=cid)
    people = identities(testdata)
    for name, photos in people.items():
        out = rek.index_faces(
            CollectionId=cid,
            Image={"Bytes": photos[0].read_bytes()},
            ExternalImageId=name,
            MaxFaces=1,
            QualityFilter="NONE",
        )
        assert out["FaceRecords"], f"no face indexed for {name}"
    hits = total = 0
    misses = []
    for name, photos in people.items():
        for path in photos[1:]:
            total += 1
            try:
                out = rek.search_faces_by_image(
                    CollectionId=cid,
                    Image={"Bytes": path.read_bytes()},
                    FaceMatchThreshold=0,
                    MaxFaces=1,
                )
            except ClientError:
                misses.append((name, path.name, "no face"))
                continue
            found = out["FaceMatches"][0]["Face"]["ExternalImageId"] if out["FaceMatches"] else None
            if found == name:
                hits += 1
            else:
                misses.append((name, path.name, found))
    accuracy = hits / total
    print(f"top-1 identity accuracy {hits}/{total} = {accuracy:.3f}; misses: {misses}")
    assert accuracy >= 0.9, misses
    rek.delete_collection(CollectionId=cid)


# -- many faces: a synthetic collection on a server of its own --------------------------------
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A server whose data directory holds 6,000 synthetic faces in clusters of 3."""
    data_dir = tmp_path_factory.mktemp("synthetic-data")
    centres = unit_vectors(2000, seed=1)
    rng = np.random.default_rng(2)
    vectors = np.repeat(centres, 3, axis=0) + 0.05 * rng.standard_normal((6000, 128)).astype(
        np.float32
    )
    seed_collection(data_dir, "synthetic", vectors)
    server = EmulatorProcess(data_dir=data_dir)
    server.start()
    client = validate_responses(make_client("rekognition", server.endpoint))
    yield client, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    server.cleanup()


def test_search_widens_to_max_faces_when_every_face_passes(synthetic):
    rek, _ = synthetic
    first = rek.list_faces(CollectionId="synthetic", MaxResults=1)["Faces"][0]["FaceId"]
    out = rek.search_faces(
        CollectionId="synthetic", FaceId=first, FaceMatchThreshold=0, MaxFaces=4096
    )
    sims = [m["Similarity"] for m in out["FaceMatches"]]
    assert len(sims) == 4096
    assert sims == sorted(sims, reverse=True)
    assert first not in {m["Face"]["FaceId"] for m in out["FaceMatches"]}


def test_search_on_a_seeded_collection_finds_the_cluster(synthetic):
    rek, vectors = synthetic
    faces = [
        f
        for page in rek.get_paginator("list_faces").paginate(
            CollectionId="synthetic", PaginationConfig={"PageSize": 4096}
        )
        for f in page["Faces"]
    ]
    assert len(faces) == 6000
    # Faces were stored in vector order: 3k, 3k+1, 3k+2 are one cluster.
    for k in (0, 700, 1999):
        out = rek.search_faces(
            CollectionId="synthetic",
            FaceId=faces[3 * k]["FaceId"],
            FaceMatchThreshold=0,
            MaxFaces=2,
        )
        by_id = {m["Face"]["FaceId"]: m["Similarity"] for m in out["FaceMatches"]}
        assert set(by_id) == {faces[3 * k + 1]["FaceId"], faces[3 * k + 2]["FaceId"]}
        # Similarity is the analyzer's calibration of the exact cosine of the two embeddings.
        for j in (1, 2):
            exact = float(vectors[3 * k] @ vectors[3 * k + j])
            assert by_id[faces[3 * k + j]["FaceId"]] == pytest.approx(similarity(exact), abs=0.01)
