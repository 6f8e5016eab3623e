"""Shared fixtures: one live server per test session, boto3 clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest
from botocore.config import Config

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.groundtruth import skip_or_fail, testdata_dir
from tests.wire import CheckedServer, probe_server

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def testdata() -> Path:
    path = testdata_dir()
    if path is None:
        skip_or_fail("../shared/testdata is absent (set REKOGNITION_TESTDATA to run these tests)")
    return path


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorProcess]:
    # Fails at teardown if any response carried a member the service model does not have.
    proc = CheckedServer()
    proc.start()
    yield proc
    proc.cleanup()


@pytest.fixture(scope="session")
def endpoint(server: EmulatorProcess) -> str:
    return server.endpoint


@pytest.fixture(scope="module")
def probe() -> Iterator[EmulatorProcess]:
    """A server with the probe handlers of tests/wire.py, one per test module (checked at
    teardown like `server`)."""
    server = probe_server()
    server.start()
    yield server
    server.cleanup()


def make_client(
    service: str,
    endpoint: str,
    region: str = "us-east-1",
    access_key: str = "AKIAEXAMPLE",
    secret: str = "secret",
    **config: object,
):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(**{"retries": {"max_attempts": 1}, **config}),  # type: ignore[arg-type]
    )


def jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    """An RGB array as JPEG bytes."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="session")
def rekognition(endpoint: str):
    return make_client("rekognition", endpoint)


@pytest.fixture(scope="session")
def s3(endpoint: str):
    return make_client("s3", endpoint)
