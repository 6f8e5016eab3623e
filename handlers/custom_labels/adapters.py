"""Training a moderation adapter (a version of a CONTENT_MODERATION project).

The lines are adapter manifest lines (`content-moderation-groundtruth`); the base model is
whatever DetectModerationLabels runs, passed in as `base(rgb) -> {label: confidence 0-100}`,
so this module does not depend on it. The adapter is evaluated like an image classifier
over the labels the user's images use, and writes the same files a Custom Labels training
writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from rekognition_emulator.handlers.custom_labels import datasets, evaluation
from rekognition_emulator.handlers.custom_labels.manifest import IMAGE_LEVEL, Line
from rekognition_emulator.handlers.custom_labels.training import (
    Outcome,
    ReadImage,
    TrainingFailed,
    failed_outcome,
    load_images,
    trained_outcome,
    write_json,
)
from rekognition_emulator.models.custom import adapter, metrics
from rekognition_emulator.models.custom.features import FeatureExtractor
from rekognition_emulator.models.custom.model import ADAPTER, TrainedModel

BaseModel = Callable[[np.ndarray], dict[str, float]]


def _check(train_lines: Sequence[Line], test_lines: Sequence[Line] | None) -> tuple[list[Line], list[Line]]:  # fmt: skip
    train = [line for line in train_lines if line.moderation]
    if not train:
        raise TrainingFailed("ERROR_EMPTY_MANIFEST", "(no content-moderation-groundtruth line)")
    if test_lines is None:
        parts = datasets.split(train)
        if parts is None:
            raise TrainingFailed("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT")
        train, test = parts
    else:
        test = [line for line in test_lines if line.moderation]
        if not test:
            raise TrainingFailed("ERROR_EMPTY_MANIFEST", "(the testing dataset has no entries)")
    if not datasets.labels_of(train):
        raise TrainingFailed("ERROR_MANIFEST_TOO_FEW_LABELS", "(no training image has a label)")
    return train, test


def train_adapter(
    extractor: FeatureExtractor,
    base: BaseModel,
    base_labels: Sequence[str],
    train_lines: Sequence[Line],
    test_lines: Sequence[Line] | None,
    read: ReadImage,
    target: evaluation.Target,
) -> Outcome:
    """Train and evaluate an adapter; never raises for bad data (see training.train)."""
    start = time.time()
    try:
        train, test = _check(train_lines, test_lines)
    except TrainingFailed as failed:
        return failed_outcome(failed, train_lines, test_lines, target, start)  # fmt: skip
    train, train_px = load_images(train, read)
    test, test_px = load_images(test, read)
    if not train or not test:
        failed = TrainingFailed("ERROR_FAILED_IMAGES_S3_COPY", "(no usable image)")
        return failed_outcome(failed, train_lines, test_lines, target, start)  # fmt: skip
    fitted = adapter.train(
        extractor.pooled(train_px),
        [base(px) for px in train_px],
        [set(line.image_labels) for line in train],
        base_labels,
    )
    scores = fitted.scores(extractor.pooled(test_px), [base(px) for px in test_px])
    truth = [set(line.image_labels) for line in test]
    result = metrics.classification(fitted.labels, truth, scores)
    model = TrainedModel(ADAPTER, fitted.labels, result.thresholds(), adapter=fitted)
    finished = time.time()
    summary = evaluation.summary(
        result,
        use_case=IMAGE_LEVEL,
        version_arn=target.version_arn,
        n_train=len(train),
        n_test=len(test),
        finished_at=finished,
    )
    del summary["AggregatedEvaluationResults"]["ConfusionMatrix"]  # labels are not exclusive
    contents = {
        evaluation.SUMMARY: write_json(summary),
        evaluation.MANIFEST_SUMMARY: write_json(
            evaluation.manifest_summary(
                evaluation.SideCounts(IMAGE_LEVEL, train_lines, []),
                evaluation.SideCounts(
                    IMAGE_LEVEL, test_lines if test_lines is not None else test, []
                ),  # fmt: skip
                [],
            )
        ),
        evaluation.TRAINING_GT: evaluation.jsonl([line.json for line in train]),
        evaluation.TESTING_GT: evaluation.jsonl([line.json for line in test]),
    }
    return trained_outcome(
        model, "The adapter is ready to use.", contents, IMAGE_LEVEL, result.f1, target, finished - start, test_lines is None
    )  # fmt: skip
