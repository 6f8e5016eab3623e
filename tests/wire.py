"""Test helpers for the shell's own tests: raw HTTP calls and a server with probe handlers.

`call()` speaks AWS JSON 1.1 with http.client, so a test sees status, headers and body
exactly as a client would, with no SDK in between.

`probe_server()` is a real emulator process in which a few operations are replaced by
test-only handlers (tests/probe_app.py lists them): the child builds its app with
`create_app(config, operations)` from a table that holds them, so nothing is patched.

Servers started here (`CheckedServer`, `probe_server()`) fail the test that stops them when
their log shows that the serializer dropped a member the service model does not have.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rekognition_emulator.emulator.server.serializer import DROPPED
from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.probe_app import SECRET_MARKER  # noqa: F401 - re-exported for the tests

TARGET = "RekognitionService"
CONTENT_TYPE = "application/x-amz-json-1.1"
REPO = Path(__file__).resolve().parent.parent


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
    """A CheckedServer (not started) serving the probe handlers of tests/probe_app.py."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return CheckedServer(
        data_dir=data_dir,
        args=list(args),
        env={"PYTHONPATH": path, **(env or {})},
        module="tests.probe_app",
    )


@contextmanager
def app_server(app: Any) -> Iterator[str]:
    """Serve an app built in this process (`create_app(config, operations)`) on a free port
    for the block; yields its endpoint. The test can reach `app.state.emulator` directly."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
