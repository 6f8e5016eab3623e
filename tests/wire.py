"""Test helpers for the shell's own tests: raw HTTP calls and a server with probe handlers.

`call()` speaks AWS JSON 1.1 with http.client, so a test sees status, headers and body
exactly as a client would, with no SDK in between.

`probe_server()` is a real emulator process in which a few operations are replaced by
test-only handlers (installed through a `sitecustomize` module on the child's PYTHONPATH,
so the shell needs no test hook):

    ListCollections     echoes the caller: CollectionIds [account, region],
                        FaceModelVersions [access key or "anonymous", request id]
    DetectFaces         decodes Image with emulator.images.load_image and answers
                        {"FaceDetails": [], "Probe": {width, height, format, pixels ...}}
                        ("Probe" is outside the service model: the probe's own hook on the
                        serializer writes it, so it is not reported as a dropped member)
    DetectLabels        raises RuntimeError (an unexpected failure)
    DetectText          returns a value JSON cannot hold (a failure while serialising)
    DescribeCollection  returns a datetime and numpy scalars (the serialiser's conversions)

Servers started here (`CheckedServer`, `probe_server()`) fail the test that stops them when
their log shows that the serializer dropped a member the service model does not have.
"""

from __future__ import annotations

import atexit
import functools
import http.client
import json
import os
import shutil
import tempfile
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rekognition_emulator.emulator.server.serializer import DROPPED
from rekognition_emulator.emulator.testing import EmulatorProcess

TARGET = "RekognitionService"
CONTENT_TYPE = "application/x-amz-json-1.1"
SECRET_MARKER = "probe-secret-d41d8cd98f00"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        try:
            return self.json.get("__type")
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


def call(
    endpoint: str,
    operation: str | None,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/",
    target: str | None = None,
    timeout: float = 30,
) -> Reply:
    """One request; `body` is JSON-encoded unless `raw` bytes are given."""
    url = urlsplit(endpoint)
    data = raw if raw is not None else json.dumps({} if body is None else body).encode()
    sent = {"Content-Type": CONTENT_TYPE}
    if target is not None:
        sent["X-Amz-Target"] = target
    elif operation is not None:
        sent["X-Amz-Target"] = f"{TARGET}.{operation}"
    sent.update(headers or {})
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers={k: v for k, v in sent.items() if v})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def implemented_operations(endpoint: str) -> list[str]:
    """The operations the server at `endpoint` implements (its health report says)."""
    return call(endpoint, None, method="GET", path="/_emulator/health").json[
        "operations_implemented"
    ]


def implemented_image_operations(endpoint: str) -> list[str]:
    """Which of DetectFaces, DetectLabels and DetectText the server implements; skips the
    calling test when none is implemented yet."""
    implemented = implemented_operations(endpoint)
    ops = [op for op in ("DetectFaces", "DetectLabels", "DetectText") if op in implemented]
    if not ops:
        pytest.skip("no image operation is implemented yet")
    return ops


_SITECUSTOMIZE = textwrap.dedent(
    '''
    # Test-only probe handlers for tests/wire.py: see its docstring.
    import os

    if os.environ.get("REKOGNITION_EMULATOR_TEST_PROBES") == "1":
        import datetime as _dt
        import importlib.abc
        import importlib.util
        import json
        import sys

        def _echo(ctx, params):
            return {
                "CollectionIds": [ctx.account, ctx.region],
                "FaceModelVersions": [ctx.access_key or "anonymous", ctx.request_id],
            }

        def _image(ctx, params):
            from rekognition_emulator.emulator.media.images import load_image

            img = load_image(ctx, params.get("Image"))
            rgb = img.rgb
            h, w = rgb.shape[:2]
            return {
                "FaceDetails": [],
                "Probe": {
                    "width": img.width,
                    "height": img.height,
                    "format": img.format,
                    "size_bytes": img.size_bytes,
                    "dtype": str(rgb.dtype),
                    "shape": list(rgb.shape),
                    "top_left": rgb[0, 0].tolist(),
                    "top_right": rgb[0, w - 1].tolist(),
                    "bottom_left": rgb[h - 1, 0].tolist(),
                    "center": rgb[h // 2, w // 2].tolist(),
                },
            }

        def _boom(ctx, params):
            raise RuntimeError("@SECRET@: a handler failed unexpectedly")

        def _unserialisable(ctx, params):
            return {"TextDetections": [object()]}

        def _conversions(ctx, params):
            import numpy as np

            return {
                "CollectionARN": f"aws:rekognition:{ctx.region}:{ctx.account}:collection/probe",
                "FaceCount": np.int64(3),
                "UserCount": np.int32(0),
                "FaceModelVersion": "7.0",
                "CreationTimestamp": _dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=_dt.UTC),
            }

        _PROBES = {
            "ListCollections": _echo,
            "DetectFaces": _image,
            "DetectLabels": _boom,
            "DetectText": _unserialisable,
            "DescribeCollection": _conversions,
        }

        def _install(registry):
            original = registry.load_handlers

            def load_handlers():
                original()
                registry._HANDLERS.update(_PROBES)

            registry.load_handlers = load_handlers

        def _install_serializer(serializer):
            original = serializer.serialize_output

            def serialize_output(operation, result):
                # The probe's report is not an AWS member: written beside what the model has.
                probe = result.pop("Probe", None) if operation == "DetectFaces" else None
                body = original(operation, result)
                if probe is None:
                    return body
                return json.dumps({**json.loads(body), "Probe": probe}).encode()

            serializer.serialize_output = serialize_output

        _PATCHES = {
            "rekognition_emulator.emulator.server.registry": _install,
            "rekognition_emulator.emulator.server.serializer": _install_serializer,
        }

        class _PatchModules(importlib.abc.MetaPathFinder):
            """Patch the registry and the serializer as each is first imported (not before:
            at this point of start-up the emulator package may not be importable yet)."""

            def find_spec(self, name, path=None, target=None):
                patch = _PATCHES.pop(name, None)
                if patch is None:
                    return None
                if not _PATCHES:
                    sys.meta_path.remove(self)
                spec = importlib.util.find_spec(name)
                execute = spec.loader.exec_module

                def exec_module(module):
                    execute(module)
                    patch(module)

                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, _PatchModules())
    '''
).replace("@SECRET@", SECRET_MARKER)


@functools.cache
def _site_dir() -> Path:
    site = Path(tempfile.mkdtemp(prefix="rekognition-probe-site-"))
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    atexit.register(shutil.rmtree, site, True)
    return site


def dropped_members(server: EmulatorProcess) -> list[str]:
    """The lines of the server's log where the serializer dropped a member that the service
    model does not have (a handler answering something AWS cannot send)."""
    try:
        text = server.log_path.read_text()
    except OSError:
        return []
    return [line for line in text.splitlines() if DROPPED in line]


class CheckedServer(EmulatorProcess):
    """An EmulatorProcess whose cleanup fails the test when the serializer dropped members."""

    def cleanup(self) -> None:
        dropped = dropped_members(self)
        super().cleanup()
        if dropped:
            pytest.fail(
                "the server answered members that the service model does not have "
                "(dropped by the serializer):\n" + "\n".join(dropped),
                pytrace=False,
            )


def probe_server(
    args: list[str] | tuple[str, ...] = (),
    data_dir: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> CheckedServer:
    """A CheckedServer (not started) whose child installs the probe handlers."""
    site = _site_dir()
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return CheckedServer(
        data_dir=data_dir,
        args=list(args),
        env={"PYTHONPATH": path, "REKOGNITION_EMULATOR_TEST_PROBES": "1", **(env or {})},
    )
