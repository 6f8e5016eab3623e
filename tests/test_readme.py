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


def test_every_test_the_readme_names_exists():
    # The README's reliability figures name the tests that recompute them, as
    # `tests/test_x.py::test_name` or, where a paragraph says which file its tests live in, as
    # a bare `test_name`: a renamed or removed test must not leave a figure unbacked.
    import re

    readme = (REPO / "README.md").read_text()
    defined: dict[str, set[str]] = {}
    for path in (REPO / "tests").glob("test_*.py"):
        names = re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
        defined[f"tests/{path.name}"] = set(names)
    everywhere = set().union(*defined.values())
    qualified = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", readme)
    bare = re.findall(r"`(test_\w+)`", readme)
    assert len(qualified) >= 30 and len(bare) >= 10  # the references are found at all
    missing = [f"{f}::{n}" for f, n in qualified if n not in defined.get(f, set())]
    missing += [n for n in bare if n not in everywhere]
    assert missing == [], "the README names tests that do not exist"
    named_files = set(re.findall(r"`((?:tests|scripts)/[\w/]+\.py)", readme))
    assert [f for f in named_files if not (REPO / f).is_file()] == []  # scripts and benches too
