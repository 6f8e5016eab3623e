"""Image classification by a linear probe on frozen EfficientNet-Lite0 features.

Each training image is seen as four views (the whole frame, its mirror, and two 85 %
windows from opposite corners), each view a 1280-d pooled feature vector. The vectors are
power-normalised (square root, then unit length: a few strong activations no longer drown
the rest; on the shared photos this took 4-fold accuracy from 0.89 to 0.93 on five people
and from 0.81 to 0.86 on three scene types), standardised, and a linear model is fitted:
- single-label data (every image has exactly one label): softmax regression, so the scores
  of an image sum to 1;
- multi-label data (some image has several labels, or none): one logistic regression per
  label, each scored on its own;
- too few images to fit weights (at most two a label): the cosine similarity to each
  label's mean feature (a prototype), turned into scores the same two ways.
An image is scored as the mean over its frame and its mirror.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rekognition_emulator.models.custom import linear
from rekognition_emulator.models.custom.features import FeatureExtractor

CROP = 0.85
PROTOTYPE_MAX_IMAGES = 1  # a label with this few images (or fewer) has no probe weights
PROTOTYPE_TEMPERATURE = 12.0
PROBE_L2 = 1e-2


def training_views(rgb: np.ndarray) -> list[np.ndarray]:
    h, w = rgb.shape[:2]
    ch, cw = max(1, round(h * CROP)), max(1, round(w * CROP))
    return [rgb, rgb[:, ::-1], rgb[:ch, :cw], rgb[h - ch :, w - cw :][:, ::-1]]


def inference_views(rgb: np.ndarray) -> list[np.ndarray]:
    return [rgb, rgb[:, ::-1]]


@dataclass(frozen=True)
class Probe:
    """A trained image classifier over `labels` (arrays only: saved and loaded as is)."""

    labels: list[str]
    multi_label: bool
    mean: np.ndarray  # (1280,) standardisation
    std: np.ndarray
    weights: np.ndarray  # (1280, k); for prototypes: the unit-length prototypes, transposed
    bias: np.ndarray  # (k,)
    prototypes: bool

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Scores 0..1 (n, k) for pooled features (n, 1280)."""
        x = (normalise(features) - self.mean) / self.std
        if self.prototypes:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
            z = PROTOTYPE_TEMPERATURE * (x @ self.weights) + self.bias
        else:
            z = x @ self.weights + self.bias
        return linear.sigmoid(z) if self.multi_label else linear.softmax(z)

    def classify(self, extractor: FeatureExtractor, rgb: np.ndarray) -> np.ndarray:
        """The scores (k,) of one image: the mean over its inference views."""
        return self.scores(extractor.pooled(inference_views(rgb))).mean(axis=0)


def normalise(features: np.ndarray) -> np.ndarray:
    """Power normalisation: the square root of each (non-negative) activation, unit length."""
    x = np.sqrt(np.maximum(features, 0.0))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def is_multi_label(truth: Sequence[set[str]]) -> bool:
    return any(len(t) != 1 for t in truth)


def fit(
    features: np.ndarray,
    truth: Sequence[set[str]],
    labels: Sequence[str],
    multi_label: bool,
    prototypes: bool,
) -> Probe:
    """Fit the probe on pooled features (n, 1280), row i labelled `truth[i]`; `prototypes`
    when some label has too few images for weights (see the module docstring)."""
    labels = list(labels)
    index = {name: j for j, name in enumerate(labels)}
    y = np.zeros((len(truth), len(labels)))
    for i, t in enumerate(truth):
        for name in t:
            y[i, index[name]] = 1.0
    features = normalise(features)
    scaler = linear.Standardiser.fit(features)
    x = scaler(features).astype(np.float64)
    counts = y.sum(axis=0)
    if prototypes:
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
        protos = (y.T @ unit) / np.maximum(counts[:, None], 1)
        protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-9)
        # Multi-label: a prototype "fires" above the mean similarity of its own images' views.
        bias = np.zeros(len(labels))
        if multi_label:
            sims = unit @ protos.T
            own = [sims[y[:, j] > 0, j].mean() if counts[j] else 1.0 for j in range(len(labels))]
            bias = -PROTOTYPE_TEMPERATURE * (np.array(own) - 0.1)
        return Probe(labels, multi_label, scaler.mean, scaler.std, protos.T, bias, True)
    if multi_label:
        w, b = linear.fit_sigmoid(x, y, l2=PROBE_L2)
    else:
        w, b = linear.fit_softmax(x, y.argmax(axis=1), len(labels), l2=PROBE_L2)
    return Probe(labels, multi_label, scaler.mean, scaler.std, w, b, False)


def train(
    extractor: FeatureExtractor,
    images: Sequence[np.ndarray],
    truth: Sequence[set[str]],
    labels: Sequence[str],
) -> Probe:
    """Train on RGB images, image i labelled `truth[i]` (a subset of `labels`)."""
    views, rows = [], []
    for rgb, t in zip(images, truth, strict=True):
        vs = training_views(rgb)
        views += vs
        rows += [t] * len(vs)
    fewest = min(sum(name in t for t in truth) for name in labels)
    # With at most two images of some label a probe would learn those images by heart, so
    # every label is scored by its prototype instead.
    prototypes = fewest <= PROTOTYPE_MAX_IMAGES
    return fit(extractor.pooled(views), rows, labels, is_multi_label(truth), prototypes)
