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
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.server import errors

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import RequestContext

_NOT_FOUND = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)


@dataclass
class S3Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class EmbeddedS3:
    """moto's S3 served in process, mirrored to `root` so objects survive a restart."""

    def __init__(self, root: Path) -> None:
        from moto.moto_server.werkzeug_app import create_backend_app

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
    ) -> S3Response:
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        builder = EnvironBuilder(
            path=path,
            base_url=f"http://{host}",
            query_string=query,
            method=method,
            headers=[(k, v) for k, v in headers if k.lower() not in ("host", "content-length")],
            data=body,
        )
        environ = builder.get_environ()
        with self._lock:
            app_iter, status, response_headers = run_wsgi_app(self._app, environ, buffered=True)
            data = b"".join(app_iter)
            if method not in ("GET", "HEAD", "OPTIONS") and int(status.split()[0]) < 300:
                self._sync()
        return S3Response(int(status.split()[0]), list(response_headers.items()), data)

    def get_object(self, account: str, bucket: str, key: str, version: str | None) -> bytes:
        with self._lock:
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
                return bytes(obj.value)
        raise errors.InvalidS3ObjectException(f"{_NOT_FOUND} (bucket '{bucket}' does not exist)")

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
                    _fsync_write(
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
                    _fsync_write(bdir / "objects" / f"{stem}.bin", bytes(obj.value))
                    _fsync_write(
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
    """Objects read from an S3-compatible endpoint (LocalStack, MinIO, moto server)."""

    def __init__(self, endpoint_url: str) -> None:
        import botocore.session
        from botocore.config import Config as BotoConfig

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

    def get_object(self, account: str, bucket: str, key: str, version: str | None) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version:
            kwargs["VersionId"] = version
        try:
            return self._client.get_object(**kwargs)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise errors.InvalidS3ObjectException(
                f"{_NOT_FOUND} ({code} for s3://{bucket}/{key})"
            ) from None
        except BotoCoreError as exc:
            raise errors.InvalidS3ObjectException(f"{_NOT_FOUND} ({exc})") from None


def s3_service(ctx: RequestContext) -> EmbeddedS3 | ExternalS3:
    config = ctx.config
    if config.s3_endpoint_url:
        return ctx.state.singleton("s3", lambda: ExternalS3(config.s3_endpoint_url or ""))
    return ctx.state.singleton("s3", lambda: EmbeddedS3(config.data_dir / "s3"))


def read_object(
    ctx: RequestContext, bucket: str | None, name: str | None, version: str | None, max_bytes: int
) -> bytes:
    if not bucket or not name:
        raise errors.InvalidS3ObjectException(f"{_NOT_FOUND} (S3Object needs Bucket and Name)")
    data = s3_service(ctx).get_object(ctx.account, bucket, name, version)
    if len(data) > max_bytes:
        raise errors.ImageTooLargeException(
            f"Image size is too large: s3://{bucket}/{name} is {len(data)} bytes, over the "
            f"{max_bytes} byte limit for S3 objects."
        )
    return data
