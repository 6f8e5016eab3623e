"""How tests/data/store_v1/ was made: a data dir written by the release of commit a0fc504
(store schema version 1), kept so that every later schema must open it with nothing lost.

It ran once, at that commit, against a live server with the real face model:

    python tests/data/store_v1/make_fixture.py /tmp/store-v1 ../shared/testdata

then the data dir (minus its lock file) was copied to `data_dir/`, and `expected.json`, which
records what the old server answered, beside it, for tests/test_store_migrations.py.
Running it again on a later commit would make a data dir of that commit's schema instead.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import boto3
from botocore.config import Config

from rekognition_emulator.emulator.testing import EmulatorProcess

PHOTOS = [  # (person, file under faces/identities/, ExternalImageId)
    ("Barack_Obama", "face_recognition__obama.jpg", "obama-1"),
    ("Barack_Obama", "face_recognition__obama2.jpg", "obama-2"),
    ("Joe_Biden", "face_recognition__biden.jpg", "biden-1"),
    ("Joe_Biden", "face_recognition__knn_train_biden_biden2.jpg", "biden-2"),
    ("Kit_Harington", "face_recognition__knn_train_kit_harington_john1.jpeg", "kit-1"),
]


def client(endpoint: str, region: str = "us-east-1"):
    return boto3.client(
        "rekognition",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )


def main(data_dir: Path, testdata: Path) -> None:
    server = EmulatorProcess(data_dir=data_dir)
    endpoint = server.start()
    rek = client(endpoint)
    expected: dict = {"collection": "legacy", "faces": {}}
    rek.create_collection(CollectionId="legacy", Tags={"team": "vision", "stage": "test"})
    for person, name, external in PHOTOS:
        folder = testdata / "faces" / "identities" / person
        path = next(folder.glob(name), None) or sorted(folder.iterdir())[0]
        out = rek.index_faces(
            CollectionId="legacy",
            Image={"Bytes": path.read_bytes()},
            ExternalImageId=external,
            MaxFaces=1,
        )
        face = out["FaceRecords"][0]["Face"]
        expected["faces"][external] = {"FaceId": face["FaceId"], "person": person}
    ids = {k: v["FaceId"] for k, v in expected["faces"].items()}
    # A deleted face leaves a tombstone the saved index must still honour.
    rek.delete_faces(CollectionId="legacy", FaceIds=[ids["kit-1"]])
    expected["deleted"] = ids["kit-1"]
    rek.create_user(CollectionId="legacy", UserId="obama", ClientRequestToken="create-obama-1")
    assoc = rek.associate_faces(
        CollectionId="legacy",
        UserId="obama",
        FaceIds=[ids["obama-1"], ids["obama-2"]],
        ClientRequestToken="assoc-obama-1",
    )
    expected["associate_response"] = {k: v for k, v in assoc.items() if k != "ResponseMetadata"}
    rek.create_user(CollectionId="legacy", UserId="nobody")
    page = rek.list_faces(CollectionId="legacy", MaxResults=2)
    expected["list_faces_page1"] = [f["FaceId"] for f in page["Faces"]]
    expected["list_faces_token"] = page["NextToken"]
    expected["describe"] = {
        k: v
        for k, v in rek.describe_collection(CollectionId="legacy").items()
        if k in ("FaceCount", "UserCount", "FaceModelVersion")
    }
    # Scoping: a collection of the same id in another region is another collection.
    client(endpoint, "eu-west-1").create_collection(CollectionId="legacy")
    server.stop()  # graceful: the indexes are saved and the WAL folded into the database
    (data_dir / "rekognition.lock").unlink(missing_ok=True)
    # When the old server wrote it: ClientRequestTokens are remembered for a day from then.
    with sqlite3.connect(data_dir / "rekognition.sqlite3") as conn:
        (expected["made_at"],) = conn.execute("SELECT max(created_at) FROM idempotency").fetchone()
    (data_dir / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
