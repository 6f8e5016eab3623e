"""Every benchmark in one command: `.venv/bin/python -m tests.bench` (about 15 minutes).

Runs every benchmark listed in RUNS below
and the face-search benchmark on 100,000 faces (`--full` runs it on 1,000,000, which takes
well over half an hour). Each prints its own figures; run it on an otherwise idle machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = [
    ["bench_shell.py"],
    ["bench_serializer.py"],
    ["bench_faces.py", "--runs", "30"],
    ["bench_labels_text.py", "--runs", "30"],
    ["bench_moderation_ppe.py", "--runs", "30"],
    ["bench_celebrities.py", "--runs", "30"],
    ["bench_search.py", "--n", "100000"],
    ["bench_custom_labels.py"],
    ["bench_jobs.py"],
    ["bench_inspector.py"],
    ["bench_video.py"],
]


def main(argv: list[str]) -> int:
    failed = 0
    for run in RUNS:
        if run[0] == "bench_search.py" and "--full" in argv:
            run = ["bench_search.py"]
        print(f"=== {' '.join(run)}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / run[0]), *run[1:]]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
