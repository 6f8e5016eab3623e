"""Fit a temperature for the expression network on the labelled faces of the FIT identities.

    .venv/bin/python scripts/fit_emotion_temperature.py

Labels: tests/data/face_labels.tsv's `emotion` (HAPPY for a clear smile, CALM for a clearly
neutral face). Method: temperature scaling (the class log-probabilities divided by T, then
renormalised; the ranking never changes), T chosen on a grid to minimise the negative
log-likelihood of the labels of the FIT identities' faces; reported with the held-out faces
(the other identities and the group photos). The fit gives T = 1.1, within noise of the
model's own 1.0 (sharpening to T = 0.5 would raise the held-out NLL from 0.42 to 0.55), so
handlers/analysis/faces.py keeps the model's probabilities and only tempers them by each
face's reliability.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import groundtruth as gt  # noqa: E402

CLASS_OF = {"HAPPY": "happy", "CALM": "neutral"}
GRID = np.round(np.arange(0.3, 2.01, 0.1), 2)


def labelled(root: Path) -> list[tuple[bool, str, dict[str, float]]]:
    """(is a FIT identity's face, label, the network's probabilities) per labelled face."""
    from rekognition_emulator.models.face.analyzer import default_analyzer

    return [
        (label.identity in gt.FIT_IDENTITIES, label.emotion, face.expression.probabilities)
        for label, face in gt.labelled_faces(root, default_analyzer().detect)
        if label.emotion
    ]


def scores(rows, temperature: float) -> tuple[float, float, float]:
    """(mean NLL of the labels, agreement of the top class, share with a top class >= 0.5)."""
    nll, agree, sure = [], [], []
    for _, emotion, probs in rows:
        z = np.log(np.clip(np.array(list(probs.values())), 1e-30, 1.0)) / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        named = dict(zip(probs, p, strict=True))
        nll.append(-np.log(named[CLASS_OF[emotion]]))
        agree.append(max(named, key=named.__getitem__) == CLASS_OF[emotion])
        sure.append(p.max() >= 0.5)
    return float(np.mean(nll)), float(np.mean(agree)), float(np.mean(sure))


def main() -> int:
    root = gt.testdata_dir()
    if root is None:
        print("../shared/testdata is absent", file=sys.stderr)
        return 2
    rows = labelled(root)
    fit = [r for r in rows if r[0]]
    held = [r for r in rows if not r[0]]
    best = min(GRID, key=lambda t: scores(fit, t)[0])
    print(f"fit faces {len(fit)}, held-out faces {len(held)}; temperature minimising NLL: {best}")
    for t in sorted({0.5, 1.0, float(best)}):
        for name, part in (("fit", fit), ("held out", held)):
            nll, agree, sure = scores(part, t)
            print(
                f"T={t:.1f} {name:8s} NLL {nll:.3f}  top = label {agree:.1%}  top >= 50 {sure:.1%}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
