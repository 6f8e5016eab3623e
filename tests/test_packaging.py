"""What the distribution puts on a user's machine: one import package, nothing generic."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PREFIX = "rekognition_emulator"


def _setuptools_config() -> dict:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["setuptools"]


def test_every_python_folder_is_listed_as_a_subpackage():
    config = _setuptools_config()
    listed = set(config["packages"])
    found = {PREFIX}
    for target, folder in config["package-dir"].items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([target, *rel.parts]) if rel.parts else target)
    assert found == listed


def test_the_wheel_puts_one_package_at_the_top_of_site_packages(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w"] + [str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {PREFIX}
    # data files travel with their packages
    assert f"{PREFIX}/handlers/data/labels.tsv" in names
    assert f"{PREFIX}/conformance/js/driver.js" in names
    assert f"{PREFIX}/emulator/server/app.py" in names
    for page in ("index.html", "inspector.js", "inspector.css"):  # the inspector, no build step
        assert f"{PREFIX}/emulator/inspector/static/{page}" in names
