"""What the latency benches share: the boto3 client they time and p50 / p95 of a call.

Imported as `_timing` by the scripts next to it (run as `python tests/bench/<script>.py`, which
puts this folder on sys.path).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from rekognition_emulator.emulator.testing import EmulatorProcess


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


def once_ms(fn: Callable[[], Any]) -> float:
    """Milliseconds of one call of fn (a cold start is timed this way)."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load, printed under the figures (they are noisy under load)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def latency_bench(default_runs: int, **config: Any) -> Iterator[tuple[EmulatorProcess, Any, int]]:
    """The latency benches' frame: `--runs` from the command line, a fresh emulator and a client
    for it (`config`: as for client()); the emulator and its data dir are removed at the end."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=default_runs)
    runs = parser.parse_args().runs
    server = EmulatorProcess()
    server.start()
    try:
        yield server, client(server.endpoint, **config), runs
    finally:
        server.cleanup()
