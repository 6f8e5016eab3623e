"""The face figures the README states, recomputed on data no constant was fitted on.

The Similarity curve is fitted on the FIT identities (tests/groundtruth.py) by
scripts/fit_face_similarity.py; these tests assert on the HELD-OUT identities, on rotated
copies of their portraits and on the strangers of the group photos. Needs ../shared/testdata.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from rekognition_emulator.handlers.analysis import faces as fc
from tests import groundtruth as gt
from tests.conftest import REPO


def _fit_script():
    spec = importlib.util.spec_from_file_location(
        "fit_face_similarity", REPO / "scripts" / "fit_face_similarity.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def similarity(cosines: np.ndarray) -> np.ndarray:
    return np.array([fc.similarity(float(c)) for c in cosines])


@pytest.fixture(scope="module")
def held_out(testdata):
    return gt.portrait_shots(testdata, gt.HELD_OUT_IDENTITIES)


def test_similarity_constants_are_the_fit_on_the_fit_identities(testdata):
    # The constants in handlers/analysis/faces.py come from the FIT identities alone, by the
    # documented method; refitting gives them back (so the held-out figures below are honest).
    same, different = gt.portrait_pairs(gt.portrait_shots(testdata, gt.FIT_IDENTITIES))
    slope, centre = _fit_script().fit(same, different)
    assert round(slope, 3) == round(fc.SIMILARITY_SLOPE, 3)
    assert round(centre, 3) == round(fc.SIMILARITY_CENTRE, 3)


@pytest.mark.parametrize("rotation", [0, *gt.ROTATIONS])
def test_similarity_on_held_out_identities(held_out, rotation):
    # README: same-person TAR at 80 1.000, median 99.0, no different-person pair at 80 (upright
    # and with the other photo turned by 15, 45, 90 or 180 degrees).
    same, different = gt.portrait_pairs(held_out, rotation)
    s, d = similarity(same), similarity(different)
    assert len(s) >= 190 and len(d) >= 700
    assert np.mean(s >= 80) >= (0.98 if rotation == 0 else 0.95)
    assert np.median(s) >= 98
    assert not np.any(d >= 80), sorted(d)[-3:]
    assert np.median(d) < 20  # different people read low, as on the real service


def test_strangers_in_the_group_photos_stay_under_80(testdata, held_out):
    # README: the 106 pairs of faces of one group photo reach at most 69.9 (before: 84.4), held-out
    # portraits against the PASCAL strangers 39.6.
    negatives = gt.group_negatives(gt.group_shots(testdata), held_out)
    assert len(negatives["within_group"]) >= 100
    assert len(negatives["portrait_vs_stranger"]) >= 1500
    for name, cosines in negatives.items():
        assert similarity(cosines).max() < 80, name
