"""The suite must fail a server that is wrong: run it against deliberately broken handlers."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rekognition_emulator.conformance.runner import Report, health, run

REPO = Path(__file__).resolve().parent.parent

# A server whose only operations are two broken stand-ins: the app is built from a table that
# holds just them (cli.serve(argv, operations)), so the stand-ins are the whole service.
BROKEN_SERVER = textwrap.dedent(
    """
    import json
    import sys
    from rekognition_emulator.emulator.server import serializer

    # The emulator's serializer would drop or refuse the defects below; a server of another
    # make would send them, so they go to the wire as the handlers return them.
    serializer.serialize_output = lambda operation, result: json.dumps(result).encode()


    def detect_faces(ctx, params):
        box = {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.1}
        # Two defects: a number sent as a string, and a member the model does not have.
        return {"FaceDetails": [{"BoundingBox": box, "Confidence": "99.9", "Smiling": True}]}


    def create_collection(ctx, params):
        # A defect: creating an existing collection again succeeds.
        cid = params["CollectionId"]
        return {
            "StatusCode": 200,
            "CollectionArn": f"aws:rekognition:us-east-1:123456789012:collection/{cid}",
            "FaceModelVersion": "7.0",
        }


    from rekognition_emulator.emulator.cli import serve

    operations = {"DetectFaces": detect_faces, "CreateCollection": create_collection}
    sys.exit(serve(["--port", "0", "--ephemeral", "--log-level", "warning"], operations))
    """
)


@pytest.fixture(scope="module")
def broken_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    script = tmp_path_factory.mktemp("broken") / "broken_server.py"
    script.write_text(BROKEN_SERVER)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    endpoint = ""
    seen = []
    try:
        while not endpoint:
            line = lines.get(timeout=60)
            seen.append(line)
            if "listening on " in line:
                endpoint = line.split("listening on ", 1)[1].split()[0]
        # The port is bound before the app has started: wait until it answers.
        deadline = time.monotonic() + 60
        while health(endpoint) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        yield endpoint
    except queue.Empty:
        pytest.fail("the broken server did not start:\n" + "".join(seen))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def report(broken_endpoint: str) -> Report:
    return run(broken_endpoint, cli=False, js=False, only={"DetectFaces", "CreateCollection"})


def test_off_shape_members_fail_the_operation(report: Report) -> None:
    result = report.results["DetectFaces"]
    assert result.status == "FAIL"
    details = " ".join(c.detail for c in result.checks if not c.ok)
    assert "Confidence: expected a number" in details
    assert "has no member 'Smiling'" in details


def test_a_missing_documented_error_fails_the_operation(report: Report) -> None:
    result = report.results["CreateCollection"]
    failed = [c.name for c in result.checks if not c.ok]
    assert any("ResourceAlreadyExistsException" in name for name in failed), failed


def test_the_closing_line_counts_the_failures(report: Report) -> None:
    assert report.failed == 2
    assert report.render().splitlines()[-1] == "0 passed, 2 failed"
    # Everything else is unimplemented on this server, and never counted as a pass.
    assert sum(r.status == "pass" for r in report.results.values()) == 0
