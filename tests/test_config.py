"""Config in one place: one table of settings drives the serve flags, the environment
variables, the defaults and the README's table."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from rekognition_emulator.emulator.cli import serve_parser
from rekognition_emulator.emulator.server.config import (
    Config,
    add_arguments,
    env_name,
    flag_name,
    settings,
)

REPO = Path(__file__).resolve().parent.parent

# The names other parts of the emulator read (notes/interfaces.md), with their defaults.
AGREED = {
    "data_dir": None,
    "ephemeral": False,
    "host": "127.0.0.1",
    "port": 4590,
    "auth": "off",
    "credentials": {},
    "log_level": "info",
    "models_dir": None,
    "threads": 2,
    "s3_endpoint_url": None,
    "sns_endpoint_url": None,
    "sqs_endpoint_url": None,
    "kinesis_endpoint_url": None,
    "hnsw_m": 48,
    "hnsw_ef_construction": 200,
    "hnsw_ef_search": 128,
    "job_workers": 2,
    "max_concurrent_jobs": 20,
    "job_retention_days": 7.0,
    "sync_jobs": False,
}


def resolve(argv: list[str], environ: dict[str, str] | None = None) -> Config:
    args = serve_parser().parse_args(argv)
    return Config.resolve(vars(args), environ or {})


def test_every_agreed_field_with_its_default():
    config = Config.resolve({}, {})
    for name, default in AGREED.items():
        if default is not None or name != "data_dir":
            assert getattr(config, name) == default, name
    assert config.data_dir.name == "rekognition-emulator"


def test_every_setting_is_a_flag_and_an_environment_variable():
    help_text = serve_parser().format_help()
    for _, name, _ in settings():
        assert flag_name(name) in help_text
        assert env_name(name) in help_text


@pytest.mark.parametrize(
    "name, text, value",
    [
        ("port", "4600", 4600),
        ("hnsw_m", "32", 32),
        ("job_retention_days", "0.5", 0.5),
        ("sync_jobs", "true", True),
        ("ephemeral", "1", True),
        ("sync_jobs", "off", False),
        ("sns_endpoint_url", "http://localhost:4566", "http://localhost:4566"),
        ("models_dir", "/tmp/m", Path("/tmp/m")),
        ("credentials", "A:1, B:2", {"A": "1", "B": "2"}),
        (
            "video_sample_ms",
            "labeldetection=250, TextDetection=2000",
            {"LabelDetection": 250.0, "TextDetection": 2000.0},
        ),
    ],
)
def test_environment_variable_is_read_as_the_field_type(name, text, value):
    assert getattr(Config.resolve({}, {env_name(name): text}), name) == value


def test_flag_wins_over_environment_which_wins_over_default():
    environ = {env_name("max_concurrent_jobs"): "5", env_name("hnsw_ef_search"): "64"}
    config = resolve(["--max-concurrent-jobs", "7"], environ)
    assert config.max_concurrent_jobs == 7
    assert config.hnsw_ef_search == 64
    assert config.job_workers == 2
    assert resolve(["--no-sync-jobs"], {env_name("sync_jobs"): "1"}).sync_jobs is False
    assert resolve(["--credentials", "K:S", "--credentials", "L:T"]).credentials == {
        "K": "S",
        "L": "T",
    }


@pytest.mark.parametrize(
    "environ, says",
    [
        ({"REKOGNITION_EMULATOR_PORT": "eighty"}, "REKOGNITION_EMULATOR_PORT='eighty'"),
        ({"REKOGNITION_EMULATOR_SYNC_JOBS": "maybe"}, "REKOGNITION_EMULATOR_SYNC_JOBS"),
        ({"REKOGNITION_EMULATOR_AUTH": "sometimes"}, "auth must be one of off, strict"),
        ({"REKOGNITION_EMULATOR_THREADS": "0"}, "threads must be at least 1"),
        ({"REKOGNITION_EMULATOR_CREDENTIALS": "nocolon"}, "AKID:SECRET"),
        ({"REKOGNITION_EMULATOR_VIDEO_SAMPLE_MS": "Labels=250"}, "ANALYSIS=MS"),
        ({"REKOGNITION_EMULATOR_VIDEO_SAMPLE_MS": "FaceSearch=0"}, "more than 0 ms"),
    ],
)
def test_bad_environment_values_say_which_variable(environ, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        Config.resolve({}, environ)


def test_a_new_setting_is_one_line():
    from rekognition_emulator.emulator.server.config import setting

    @dataclasses.dataclass
    class Extended(Config):
        min_job_seconds: float = setting(0.0, "shortest time a job takes", minimum=0)

    parser = argparse.ArgumentParser()
    add_arguments(parser, Extended)
    assert "--min-job-seconds" in parser.format_help()
    assert "REKOGNITION_EMULATOR_MIN_JOB_SECONDS" in parser.format_help()
    flags = vars(parser.parse_args(["--min-job-seconds", "1.5"]))
    assert Extended.resolve(flags, {}).min_job_seconds == 1.5
    environ = {"REKOGNITION_EMULATOR_MIN_JOB_SECONDS": "2"}
    assert Extended.resolve({}, environ).min_job_seconds == 2.0
    with pytest.raises(ValueError, match="min_job_seconds must be at least 0"):
        Extended.resolve({}, {"REKOGNITION_EMULATOR_MIN_JOB_SECONDS": "-1"})


def test_readme_documents_every_flag():
    readme = (REPO / "README.md").read_text()
    for spec, name, _ in settings():
        if spec.flag:
            assert f"`{flag_name(name)}" in readme, f"README's flag table lacks {flag_name(name)}"
            assert env_name(name) in readme, f"README's flag table lacks {env_name(name)}"
