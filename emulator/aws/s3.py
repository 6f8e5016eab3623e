"""S3 for image input: an embedded S3 (moto's backend, in process) or an external one.

moto keeps S3 state in memory only and offers no persistence of its own. So the embedded
S3 writes every bucket and the current version of every object through to the data dir
after each mutating request, before the response leaves (fsync + atomic rename), and
replays them into moto at start. Kept: buckets (with their region), object bytes,
content type and user metadata. Not kept across restarts: version histories, ACLs,
policies, lifecycle, tagging and multipart uploads in flight; those live in memory as
moto serves them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.aws.durable import write_atomic
from rekognition_emulator.emulator.aws.wire import WireRequest, WireResponse, call_wsgi
from rekognition_emulator.emulator.server import errors

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState, RequestContext

_NOT_FOUND = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)


class EmbeddedS3:
    """moto's S3 served in process, mirrored to `root` so objects survive a restart."""

    def __init__(self, root: Path) -> None:
        from moto.moto_server.werkzeug_app import create_backend_app

        from rekognition_emulator.emulator.aws.services import prepare_moto

        prepare_moto()
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._app = create_backend_app("s3")
        # (account, bucket) -> {key: fingerprint} of what is on disk.
        self._mirrored: dict[tuple[str, str], dict[str, str]] = {}
        self._restore()

    # -- serving --------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        host: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> WireResponse:
        request = WireRequest(method, host, path, query, headers, body)
        with self._lock:
            response = call_wsgi(self._app, request)
            if method not in ("GET", "HEAD", "OPTIONS") and response.status < 300:
                self._sync()
        return response

    def _find(self, account: str, bucket: str, key: str, version: str | None) -> Any:
        """moto's object (the caller holds the lock), or InvalidS3ObjectException."""
        for backend in self._backends(prefer=account):
            if bucket not in backend.buckets:
                continue
            try:
                obj = backend.get_object(bucket, key, version_id=version)
            except Exception:
                obj = None
            if obj is None or not hasattr(obj, "value"):
                raise errors.InvalidS3ObjectException(
                    f"{_NOT_FOUND} (no object '{key}'"
                    + (f" version '{version}'" if version else "")
                    + f" in bucket '{bucket}')"
                )
            return obj
        raise errors.InvalidS3ObjectException(f"{_NOT_FOUND} (bucket '{bucket}' does not exist)")

    def get_object(self, account: str, bucket: str, key: str, version: str | None) -> bytes:
        with self._lock:
            return bytes(self._find(account, bucket, key, version).value)

    def head_object(self, account: str, bucket: str, key: str, version: str | None) -> int:
        with self._lock:
            return int(self._find(account, bucket, key, version).size)

    def put_object(
        self, account: str, bucket: str, key: str, body: bytes, content_type: str
    ) -> None:
        with self._lock:
            backend = next((b for b in self._backends(prefer=account) if bucket in b.buckets), None)
            if backend is None:
                raise errors.InvalidS3ObjectException(
                    f"Unable to write to S3: bucket '{bucket}' does not exist"
                )
            obj = backend.put_object(bucket, key, body)
            obj.set_metadata({"Content-Type": content_type})
            self._sync()

    def reset(self) -> None:
        from moto.s3.models import s3_backends

        with self._lock:
            for account in list(s3_backends.keys()):
                s3_backends[account]["global"].reset()
            shutil.rmtree(self.root, ignore_errors=True)
            self.root.mkdir(parents=True, exist_ok=True)
            self._mirrored.clear()

    # -- persistence ----------------------------------------------------------------------
    def _backends(self, prefer: str | None = None) -> list[Any]:
        from moto.s3.models import s3_backends

        accounts = list(s3_backends.keys())
        if prefer in accounts:
            accounts.remove(prefer)
            accounts.insert(0, prefer)
        return [s3_backends[a]["global"] for a in accounts]

    def _bucket_dir(self, account: str, bucket: str) -> Path:
        return self.root / account / bucket

    def _sync(self) -> None:
        """Bring the mirror on disk in line with moto's state (only what changed)."""
        from moto.s3.models import FakeKey, s3_backends

        live: set[tuple[str, str]] = set()
        for account in list(s3_backends.keys()):
            backend = s3_backends[account]["global"]
            for name, bucket in list(backend.buckets.items()):
                live.add((account, name))
                bdir = self._bucket_dir(account, name)
                (bdir / "objects").mkdir(parents=True, exist_ok=True)
                meta = bdir / "bucket.json"
                if not meta.exists():
                    write_atomic(
                        meta, json.dumps({"name": name, "region": bucket.region_name}).encode()
                    )
                mirrored = self._mirrored.setdefault((account, name), {})
                current: dict[str, Any] = {
                    k: v for k, v in bucket.keys.items() if isinstance(v, FakeKey)
                }
                for key, obj in current.items():
                    fingerprint = f"{obj.etag}|{obj.size}|{obj.last_modified}"
                    if mirrored.get(key) == fingerprint:
                        continue
                    stem = hashlib.sha256(key.encode()).hexdigest()
                    write_atomic(bdir / "objects" / f"{stem}.bin", bytes(obj.value))
                    write_atomic(
                        bdir / "objects" / f"{stem}.json",
                        json.dumps({"key": key, "metadata": dict(obj.metadata)}).encode(),
                    )
                    mirrored[key] = fingerprint
                for key in set(mirrored) - set(current):
                    stem = hashlib.sha256(key.encode()).hexdigest()
                    for suffix in (".bin", ".json"):
                        (bdir / "objects" / f"{stem}{suffix}").unlink(missing_ok=True)
                    del mirrored[key]
        for account, name in set(self._mirrored) - live:
            shutil.rmtree(self._bucket_dir(account, name), ignore_errors=True)
            del self._mirrored[(account, name)]

    def _restore(self) -> None:
        from moto.s3.models import s3_backends

        for account_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            backend = s3_backends[account_dir.name]["global"]
            for bdir in sorted(p for p in account_dir.iterdir() if p.is_dir()):
                try:
                    meta = json.loads((bdir / "bucket.json").read_text())
                except (OSError, ValueError):
                    continue
                if meta["name"] not in backend.buckets:
                    backend.create_bucket(meta["name"], meta["region"])
                mirrored = self._mirrored.setdefault((account_dir.name, meta["name"]), {})
                for info in sorted((bdir / "objects").glob("*.json")):
                    blob = info.with_suffix(".bin")
                    try:
                        record = json.loads(info.read_text())
                        value = blob.read_bytes()
                    except (OSError, ValueError):
                        continue
                    obj = backend.put_object(meta["name"], record["key"], value)
                    if record.get("metadata"):
                        obj.set_metadata(record["metadata"])
                    mirrored[record["key"]] = f"{obj.etag}|{obj.size}|{obj.last_modified}"


