"""The conformance suite under pytest: one run for the session, one test per operation.

Set REKOGNITION_CONFORMANCE_ENDPOINT to check a running server instead of starting one.
An operation the server does not implement is skipped (never passed); its probe (a valid
request must answer NotImplementedException naming it) still fails the test if it does not.
"""

from __future__ import annotations

import os

import botocore.session
import pytest

from rekognition_emulator.conformance.runner import Report, run

OPERATIONS = sorted(botocore.session.get_session().get_service_model("rekognition").operation_names)


@pytest.fixture(scope="module")
def report() -> Report:
    return run(os.environ.get("REKOGNITION_CONFORMANCE_ENDPOINT") or None)


def test_the_table_lists_all_75_operations(report: Report) -> None:
    assert len(report.results) == 75
    text = report.render()
    lines = text.splitlines()
    assert lines[-1] == f"{report.passed} passed, {report.failed} failed"
    for op in OPERATIONS:
        assert any(line.startswith(op + " ") for line in lines), op


@pytest.mark.parametrize("operation", OPERATIONS)
def test_operation_conforms(report: Report, operation: str) -> None:
    result = report.results[operation]
    failures = [c for c in result.checks if not c.ok]
    assert not failures, "\n".join(f"[{c.client}] {c.name}: {c.detail}" for c in failures)
    if not result.implemented:
        pytest.skip(f"{operation} is not implemented yet")
    assert result.checks, f"{operation} is implemented but no check exercised it"
