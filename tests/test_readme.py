"""The README is the user's manual: it must name the real commands and the real models."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_readme_model_table_matches_the_manifest():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "model_table.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "./run test" in readme and "./run serve" in readme
    assert "./run test" in (REPO / ".ci" / "run").read_text()