class ExternalS3:
    """Objects in an S3-compatible endpoint (LocalStack, MinIO, moto server)."""

    def __init__(self, endpoint_url: str) -> None:
        import botocore.session
        from botocore.config import Config as BotoConfig

        self.endpoint_url = endpoint_url
        session = botocore.session.get_session()
        creds = session.get_credentials()
        self._client = session.create_client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=session.get_config_variable("region") or "us-east-1",
            aws_access_key_id=None if creds else "test",
            aws_secret_access_key=None if creds else "test",
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def _call(self, method: str, bucket: str, key: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(Bucket=bucket, Key=key, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise errors.InvalidS3ObjectException(
                f"{_NOT_FOUND} ({code} for s3://{bucket}/{key})"
            ) from None
        except BotoCoreError as exc:
            raise errors.InvalidS3ObjectException(f"{_NOT_FOUND} ({exc})") from None

    def get_object(self, account: str, bucket: str, key: str, version: str | None) -> bytes:
        extra = {"VersionId": version} if version else {}
        return self._call("get_object", bucket, key, **extra)["Body"].read()

    def head_object(self, account: str, bucket: str, key: str, version: str | None) -> int:
        extra = {"VersionId": version} if version else {}
        return int(self._call("head_object", bucket, key, **extra)["ContentLength"])

    def put_object(
        self, account: str, bucket: str, key: str, body: bytes, content_type: str
    ) -> None:
        self._call("put_object", bucket, key, Body=body, ContentType=content_type)


def s3_for(state: AppState) -> EmbeddedS3 | ExternalS3:
    """The S3 this emulator uses: embedded, or the one `--s3-endpoint-url` names."""
    config = state.config
    if config.s3_endpoint_url:
        return state.singleton("s3", lambda: ExternalS3(config.s3_endpoint_url or ""))
    return state.singleton("s3", lambda: EmbeddedS3(config.data_dir / "s3"))


def s3_service(ctx: RequestContext) -> EmbeddedS3 | ExternalS3:
    return s3_for(ctx.state)


def read_object(
    ctx: RequestContext, bucket: str | None, name: str | None, version: str | None, max_bytes: int
) -> bytes:
    if not bucket or not name:
        raise errors.InvalidS3ObjectException(f"{_NOT_FOUND} (S3Object needs Bucket and Name)")
    data = s3_for(ctx.state).get_object(ctx.account, bucket, name, version)
    if len(data) > max_bytes:
        raise errors.ImageTooLargeException(
            f"Image size is too large: s3://{bucket}/{name} is {len(data)} bytes, over the "
            f"{max_bytes} byte limit for S3 objects."
        )
    return data


def head_object(
    state: AppState, account: str, bucket: str, key: str, version: str | None = None
) -> int:
    """The object's size in bytes (a video's, before a job starts); InvalidS3ObjectException
    when the bucket, key or version does not exist."""
    if not bucket or not key:
        raise errors.InvalidS3ObjectException(f"{_NOT_FOUND} (S3Object needs Bucket and Name)")
    return s3_for(state).head_object(account, bucket, key, version)


def put_object(
    state: AppState, account: str, bucket: str, key: str, body: bytes, content_type: str
) -> None:
    """Write an object (job output the user asked to have in S3); persisted before it returns
    in the embedded S3. InvalidS3ObjectException when the bucket does not exist."""
    s3_for(state).put_object(account, bucket, key, body, content_type)
