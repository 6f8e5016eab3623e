"""S3 image input: the embedded S3 on the emulator's own port, its persistence, and an
external S3 endpoint (a second emulator's embedded S3) via --s3-endpoint-url.

Rekognition reads the objects through a probe server whose DetectFaces decodes `Image`
with `load_image` and reports what it decoded.
"""

from __future__ import annotations

import io
import socket

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from rekognition_emulator.emulator.aws.s3 import EmbeddedS3
from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.conftest import make_client
from tests.test_protocol import assert_error_reply
from tests.wire import call, implemented_image_operations, probe_server

NOT_FOUND = "Unable to get object metadata from S3"


def png(size=(120, 90), colour=(10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def s3_image(bucket: str, name: str, version: str | None = None) -> dict:
    obj = {"Bucket": bucket, "Name": name}
    if version:
        obj["Version"] = version
    return {"Image": {"S3Object": obj}}


def probe_of(endpoint: str, bucket: str, name: str) -> dict:
    reply = call(endpoint, "DetectFaces", s3_image(bucket, name))
    assert reply.status == 200, reply
    return reply.json["Probe"]


@pytest.fixture(scope="module")
def s3(probe):
    client = make_client("s3", probe.endpoint)
    client.create_bucket(Bucket="images")
    client.put_object(Bucket="images", Key="a/photo.png", Body=png(), ContentType="image/png")
    return client


def test_s3_api_on_the_emulator_port(s3):
    assert "images" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_object(Bucket="images", Key="a/photo.png")["Body"].read() == png()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="images")["Contents"]]
    assert keys == ["a/photo.png"]
    assert s3.head_object(Bucket="images", Key="a/photo.png")["ContentType"] == "image/png"


def test_rekognition_reads_the_object(probe, s3):
    out = probe_of(probe.endpoint, "images", "a/photo.png")
    assert (out["width"], out["height"], out["center"]) == (120, 90, [10, 20, 30])


def test_rekognition_reads_through_boto3(probe, s3):
    client = make_client("rekognition", probe.endpoint)
    response = client.detect_faces(Image={"S3Object": {"Bucket": "images", "Name": "a/photo.png"}})
    assert response["FaceDetails"] == []


@pytest.mark.parametrize(
    "bucket, name", [("no-such-bucket", "a/photo.png"), ("images", "missing.png")]
)
def test_missing_bucket_or_key(probe, s3, bucket, name):
    body = assert_error_reply(
        call(probe.endpoint, "DetectFaces", s3_image(bucket, name)), 400, "InvalidS3ObjectException"
    )
    assert body["message"].startswith(NOT_FOUND)
    client = make_client("rekognition", probe.endpoint)
    with pytest.raises(client.exceptions.InvalidS3ObjectException):
        client.detect_faces(Image={"S3Object": {"Bucket": bucket, "Name": name}})


def test_missing_version(probe, s3):
    reply = call(probe.endpoint, "DetectFaces", s3_image("images", "a/photo.png", "v-nope"))
    assert_error_reply(reply, 400, "InvalidS3ObjectException")


def test_versioned_object(probe, s3):
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="versioned", Key="k.png", Body=png(colour=(1, 1, 1)))["VersionId"]
    s3.put_object(Bucket="versioned", Key="k.png", Body=png(colour=(2, 2, 2)))
    assert probe_of(probe.endpoint, "versioned", "k.png")["center"] == [2, 2, 2]
    reply = call(probe.endpoint, "DetectFaces", s3_image("versioned", "k.png", first))
    assert reply.json["Probe"]["center"] == [1, 1, 1]


def test_deleted_object_is_missing(probe, s3):
    s3.put_object(Bucket="images", Key="gone.png", Body=png())
    probe_of(probe.endpoint, "images", "gone.png")
    s3.delete_object(Bucket="images", Key="gone.png")
    reply = call(probe.endpoint, "DetectFaces", s3_image("images", "gone.png"))
    assert_error_reply(reply, 400, "InvalidS3ObjectException")


