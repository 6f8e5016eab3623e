"""The README is the user's manual: it must name the real commands and the real models."""

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_where_things_live_names_every_folder():
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=REPO)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the tree is not known")
    folders = set()
    for path in tracked.stdout.splitlines():
        parts = path.split("/")
        if len(parts) > 1 and not parts[0].startswith("."):
            folders.add(parts[0])
        if len(parts) > 2 and parts[0] in ("emulator", "handlers") and parts[1] != "data":
            folders.add(f"{parts[0]}/{parts[1]}")
    folders -= {"emulator", "handlers"}  # named through their subfolders
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Where things live", 1)[1].split("```")[1]
    named = {line.split()[0].rstrip("/") for line in section.splitlines() if line[:1].strip()}
    assert folders - named == set(), "folders the README's map does not name"


def test_every_test_and_script_the_readme_names_exists():
    # Each measured figure in the README names the test that recomputes it (issue 18): a
    # renamed or deleted test must not leave a figure pointing at nothing.
    import re

    readme = (REPO / "README.md").read_text()
    defined: dict[str, set[str]] = {
        path.name: set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
        for path in (REPO / "tests").glob("test_*.py")
    }
    everywhere = set().union(*defined.values())
    missing = []
    for file, name in re.findall(r"`tests/(test_\w+\.py)::(test_\w+)`", readme):
        if name not in defined.get(file, set()):
            missing.append(f"tests/{file}::{name}")
    for name in re.findall(r"`(test_\w+)`", readme):
        if name not in everywhere:
            missing.append(name)
    for path in re.findall(r"`((?:scripts|tests/bench|tests)/[\w/]+\.py)", readme):
        if not (REPO / path).exists():
            missing.append(path)
    assert missing == []
    assert len(re.findall(r"`(?:tests/test_\w+\.py::)?test_\w+`", readme)) >= 40
