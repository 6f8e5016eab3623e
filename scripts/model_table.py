"""Print the README's model table from the model manifest (the README must match it).

python scripts/model_table.py          # print the table
python scripts/model_table.py --check  # exit 1 if README.md's table differs
"""

from __future__ import annotations

import sys
from pathlib import Path

from rekognition_emulator.models.manifest import MANIFEST

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- model-table:begin -->"
END = "<!-- model-table:end -->"


def table() -> str:
    rows = [
        "| model | what it does | source | file | sha256 | licence |",
        "|---|---|---|---|---|---|",
    ]
    for spec in MANIFEST.values():
        source = f"{'npm' if spec.source == 'npm' else 'PyPI'} `{spec.requirement}`"
        if spec.source == "sdist":
            source += " (source archive)"
        file = f"`{spec.path_in_wheel}`" if spec.path_in_wheel else "the package tarball"
        sha = f"`{spec.sha256}`"
        if spec.converter:
            # shown by its place in the repository (models/...), not its installed import path
            file += f", converted by `{spec.converter.removeprefix('rekognition_emulator.')}`"
            sha += f" (converted: `{spec.converted_sha256}`)"
        rows.append(
            f"| `{spec.name}` | {spec.purpose} | {source} | {file} | {sha} | {spec.licence} |"
        )
    return "\n".join(rows)


def readme_table() -> str | None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if readme_table() != table():
            print(
                "README.md's model table differs from models/manifest.py: "
                "run `python scripts/model_table.py` and paste its output",
                file=sys.stderr,
            )
            return 1
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