def test_bad_objects(probe, s3):
    s3.put_object(Bucket="images", Key="empty", Body=b"")
    s3.put_object(Bucket="images", Key="text", Body=b"not an image")
    s3.put_object(Bucket="images", Key="big", Body=b"\x89PNG\r\n\x1a\n" + b"\0" * (15 * 2**20))
    for name, code in [
        ("empty", "InvalidImageFormatException"),
        ("text", "InvalidImageFormatException"),
        ("big", "ImageTooLargeException"),
    ]:
        reply = call(probe.endpoint, "DetectFaces", s3_image("images", name))
        assert_error_reply(reply, 400, code)
    s3.delete_object(Bucket="images", Key="big")


def test_s3_object_may_exceed_the_bytes_limit(probe, s3):
    # 5 MB caps Image.Bytes; S3 objects may be up to 15 MB.
    image = Image.effect_noise((1400, 1400), 100).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=0)
    data = out.getvalue()
    assert 5 * 2**20 < len(data) < 15 * 2**20
    s3.put_object(Bucket="images", Key="large.png", Body=data)
    assert probe_of(probe.endpoint, "images", "large.png")["size_bytes"] == len(data)
    s3.delete_object(Bucket="images", Key="large.png")


def test_any_account_reads_its_objects(probe):
    # Bucket names are global, as in AWS: a caller with a 12-digit key (its own account)
    # reads what it put, whichever account moto filed the bucket under.
    owner = make_client("s3", probe.endpoint, access_key="222233334444")
    owner.create_bucket(Bucket="owned")
    owner.put_object(Bucket="owned", Key="k.png", Body=png())
    rk = make_client("rekognition", probe.endpoint, access_key="222233334444")
    assert rk.detect_faces(Image={"S3Object": {"Bucket": "owned", "Name": "k.png"}})


def test_objects_survive_a_restart_and_a_crash(tmp_path):
    first = probe_server(data_dir=tmp_path / "data")
    first.start()
    try:
        s3 = make_client("s3", first.endpoint)
        s3.create_bucket(Bucket="keep")
        s3.put_object(Bucket="keep", Key="x.png", Body=png(colour=(7, 8, 9)), Metadata={"m": "1"})
        s3.put_object(Bucket="keep", Key="drop.png", Body=png())
        s3.delete_object(Bucket="keep", Key="drop.png")
        s3.create_bucket(Bucket="dropped")
        s3.delete_bucket(Bucket="dropped")
    finally:
        first.stop()

    second = probe_server(data_dir=tmp_path / "data")
    second.start()
    try:
        s3 = make_client("s3", second.endpoint)
        assert probe_of(second.endpoint, "keep", "x.png")["center"] == [7, 8, 9]
        assert s3.head_object(Bucket="keep", Key="x.png")["Metadata"] == {"m": "1"}
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert "keep" in names and "dropped" not in names
        with pytest.raises(ClientError):
            s3.head_object(Bucket="keep", Key="drop.png")
        # Written before the response left: a SIGKILL right after loses nothing.
        s3.put_object(Bucket="keep", Key="late.png", Body=png(colour=(4, 5, 6)))
        second.kill()
    finally:
        second.stop()

    third = probe_server(data_dir=tmp_path / "data")
    third.start()
    try:
        assert probe_of(third.endpoint, "keep", "late.png")["center"] == [4, 5, 6]
    finally:
        third.cleanup()


def test_reset_drops_s3(tmp_path):
    server = probe_server(data_dir=tmp_path / "data")
    server.start()
    try:
        s3 = make_client("s3", server.endpoint)
        s3.create_bucket(Bucket="temp")
        s3.put_object(Bucket="temp", Key="k.png", Body=png())
        assert call(server.endpoint, None, raw=b"", path="/_emulator/reset").status == 200
        assert "temp" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        reply = call(server.endpoint, "DetectFaces", s3_image("temp", "k.png"))
        assert_error_reply(reply, 400, "InvalidS3ObjectException")
    finally:
        server.stop()
    assert not any((tmp_path / "data" / "s3").rglob("*.bin"))


