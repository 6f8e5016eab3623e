"""Train a custom model and evaluate it on its test images, in one call.

The caller brings decoded images with their ground truth (this module knows nothing of
manifests or AWS); it gets back the trained model, with each label's threshold chosen on
the test images, the evaluation, and the per-image test predictions (for the evaluation
snapshot a caller may write).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rekognition_emulator.models.custom import classifier, detector, metrics
from rekognition_emulator.models.custom.features import FeatureExtractor
from rekognition_emulator.models.custom.model import CLASSIFICATION, DETECTION, TrainedModel

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabelledImage:
    """A classification image: pixels and the labels it has (none, one or several)."""

    rgb: np.ndarray
    labels: set[str]


@dataclass(frozen=True)
class BoxedImage:
    """A detection image: pixels and its boxes (x0, y0, x1, y1 px), each with its label."""

    rgb: np.ndarray
    boxes: list[tuple[float, float, float, float]]
    labels: list[str]


@dataclass(frozen=True)
class Result:
    model: TrainedModel
    evaluation: metrics.Evaluation
    # Classification: (n_test, k) scores; detection: one metrics.ImageDetections a test image.
    test_scores: np.ndarray | None
    test_detections: list[metrics.ImageDetections] | None
    seconds: float


def _quiet(_: str) -> None:
    pass


def train_classifier(
    extractor: FeatureExtractor,
    train: Sequence[LabelledImage],
    test: Sequence[LabelledImage],
    labels: Sequence[str],
    progress: Progress = _quiet,
) -> Result:
    start = time.perf_counter()
    labels = list(labels)
    progress(f"features of {len(train)} training images")
    probe = classifier.train(extractor, [t.rgb for t in train], [t.labels for t in train], labels)
    progress(f"scoring {len(test)} test images")
    scores = np.array([probe.classify(extractor, t.rgb) for t in test]).reshape(-1, len(labels))
    evaluation = metrics.classification(labels, [t.labels for t in test], scores)
    model = TrainedModel(
        CLASSIFICATION,
        labels,
        evaluation.thresholds(),
        probe=probe,
        info={"multi_label": probe.multi_label, "prototypes": probe.prototypes},
    )
    return Result(model, evaluation, scores, None, time.perf_counter() - start)


def _annotated(image: BoxedImage, index: dict[str, int]) -> detector.Annotated:
    boxes = np.array(image.boxes, float).reshape(-1, 4)
    return detector.Annotated(image.rgb, boxes, np.array([index[n] for n in image.labels], int))


def train_detector(
    extractor: FeatureExtractor,
    train: Sequence[BoxedImage],
    test: Sequence[BoxedImage],
    labels: Sequence[str],
    progress: Progress = _quiet,
) -> Result:
    start = time.perf_counter()
    labels = list(labels)
    index = {name: j for j, name in enumerate(labels)}
    progress(f"features of {len(train)} training images")
    head = detector.train(extractor, [_annotated(t, index) for t in train], labels)
    progress(f"detecting in {len(test)} test images")
    found = []
    for t in test:
        a = _annotated(t, index)
        d = head.detect(extractor, t.rgb)
        found.append(metrics.ImageDetections(d.boxes, d.scores, d.classes, a.boxes, a.classes))
    evaluation = metrics.detection(labels, found)
    model = TrainedModel(DETECTION, labels, evaluation.thresholds(), head=head)
    return Result(model, evaluation, None, found, time.perf_counter() - start)
