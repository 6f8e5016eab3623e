"""A moderation adapter: re-scores a base moderation model's labels for one user's images.

The base model gives each image a confidence per moderation label. An adapter is trained
on images with the labels the user says they have (possibly none: an image the base model
flags but the user considers fine teaches it to stay quiet). For every label the user's
images use, one logistic regression sees the image's pooled features (power-normalised, as
the classifier probe does) together with all the base model's confidences, so it can both
correct the base model's score and learn what the base model does not see. Labels the
adapter was not trained on keep the base model's confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rekognition_emulator.models.custom import linear
from rekognition_emulator.models.custom.classifier import normalise

ADAPTER_L2 = 1e-2


@dataclass(frozen=True)
class Adapter:
    """Arrays only (saved and loaded as is): labels it re-scores, base labels it reads."""

    labels: list[str]
    base_labels: list[str]
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (d, k)
    bias: np.ndarray  # (k,)

    def _inputs(self, features: np.ndarray, base: Sequence[dict[str, float]]) -> np.ndarray:
        scores = np.array([[b.get(n, 0.0) / 100.0 for n in self.base_labels] for b in base])
        x = np.concatenate([normalise(features), scores.reshape(len(base), -1)], axis=1)
        return (x - self.mean) / self.std

    def scores(self, features: np.ndarray, base: Sequence[dict[str, float]]) -> np.ndarray:
        """(n, k) scores 0..1 of the adapter's labels for n images."""
        return linear.sigmoid(self._inputs(features, base) @ self.weights + self.bias)

    def rescore(self, features: np.ndarray, base: dict[str, float]) -> dict[str, float]:
        """One image: every label's confidence 0..100, the adapter's labels re-scored, the
        base model's other labels as they were."""
        out = dict(base)
        for name, s in zip(self.labels, self.scores(features[None], [base])[0], strict=True):
            out[name] = float(s) * 100.0
        return out


def train(
    features: np.ndarray,
    base: Sequence[dict[str, float]],
    truth: Sequence[set[str]],
    base_labels: Sequence[str],
) -> Adapter:
    """Fit on pooled features (n, 1280), the base confidences (0..100) of each image, and
    the labels each image has (a set, possibly empty)."""
    labels = sorted({name for t in truth for name in t})
    if not labels:
        raise ValueError("an adapter needs at least one labelled image")
    base_labels = list(base_labels)
    scores = np.array([[b.get(n, 0.0) / 100.0 for n in base_labels] for b in base])
    x = np.concatenate([normalise(features), scores.reshape(len(base), -1)], axis=1)
    scaler = linear.Standardiser.fit(x)
    y = np.array([[name in t for name in labels] for t in truth], float)
    w, b = linear.fit_sigmoid(scaler(x), y, l2=ADAPTER_L2)
    return Adapter(labels, base_labels, scaler.mean, scaler.std, w, b)
