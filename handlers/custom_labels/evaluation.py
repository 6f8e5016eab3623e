"""The files training writes to the OutputConfig location, in the service's formats.

- EvaluationResultSummary-<project>-<version>.json: aggregate and per-label metrics;
- ManifestSummary-<project>-<version>.json: line counts and errors of both manifests;
- TrainingGroundTruth / TestingGroundTruth: the lines trained and tested on; the testing
  one is the evaluation snapshot (each line with the model's predictions and whether each
  was a true/false positive/negative at the label's threshold);
- TrainingManifestWithValidation / TestingManifestWithValidation: every line with the
  errors found in it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from rekognition_emulator.handlers.custom_labels.manifest import (
    CLASSIFICATION_TYPE,
    DETECTION_TYPE,
    IMAGE_LEVEL,
    Line,
)
from rekognition_emulator.models.custom.metrics import Evaluation, ImageDetections, match

SUMMARY = "EvaluationResultSummary"
MANIFEST_SUMMARY = "ManifestSummary"
TRAINING_GT = "TrainingGroundTruth"
TESTING_GT = "TestingGroundTruth"
TRAINING_VALIDATION = "TrainingManifestWithValidation"
TESTING_VALIDATION = "TestingManifestWithValidation"
EVALUATION_ATTR = "rekognition-custom-labels-evaluation"
EVALUATION_JOB = "rekognition-custom-labels-evaluation-job"
DETAILS = "rekognition-custom-labels-evaluation-details"


@dataclass(frozen=True)
class Target:
    """The model version being trained and where its files go (OutputConfig)."""

    project: str
    version: str
    version_arn: str
    prefix: str | None  # S3KeyPrefix

    def key(self, kind: str) -> str:
        return output_key(self.prefix, kind, self.project, self.version)


def output_key(prefix: str | None, kind: str, project: str, version: str) -> str:
    """The S3 key of one output file: `<prefix>/<kind>-<project>-<version>.json`."""
    name = f"{kind}-{project}-{version}.json"
    prefix = (prefix or "").rstrip("/")
    return f"{prefix}/{name}" if prefix else name


def timestamp(when: float) -> str:
    # The summary's own format: ISO 8601 with microseconds, no zone (UTC).
    return datetime.fromtimestamp(when, UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _r(x: float) -> float:
    return float(round(x, 6))


def summary(
    evaluation: Evaluation,
    *,
    use_case: str,
    version_arn: str,
    n_train: int,
    n_test: int,
    finished_at: float,
    confusion: list[dict] | None = None,
) -> dict:
    """The evaluation summary file's content."""
    aggregated: dict = {}
    if use_case == IMAGE_LEVEL:
        aggregated["ConfusionMatrix"] = confusion or []
    aggregated.update(
        F1Score=_r(evaluation.f1), Precision=_r(evaluation.precision), Recall=_r(evaluation.recall)
    )
    if use_case != IMAGE_LEVEL:
        aggregated["AveragePrecision"] = _r(evaluation.average_precision or 0.0)
        aggregated["AverageRecall"] = _r(evaluation.average_recall or 0.0)
    labels = sorted(evaluation.labels, key=lambda s: (-s.f1, s.label))
    return {
        "Version": 1,
        "AggregatedEvaluationResults": aggregated,
        "EvaluationDetails": {
            "EvaluationEndTimestamp": timestamp(finished_at),
            "Labels": [s.label for s in labels],
            "NumberOfTestingImages": n_test,
            "NumberOfTrainingImages": n_train,
            "ProjectVersionArn": version_arn,
        },
        "LabelEvaluationResults": [
            {
                "Label": s.label,
                "Metrics": {
                    "F1Score": _r(s.f1),
                    "Precision": _r(s.precision),
                    "Recall": _r(s.recall),
                    "Threshold": _r(s.threshold),
                },
                "NumberOfTestingImages": s.test_images,
            }
            for s in labels
        ],
    }


def confusion_matrix(
    labels: Sequence[str], truth: Sequence[set[str]], scores: np.ndarray
) -> list[dict]:
    """Single-label classification: for each ground-truth label, the share of its test
    images whose top-scoring label is each predicted label (rows sum to 1; cells that are
    0 are left out). (unconfirmed: AWS does not document how its cells are normalised.)"""
    cells = []
    for g, gt in enumerate(labels):
        rows = [i for i, t in enumerate(truth) if gt in t]
        if not rows:
            continue
        predicted = scores[rows].argmax(axis=1)
        for p, name in enumerate(labels):
            share = float(np.mean(predicted == p))
            if share > 0:
                cells.append({"GroundTruthLabel": labels[g], "PredictedLabel": name, "Value": _r(share)})  # fmt: skip
    return cells


@dataclass(frozen=True)
class SideCounts:
    """One manifest's counts for the manifest summary."""

    use_case: str
    lines: Sequence[Line]
    errors: list[dict]  # terminal errors of this manifest, {code, message}


