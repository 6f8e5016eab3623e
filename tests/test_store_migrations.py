"""Schema migrations: a data dir written by an older release opens with nothing lost, a
newer one is refused, and an upgrade is all or nothing.

tests/data/store_v1/ is a data dir written by the release of schema 1 (commit a0fc504;
make_fixture.py says how): a collection of real face embeddings with one face deleted,
users (one with two faces), tags, remembered ClientRequestTokens, a ListFaces NextToken,
and a collection of the same id in another region. expected.json holds what that release
answered.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from rekognition_emulator.emulator.server import errors
from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.context import AppState, RequestContext
from rekognition_emulator.emulator.store import FaceStore, migrations
from rekognition_emulator.emulator.store.db import FILE_NAME, Database
from rekognition_emulator.emulator.testing import EmulatorProcess
from rekognition_emulator.handlers import users as user_ops
from tests.conftest import make_client

FIXTURE = Path(__file__).parent / "data" / "store_v1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
FACES = {name: face["FaceId"] for name, face in EXPECTED["faces"].items()}


@pytest.fixture
def old_data_dir(tmp_path: Path) -> Path:
    """A copy of the schema-1 data dir (tests never write to the committed one)."""
    data_dir = tmp_path / "data"
    shutil.copytree(FIXTURE / "data_dir", data_dir)
    return data_dir


def stored_version(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / FILE_NAME) as conn:
        return migrations.stored_version(conn)


def test_the_fixture_is_schema_1():
    assert stored_version(FIXTURE / "data_dir") == 1


def test_a_schema_1_data_dir_serves_everything_it_held(old_data_dir: Path):
    """What a user of the old release finds after upgrading, through boto3."""
    server = EmulatorProcess(data_dir=old_data_dir)
    try:
        rek = make_client("rekognition", server.start())
        assert stored_version(old_data_dir) == migrations.SCHEMA_VERSION

        described = rek.describe_collection(CollectionId="legacy")
        for key, value in EXPECTED["describe"].items():
            assert described[key] == value
        assert rek.list_tags_for_resource(ResourceArn=collection_arn(rek))["Tags"] == {
            "team": "vision",
            "stage": "test",
        }

        # A NextToken the old release issued still reads the next page.
        rest = rek.list_faces(CollectionId="legacy", NextToken=EXPECTED["list_faces_token"])
        first = EXPECTED["list_faces_page1"]
        listed = first + [f["FaceId"] for f in rest["Faces"]]
        alive = {k: v for k, v in FACES.items() if v != EXPECTED["deleted"]}
        assert sorted(listed) == sorted(alive.values())
        owners = {
            f["FaceId"]: f.get("UserId") for f in rek.list_faces(CollectionId="legacy")["Faces"]
        }
        assert owners[FACES["obama-1"]] == owners[FACES["obama-2"]] == "obama"
        assert owners[FACES["biden-1"]] is None

        # The stored embeddings still search: each photo finds the other photo of its person.
        for probe, partner in (("obama-1", "obama-2"), ("biden-2", "biden-1")):
            matches = rek.search_faces(CollectionId="legacy", FaceId=FACES[probe])["FaceMatches"]
            found = [m["Face"]["FaceId"] for m in matches]
            assert found[:1] == [FACES[partner]], (probe, matches)
            assert EXPECTED["deleted"] not in found

        users = rek.list_users(CollectionId="legacy")["Users"]
        assert {u["UserId"]: u["UserStatus"] for u in users} == {
            "obama": "ACTIVE",
            "nobody": "CREATED",
        }
        by_face = rek.search_users(CollectionId="legacy", FaceId=FACES["obama-1"])
        assert [m["User"]["UserId"] for m in by_face["UserMatches"]] == ["obama"]

        # The other region's collection of the same id is still its own, empty one.
        eu = make_client("rekognition", server.endpoint, region="eu-west-1")
        assert eu.describe_collection(CollectionId="legacy")["FaceCount"] == 0
    finally:
        server.cleanup()


def collection_arn(rek) -> str:
    return rek.describe_collection(CollectionId="legacy")["CollectionARN"]


def test_remembered_client_request_tokens_survive_the_upgrade(old_data_dir: Path):
    """The old release's ClientRequestTokens still answer within their day (the clock is set
    to an hour after the fixture was written, so the test does not age with the fixture)."""
    made_at = EXPECTED["made_at"]
    state = AppState(Config(data_dir=old_data_dir))
    state.singleton(
        "face-store",
        lambda: FaceStore(old_data_dir, preload=False, clock=lambda: made_at + 3600),
    )
    ctx = RequestContext("123456789012", "us-east-1", "req", "AssociateFaces", state)
    try:
        request = {
            "CollectionId": "legacy",
            "UserId": "obama",
            "FaceIds": [FACES["obama-1"], FACES["obama-2"]],
            "ClientRequestToken": "assoc-obama-1",
        }
        # Replayed, the token answers what it answered then (a new request would now say
        # nothing was associated: both faces are the user's already).
        assert user_ops.associate_faces(ctx, request) == EXPECTED["associate_response"]
        with pytest.raises(errors.IdempotentParameterMismatchException):
            user_ops.associate_faces(ctx, {**request, "FaceIds": [FACES["biden-1"]]})
        # CreateUser of an existing user with its original token is the original success.
        again = {
            "CollectionId": "legacy",
            "UserId": "obama",
            "ClientRequestToken": "create-obama-1",
        }
        assert user_ops.create_user(ctx, again) == {}
        with pytest.raises(errors.ConflictException):
            user_ops.create_user(ctx, {**again, "ClientRequestToken": "another-token"})
    finally:
        state.close()


def test_a_newer_schema_is_refused_and_left_untouched(old_data_dir: Path):
    newer = migrations.SCHEMA_VERSION + 1
    with sqlite3.connect(old_data_dir / FILE_NAME) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(newer),))
    with pytest.raises(migrations.SchemaTooNewError) as raised:
        Database.open(old_data_dir)
    message = str(raised.value)
    assert f"store schema {newer}" in message and "newer rekognition-emulator" in message
    assert str(old_data_dir) in message
    assert stored_version(old_data_dir) == newer
    # The refusal released the data dir: nothing holds its lock.
    Database.open(old_data_dir.parent / "other").close()

    server = EmulatorProcess(data_dir=old_data_dir)
    with pytest.raises(RuntimeError) as failed:
        server.start()
    server.stop()
    assert "newer rekognition-emulator" in str(failed.value)


def test_an_upgrade_that_fails_half_way_changes_nothing(old_data_dir: Path, monkeypatch):
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration step failed")

    steps = (*migrations.MIGRATIONS[:1], migrations.Migration(2, "broken", broken))
    monkeypatch.setattr(migrations, "MIGRATIONS", steps)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 2)
    with pytest.raises(RuntimeError, match="migration step failed"):
        Database.open(old_data_dir)
    assert stored_version(old_data_dir) == 1
    with sqlite3.connect(old_data_dir / FILE_NAME) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables and "faces" in tables


def test_a_new_data_dir_starts_at_the_latest_schema(tmp_path: Path):
    Database.open(tmp_path).close()
    assert stored_version(tmp_path) == migrations.SCHEMA_VERSION
    # Opening it again applies nothing twice.
    Database.open(tmp_path).close()
    assert stored_version(tmp_path) == migrations.SCHEMA_VERSION
