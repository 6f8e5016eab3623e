"""The face attribute rates the README states, measured against tests/data/face_labels.tsv.

    .venv/bin/python scripts/face_attribute_rates.py

For Eyeglasses, Sunglasses, Beard and Mustache: how many labelled faces with the attribute
are found (recall) and how many without it are called (false alarms), at Value = Confidence
of at least 50 as the API reports it. For Gender: agreement with the labels by face size
(the shorter side of the box in pixels). tests/test_face_fidelity.py asserts the same figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import groundtruth as gt  # noqa: E402

SIZE_BANDS = ((0, 50), (50, 100), (100, 10_000))


def rates(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """attribute -> (found, with it, false alarms, without it); gender bands as
    "Gender <lo>-<hi>px" -> (agree, faces, 0, 0)."""
    from rekognition_emulator.models.face.analyzer import default_analyzer

    out: dict[str, list[int]] = {}
    for label, face in gt.labelled_faces(root, default_analyzer().detect):
        for name, truth, p in (
            ("Eyeglasses", label.eyeglasses, face.spectacles.eyeglasses),
            ("Sunglasses", label.sunglasses, face.spectacles.sunglasses),
            ("Beard", label.beard, face.facial_hair.beard),
            ("Mustache", label.mustache, face.facial_hair.mustache),
        ):
            row = out.setdefault(name, [0, 0, 0, 0])
            if truth:
                row[0] += p >= 0.5
                row[1] += 1
            else:
                row[2] += p >= 0.5
                row[3] += 1
        if label.gender:
            lo, hi = next(b for b in SIZE_BANDS if b[0] <= label.size < b[1])
            row = out.setdefault(f"Gender {lo}-{hi}px", [0, 0, 0, 0])
            said = "Female" if face.age_gender.female >= 0.5 else "Male"
            row[0] += said == label.gender
            row[1] += 1
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


def main() -> int:
    root = gt.testdata_dir()
    if root is None:
        print("../shared/testdata is absent", file=sys.stderr)
        return 2
    for name, (hit, pos, false, neg) in rates(root).items():
        if name.startswith("Gender"):
            print(f"{name:20s} agrees on {hit} of {pos}")
        else:
            print(f"{name:20s} finds {hit} of {pos}, false alarms {false} of {neg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
