"""The README's Custom Labels example, run as it is written, against a live server.

The block is read from README.md (the Python block under "### Example: a manifest in S3,
train, wait, start, detect") and run in a fresh interpreter with only the environment the
README tells a user to set, in a folder with the `photos/<label>/*.jpg` and `new-photo.jpg`
it expects.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rekognition_emulator.conformance.custom_labels import picture

REPO = Path(__file__).resolve().parent.parent
HEADING = "### Example: a manifest in S3, train, wait, start, detect"


def example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split(HEADING, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_custom_labels_example_runs_as_written(endpoint, tmp_path):
    for kind in ("warm", "cool"):
        folder = tmp_path / "photos" / kind
        folder.mkdir(parents=True)
        for i in range(10):
            (folder / f"{kind}-{i}.jpg").write_bytes(picture(kind, 7000 + i + 50 * (kind == "cool")))  # fmt: skip
    (tmp_path / "new-photo.jpg").write_bytes(picture("warm", 7777))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    run = subprocess.run(
        [sys.executable, "-c", example()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    printed = run.stdout.splitlines()
    assert printed[0].startswith("F1 on the test photos: ")
    assert printed[1].split()[0] == "warm", run.stdout