# -- an external S3 -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def external():
    """A plain emulator serving S3 (a stand-in for LocalStack / MinIO / moto server)."""
    server = EmulatorProcess()
    server.start()
    yield server.endpoint
    server.cleanup()


@pytest.fixture(scope="module")
def reader(external):
    server = probe_server(args=["--s3-endpoint-url", external])
    server.start()
    yield server.endpoint
    server.cleanup()


def test_external_s3_is_read(external, reader):
    s3 = make_client("s3", external)
    s3.create_bucket(Bucket="outside")
    s3.put_object(Bucket="outside", Key="p.png", Body=png(colour=(90, 80, 70)))
    assert probe_of(reader, "outside", "p.png")["center"] == [90, 80, 70]
    reply = call(reader, "DetectFaces", s3_image("outside", "nope.png"))
    body = assert_error_reply(reply, 400, "InvalidS3ObjectException")
    assert body["message"].startswith(NOT_FOUND)
    reply = call(reader, "DetectFaces", s3_image("no-such-bucket", "p.png"))
    assert_error_reply(reply, 400, "InvalidS3ObjectException")


def test_external_mode_turns_the_embedded_s3_off(reader):
    health = call(reader, None, method="GET", path="/_emulator/health").json
    assert health["s3"].startswith("http://")
    # An S3 client reads S3's own error saying where the S3 in use is.
    with pytest.raises(ClientError) as info:
        make_client("s3", reader).list_buckets()
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidAction" and "embedded S3 is off" in error["Message"]
    assert health["s3"] in error["Message"]


def test_unreachable_external_s3():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = probe_server(args=["--s3-endpoint-url", f"http://127.0.0.1:{port}"])
    server.start()
    try:
        reply = call(server.endpoint, "DetectFaces", s3_image("bucket", "k.png"))
        assert_error_reply(reply, 400, "InvalidS3ObjectException")
        assert call(server.endpoint, None, method="GET", path="/_emulator/health").status == 200
    finally:
        server.cleanup()


# -- in process ---------------------------------------------------------------------------
def test_embedded_s3_in_process(tmp_path):
    from moto.s3.models import s3_backends

    store = EmbeddedS3(tmp_path / "s3")
    try:
        host = "127.0.0.1:1"
        assert store.handle("PUT", host, "/inproc", "", [], b"").status == 200
        assert store.handle("PUT", host, "/inproc/k", "", [], b"data").status == 200
        assert store.get_object("123456789012", "inproc", "k", None) == b"data"
        assert any((tmp_path / "s3").rglob("*.bin"))
        s3_backends["123456789012"]["global"].reset()
        restored = EmbeddedS3(tmp_path / "s3")
        assert restored.get_object("123456789012", "inproc", "k", None) == b"data"
    finally:
        s3_backends["123456789012"]["global"].reset()


# -- the real image operations take the same path -----------------------------------------
def test_implemented_image_operations_read_s3(endpoint):
    ops = implemented_image_operations(endpoint)
    s3 = make_client("s3", endpoint)  # the session server's (this module's `s3` is the probe's)
    s3.create_bucket(Bucket="shell-s3-errors")
    s3.put_object(Bucket="shell-s3-errors", Key="text", Body=b"not an image")
    for op in ops:
        for bucket, name, code in [
            ("shell-s3-no-such-bucket", "k.png", "InvalidS3ObjectException"),
            ("shell-s3-errors", "missing.png", "InvalidS3ObjectException"),
            ("shell-s3-errors", "text", "InvalidImageFormatException"),
        ]:
            reply = call(endpoint, op, s3_image(bucket, name))
            assert_error_reply(reply, 400, code)
