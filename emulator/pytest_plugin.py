"""pytest fixtures for applications tested against the emulator (entry point `pytest11`).

Installed with the package, so a user's test needs no import:

    def test_upload_finds_faces(rekognition_client, s3_client):
        s3_client.create_bucket(Bucket="photos")
        ...

Fixtures (all session-scoped, started only when a test asks for one):
- `rekognition_endpoint`: URL of a live emulator on a free port, with its state in a
  temporary folder removed afterwards and models from the usual model cache. Set
  `--rekognition-endpoint URL` (or REKOGNITION_EMULATOR_ENDPOINT) to use a server that is
  already running instead (a docker container, say).
- `rekognition_client`, `s3_client`: boto3 clients pointed at it (region us-east-1, dummy
  credentials, one attempt per call so that an error shows at once).
- `rekognition_faults` (per test): fault rules on that emulator, cleared after the test:
  `rekognition_faults.add(operation="DetectFaces", error="ThrottlingException", count=3)`.
- `wait_for_job`: waits for a Rekognition Video job, `wait_for_job(rekognition_client.
  get_label_detection, job_id)` -> the Get* answer once the job is no longer IN_PROGRESS
  (rekognition_emulator.emulator.testing.wait_for_job; `all_pages` there reads every page).

This module is loaded by every pytest run in an environment that has the package, so it
imports nothing heavy at load time and starts nothing until a fixture is requested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

ENDPOINT_ENV = "REKOGNITION_EMULATOR_ENDPOINT"
REGION = "us-east-1"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rekognition-emulator")
    group.addoption(
        "--rekognition-endpoint",
        default=None,
        metavar="URL",
        help=f"use this running emulator for the rekognition_* fixtures instead of starting one "
        f"(also ${ENDPOINT_ENV})",
    )


@pytest.fixture(scope="session")
def rekognition_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of a live emulator for this test session."""
    given = request.config.getoption("--rekognition-endpoint") or os.environ.get(ENDPOINT_ENV)
    if given:
        yield given.rstrip("/")
        return
    from rekognition_emulator.emulator.testing import EmulatorProcess

    server = EmulatorProcess()
    try:
        yield server.start()
    finally:
        server.cleanup()


def _client(service: str, endpoint: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.fixture(scope="session")
def rekognition_client(rekognition_endpoint: str) -> Any:
    """A boto3 Rekognition client pointed at the emulator."""
    return _client("rekognition", rekognition_endpoint)


@pytest.fixture(scope="session")
def s3_client(rekognition_endpoint: str) -> Any:
    """A boto3 S3 client pointed at the emulator's embedded S3 (same port)."""
    # Path-style addressing: `bucket.localhost` does not resolve everywhere.
    return _client("s3", rekognition_endpoint, s3={"addressing_style": "path"})


@pytest.fixture
def rekognition_faults(rekognition_endpoint: str) -> Iterator[Any]:
    """Make the emulator fail or slow down on purpose during this test (`POST /_emulator/faults`).

        def test_upload_survives_throttling(rekognition_faults, rekognition_client):
            rekognition_faults.add(operation="DetectFaces", error="ThrottlingException", count=2)
            ...

    `add(**rule)`, `rules()`, `remove(id)`, `clear()`; every rule is removed after the test.
    """
    from rekognition_emulator.emulator.testing import Faults

    faults = Faults(rekognition_endpoint)
    faults.clear()
    try:
        yield faults
    finally:
        faults.clear()


@pytest.fixture(scope="session")
def wait_for_job() -> Any:
    """`wait_for_job(get, job_id, timeout=300, **params)`: call the Get* method `get` until the
    job is no longer IN_PROGRESS; returns that answer."""
    from rekognition_emulator.emulator.testing import wait_for_job as wait

    return wait
