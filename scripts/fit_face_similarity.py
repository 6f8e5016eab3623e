"""Fit the cosine -> Similarity calibration on the FIT identities and report it on the rest.

    .venv/bin/python scripts/fit_face_similarity.py            # fit, then the held-out report
    .venv/bin/python scripts/fit_face_similarity.py --check    # exit 1 unless the constants in
                                                               # handlers/analysis/faces.py are
                                                               # the fit's (to 3 decimals)
    .venv/bin/python scripts/fit_face_similarity.py --embedding fused
                                   # the same for SFace fused with dlib's ResNet (measured, not
                                   # the default: see the README)

The method (documented in the README, "CompareFaces / search similarity"):
- data: the portraits of the FIT identities (tests/groundtruth.py), upright and rotated by
  15, 45, 90 and 180 degrees; pairs of two different photos, one of them upright;
- Similarity = 100 / (1 + exp(-slope * (cosine - centre))), from two anchors:
  80 (CompareFaces' default threshold) at the midpoint between the highest different-person
  cosine and the 1st percentile of the same-person cosines, and 99 at the median same-person
  cosine, so that a typical same-person pair reads in the high 90s as on the real service;
- `--embedding fused`: SFace and dlib's ResNet (flip-averaged) fused as the concatenation
  sqrt(w) * sface + sqrt(1 - w) * dlib (cosine = w * cos_sface + (1 - w) * cos_dlib), w chosen
  on the fit pairs (the one that most separates the 1st percentile of same-person cosines
  from the 99.9th of different-person ones, relative to the medians' distance);
- the report: the same figures on the HELD-OUT identities (their portraits and rotated
  copies), plus negatives no constant saw: pairs of faces of one group photo, and held-out
  portraits against the strangers of the PASCAL group photos.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import groundtruth as gt  # noqa: E402

ANCHOR_80 = 0.80
ANCHOR_MEDIAN = 0.99


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def fit(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """(slope, centre) of the logistic through the two anchors."""
    at80 = (float(different.max()) + float(np.percentile(same, 1))) / 2.0
    at_median = float(np.median(same))
    slope = (logit(ANCHOR_MEDIAN) - logit(ANCHOR_80)) / (at_median - at80)
    return slope, at80 - logit(ANCHOR_80) / slope


def _sface(face) -> np.ndarray:
    return face.embedding


def _both(face) -> np.ndarray:
    return np.concatenate([face.embedding, face.dlib_embedding])


def _weigh(v: np.ndarray | None, w: float) -> np.ndarray | None:
    """SFace and dlib halves of `v` as one unit vector whose dot product is the weighted mean
    of the two cosines (v itself when it holds SFace alone)."""
    if v is None or len(v) == 128:
        return v
    return np.concatenate([np.sqrt(w) * v[:128], np.sqrt(1.0 - w) * v[128:]])


def _weighted(shots: list[gt.Shot], w: float) -> list[gt.Shot]:
    return [gt.Shot(s.identity, s.photo, s.rotation, _weigh(s.embedding, w)) for s in shots]


def separation(shots: list[gt.Shot], w: float) -> float:
    same, different = gt.portrait_pairs(_weighted(shots, w))
    spread = float(np.median(same) - np.median(different))
    return float(np.percentile(same, 1) - np.percentile(different, 99.9)) / spread


def summary(name: str, same: np.ndarray, different: np.ndarray, sim) -> str:
    s, d = sim(same), sim(different)
    parts = [f"{name:34s}"]
    if len(s):
        parts.append(
            f"same {len(s):5d}: TAR@80 {np.mean(s >= 80):.3f} median {np.median(s):5.1f} "
            f"min {s.min():5.1f}"
        )
    if len(d):
        parts.append(
            f"different {len(d):5d}: >=80 {int(np.sum(d >= 80))} median {np.median(d):5.1f} "
            f"max {d.max():5.1f}"
        )
    return " | ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--embedding", choices=("sface", "fused"), default="sface")
    args = parser.parse_args()
    root = gt.testdata_dir()
    if root is None:
        print("../shared/testdata is absent", file=sys.stderr)
        return 2
    from rekognition_emulator.handlers.analysis import faces

    vector = _sface if args.embedding == "sface" else _both
    fit_shots = gt.portrait_shots(root, gt.FIT_IDENTITIES, vector=vector)
    weight = 1.0
    if args.embedding == "fused":
        weight = max(np.arange(0.1, 0.95, 0.1), key=lambda w: separation(fit_shots, w))
        print(f"fused: SFace weight {weight:.1f} (separation {separation(fit_shots, weight):.3f},")
        print(
            f"       SFace alone {separation(fit_shots, 1.0):.3f}, dlib alone "
            f"{separation(fit_shots, 0.0):.3f})"
        )
        fit_shots = _weighted(fit_shots, weight)
    same, different = gt.portrait_pairs(fit_shots)
    slope, centre = fit(same, different)
    print(f"fit on {len(same)} same / {len(different)} different pairs of {gt.FIT_IDENTITIES}")
    print(f"  SIMILARITY_SLOPE = {slope:.3f}\n  SIMILARITY_CENTRE = {centre:.3f}")
    if args.check and args.embedding == "sface":
        ok = (round(slope, 3), round(centre, 3)) == (
            round(faces.SIMILARITY_SLOPE, 3),
            round(faces.SIMILARITY_CENTRE, 3),
        )
        print("constants match the fit" if ok else "constants in faces.py differ from the fit")
        return 0 if ok else 1

    def sim(cosines: np.ndarray) -> np.ndarray:
        if args.embedding == "fused":  # its own fit, through the same logistic form
            return 100.0 / (1.0 + np.exp(-slope * (np.asarray(cosines) - centre)))
        return np.array([faces.similarity(float(c)) for c in cosines])

    print("\nfit set (what the constants saw):")
    print(summary("  fit, all rotations", same, different, sim))
    held = _weighted(gt.portrait_shots(root, gt.HELD_OUT_IDENTITIES, vector=vector), weight)
    groups = gt.group_shots(root, vector=vector)
    groups = [(p, b, _weigh(v, weight)) for p, b, v in groups]
    negatives = gt.group_negatives(groups, held)
    print("\nheld out (no constant saw these):")
    for rotation in (0, *gt.ROTATIONS):
        s, d = gt.portrait_pairs(held, rotation)
        print(summary(f"  portraits, other turned {rotation:3d}", s, d, sim))
    s, d = gt.portrait_pairs(held)
    print(summary("  portraits, all rotations", s, d, sim))
    for name, cosines in negatives.items():
        print(summary(f"  {name}", np.array([]), cosines, sim))
    return 0


if __name__ == "__main__":
    sys.exit(main())
