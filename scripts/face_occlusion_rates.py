"""How often FaceOccluded fires: on occlusions made from the shared portraits, and on the
unoccluded faces of the portraits and group photos.

    .venv/bin/python scripts/face_occlusion_rates.py

Occlusions (tests/groundtruth.py `occluded_copies`): half of the largest face of each
portrait covered by a dark band (lower or upper half), blacked out (left or right half) or
under a skin-toned hand, and a red disc over the mouth. A covered face the detector no longer
finds is counted as not flagged (FaceOccluded cannot be true for a face that is not reported).
tests/test_face_fidelity.py asserts the same figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import groundtruth as gt  # noqa: E402


def rates(root: Path) -> dict[str, tuple[int, int]]:
    """kind -> (faces flagged FaceOccluded, faces); "unoccluded" for the clean faces."""
    from rekognition_emulator.models.face.analyzer import default_analyzer

    analyzer = default_analyzer()
    out: dict[str, list[int]] = {}
    for paths in gt.identities(root).values():
        for path in paths:
            rgb = gt.read_rgb(path)
            face = analyzer.detect(rgb)[0]
            row = out.setdefault("unoccluded", [0, 0])
            row[0] += face.occluded >= 0.5
            row[1] += 1
            for kind, img in gt.occluded_copies(rgb, face.box, face.points5).items():
                again = [f for f in analyzer.detect(img) if gt.iou(f.box, face.box) > 0.3]
                row = out.setdefault(kind, [0, 0])
                row[0] += bool(again) and again[0].occluded >= 0.5
                row[1] += 1
    for path in gt.group_photos(root):
        for face in analyzer.detect(gt.read_rgb(path)):
            row = out.setdefault("unoccluded", [0, 0])
            row[0] += face.occluded >= 0.5
            row[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def main() -> int:
    root = gt.testdata_dir()
    if root is None:
        print("../shared/testdata is absent", file=sys.stderr)
        return 2
    found = rates(root)
    half = [found[k] for k in gt.HALF_FACE_OCCLUSIONS]
    for kind, (hit, n) in found.items():
        print(f"{kind:12s} FaceOccluded true on {hit:3d} of {n:3d} ({hit / n:.1%})")
    hit, n = sum(h for h, _ in half), sum(n for _, n in half)
    print(f"{'half a face':12s} FaceOccluded true on {hit:3d} of {n:3d} ({hit / n:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
