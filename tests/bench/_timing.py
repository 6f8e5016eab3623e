"""What the latency benches share: the boto3 client they time and p50 / p95 of a call.

Imported as `_timing` by the scripts next to it (run as `python tests/bench/<script>.py`, which
puts this folder on sys.path).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config


def percentile(values: list[float], p: float) -> float:
    """The value at rank p/100 of the sorted values (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of `runs` calls of fn, after one warm-up call."""
    fn()  # warm this exact path once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), percentile(times, 95)


def client(endpoint: str, **config: Any):
    """A Rekognition client for the emulator at `endpoint`, without retries (each call timed
    is one request); `config`: more botocore Config settings."""
    return boto3.client(
        "rekognition",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, **config),
    )