def _side(side: SideCounts) -> dict:
    invalid = [line for line in side.lines if line.has_errors and not line.labeled]
    ignored = [line for line in side.lines if line.ignored]
    return {
        "use_case": side.use_case,
        "total_json_lines": len(side.lines),
        "valid_json_lines": len(side.lines) - len(invalid) - len(ignored),
        "invalid_json_lines": len(invalid),
        "ignored_json_lines": len(ignored),
        "error_json_line_indices": [line.index for line in side.lines if line.has_errors],
        "errors": side.errors,
    }


def manifest_summary(training: SideCounts, testing: SideCounts, errors: list[dict]) -> dict:
    return {
        "statistics": {"training": _side(training), "testing": _side(testing)},
        "errors": errors,
    }


def jsonl(rows: Sequence[dict]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()


def _details(tp: bool, fp: bool, fn: bool, tn: bool, present: bool, jobs: list[str]) -> dict:
    return {
        "version": 1,
        "ground-truth-labelling-jobs": jobs,
        "is-true-positive": tp,
        "is-true-negative": tn,
        "is-false-positive": fp,
        "is-false-negative": fn,
        "is-present-in-ground-truth": present,
    }


def _jobs(line: Line) -> list[str]:
    return [k[: -len("-metadata")] for k in line.json if k.endswith("-metadata")]


def classification_snapshot(
    lines: Sequence[Line],
    labels: Sequence[str],
    scores: np.ndarray,
    thresholds: dict[str, float],
    created: str,
) -> list[dict]:
    """Testing lines with one evaluation attribute pair per label of the model."""
    out = []
    for line, row in zip(lines, scores, strict=True):
        data = dict(line.json)
        truth = set(line.image_labels)
        for j, label in enumerate(labels):
            above = float(row[j]) >= thresholds[label]
            present = label in truth
            data[f"{EVALUATION_ATTR}-{j}"] = j
            data[f"{EVALUATION_ATTR}-{j}-metadata"] = {
                "confidence": _r(float(row[j])),
                "job-name": EVALUATION_JOB,
                "class-name": label,
                "human-annotated": "no",
                "creation-date": created,
                "type": CLASSIFICATION_TYPE,
                DETAILS: _details(
                    above and present,
                    above and not present,
                    not above and present,
                    not above and not present,
                    present,
                    _jobs(line),
                ),
            }
        out.append(data)
    return out


def detection_snapshot(
    lines: Sequence[Line],
    labels: Sequence[str],
    found: Sequence[ImageDetections],
    thresholds: dict[str, float],
    created: str,
) -> list[dict]:
    """Testing lines with the model's boxes: each predicted box marked true or false
    positive (matched to a ground-truth box at IoU >= 0.5 and above the label's threshold),
    and each ground-truth box no prediction found added as a false negative."""
    out = []
    for line, im in zip(lines, found, strict=True):
        data = dict(line.json)
        width, height = line.image_size or (0, 0)
        annotations, objects = [], []
        for j, label in enumerate(labels):
            d, g = im.classes == j, im.gt_classes == j
            boxes, scores = im.boxes[d], im.scores[d]
            above = scores >= thresholds[label]
            det_gt, _ = match(boxes[above], scores[above], im.gt_boxes[g])
            hit = np.full(len(scores), False)
            hit[np.nonzero(above)[0]] = det_gt >= 0
            for b, s, a, h in zip(boxes, scores, above, hit, strict=True):
                annotations.append(_annotation(j, b))
                objects.append({"confidence": _r(float(s)), DETAILS: _details(bool(a and h), bool(a and not h), False, False, bool(h), _jobs(line))})  # fmt: skip
            found_gt = set(det_gt[det_gt >= 0].tolist())
            for k, gt_box in enumerate(im.gt_boxes[g]):
                if k not in found_gt:
                    annotations.append(_annotation(j, gt_box))
                    objects.append({"confidence": 0.0, DETAILS: _details(False, False, True, False, True, _jobs(line))})  # fmt: skip
        data[EVALUATION_ATTR] = {
            "annotations": annotations,
            "image_size": [{"width": width, "height": height, "depth": 3}],
        }
        data[f"{EVALUATION_ATTR}-metadata"] = {
            "confidence": _r(float(im.scores.max())) if len(im.scores) else 0.0,
            "job-name": EVALUATION_JOB,
            "class-map": {str(j): name for j, name in enumerate(labels)},
            "human-annotated": "no",
            "objects": objects,
            "creation-date": created,
            "type": DETECTION_TYPE,
        }
        out.append(data)
    return out


def _annotation(class_id: int, box: np.ndarray) -> dict:
    x0, y0, x1, y1 = (float(v) for v in box)
    return {
        "class_id": class_id,
        "left": int(round(x0)),
        "top": int(round(y0)),
        "width": int(round(x1 - x0)),
        "height": int(round(y1 - y0)),
    }
