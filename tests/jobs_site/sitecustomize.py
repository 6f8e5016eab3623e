# Test-only: tests/job_probe.py's operations and notifier, in a server started by
# tests/test_jobs_crash.py (which puts this folder and the checkout on PYTHONPATH).
import os

if os.environ.get("REKOGNITION_EMULATOR_TEST_JOBS") == "1":
    from rekognition_emulator.emulator.server import registry
    from tests import job_probe

    job_probe.install(registry)
