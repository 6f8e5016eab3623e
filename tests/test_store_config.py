"""The store's and the job engine's settings come from the server's Config (flags or
REKOGNITION_EMULATOR_<NAME>), not from the environment read deep inside."""

from __future__ import annotations

from rekognition_emulator.emulator.jobs import engine
from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.context import AppState
from rekognition_emulator.emulator.store import warm


def test_the_store_and_the_engine_take_their_settings_from_the_config(tmp_path):
    config = Config(
        data_dir=tmp_path,
        hnsw_m=16,
        hnsw_ef_construction=100,
        hnsw_ef_search=32,
        job_workers=3,
        max_concurrent_jobs=5,
        job_retention_days=1.5,
        sync_jobs=True,
    )
    state = AppState(config)
    try:
        params = warm(state).params
        assert (params.M, params.ef_construction, params.ef_search) == (16, 100, 32)
        jobs = engine(state)
        assert (jobs.workers, jobs.max_concurrent_jobs, jobs.retention_days, jobs.sync) == (
            3,
            5,
            1.5,
            True,
        )
        # One database for both (one writer, one lock on the data dir).
        assert jobs.db is warm(state).db
    finally:
        state.close()


def test_the_defaults_are_the_documented_ones():
    config = Config()
    assert (config.hnsw_m, config.hnsw_ef_construction, config.hnsw_ef_search) == (48, 200, 128)
    assert (config.job_workers, config.max_concurrent_jobs) == (2, 20)
    assert (config.job_retention_days, config.sync_jobs) == (7.0, False)


def test_the_settings_come_from_the_environment_when_no_flag_is_given():
    environ = {
        "REKOGNITION_EMULATOR_HNSW_EF_SEARCH": "256",
        "REKOGNITION_EMULATOR_JOB_WORKERS": "4",
        "REKOGNITION_EMULATOR_JOB_RETENTION_DAYS": "0.5",
        "REKOGNITION_EMULATOR_SYNC_JOBS": "true",
    }
    config = Config.resolve({}, environ)
    assert config.hnsw_ef_search == 256
    assert config.job_workers == 4
    assert config.job_retention_days == 0.5
    assert config.sync_jobs is True
