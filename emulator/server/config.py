"""Server configuration: every CLI flag also reads `REKOGNITION_EMULATOR_<FLAG>`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "REKOGNITION_EMULATOR_"
# Collides with neither LocalStack (4566, 4510-4559) nor moto server (5000).
DEFAULT_PORT = 4590
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "rekognition-emulator"


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    ephemeral: bool = False
    auth: str = "off"  # off | strict
    credentials: dict[str, str] = field(default_factory=dict)  # access key -> secret
    s3_endpoint_url: str | None = None
    log_level: str = "info"
    models_dir: Path | None = None
    # HNSW settings of the face collections' indexes (tests/bench/bench_search.py measured them).
    hnsw_m: int = 48
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    # The job engine (emulator/jobs): worker threads, open jobs per account and region (AWS:
    # 20 concurrent stored-video jobs), how long finished jobs are kept (AWS: 7 days), and
    # whether a Start* call runs its job to completion before it answers (for tests).
    job_workers: int = 2
    max_concurrent_jobs: int = 20
    job_retention_days: float = 7.0
    sync_jobs: bool = False

    def __post_init__(self) -> None:
        if self.auth not in ("off", "strict"):
            raise ValueError(f"auth must be 'off' or 'strict', not {self.auth!r}")


def parse_credentials(items: list[str]) -> dict[str, str]:
    """`AKID:SECRET` pairs (the env var holds them comma-separated)."""
    creds: dict[str, str] = {}
    for item in items:
        for pair in item.split(","):
            pair = pair.strip()
            if not pair:
                continue
            key, sep, secret = pair.partition(":")
            if not sep or not key or not secret:
                raise ValueError(f"credentials must look like AKID:SECRET, got {pair!r}")
            creds[key] = secret
    return creds


def account_for_access_key(access_key: str | None) -> str:
    """A 12-digit access key is that account (as moto does); anything else the default."""
    if access_key and len(access_key) == 12 and access_key.isdigit():
        return access_key
    return DEFAULT_ACCOUNT
