"""Evaluation of a trained model on its test images: per-label scores, thresholds, AP, AR.

What is computed, as the Custom Labels evaluation reports it:
- per label, a threshold (the "assumed threshold") chosen on the test scores to maximise F1:
  of the scores that do, the highest (fewer false positives for the same F1), then moved
  half-way down to the next lower test score, where new images have the most room;
- per label, precision, recall and F1 at that threshold;
- the model's F1, precision and recall are the unweighted means of the labels' values;
- detection adds average precision (VOC all-point interpolation, IoU >= 0.5) and average
  recall (recall at IoU 0.5, 0.55, ... 0.95, averaged), both means over labels.
Detections are matched to ground truth greedily, best score first, at IoU >= 0.5, one
ground-truth box per detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MATCH_IOU = 0.5
AR_IOUS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


@dataclass(frozen=True)
class LabelScore:
    """Precision, recall and F1 of one label at its threshold (scores 0..1)."""

    label: str
    threshold: float
    precision: float
    recall: float
    f1: float
    test_images: int  # test images whose ground truth has the label
    average_precision: float | None = None  # detection only
    average_recall: float | None = None  # detection only


@dataclass(frozen=True)
class Evaluation:
    labels: list[LabelScore]
    f1: float
    precision: float
    recall: float
    average_precision: float | None = None
    average_recall: float | None = None
    extra: dict = field(default_factory=dict)

    def thresholds(self) -> dict[str, float]:
        return {s.label: s.threshold for s in self.labels}


def f1_of(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def best_threshold(scores: np.ndarray, positive: np.ndarray, n_positive: int) -> tuple[float, ...]:
    """(threshold, precision, recall, f1) maximising F1 over `scores`, whose `positive` flags
    say which are true positives; `n_positive` is how many there are to find (detection: the
    ground-truth boxes, some of which no score may reach). Ties go to the higher threshold."""
    if n_positive == 0 or len(scores) == 0:
        # Nothing to find, or nothing found: any threshold above every score is as good.
        top = float(scores.max()) if len(scores) else 0.5
        return (min(1.0, max(top, 0.5)), 0.0, 0.0, 0.0)
    order = np.argsort(-scores, kind="stable")
    s, tp = scores[order], positive[order].astype(np.float64)
    ctp = np.cumsum(tp)
    k = np.arange(1, len(s) + 1)
    precision, recall = ctp / k, ctp / n_positive
    f1 = np.where(ctp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    # A threshold can only fall between distinct scores: evaluate at the last of each run.
    last = np.r_[s[1:] != s[:-1], True]
    candidates = np.nonzero(last)[0]
    # argmax takes the first maximum: the earliest rank, i.e. the higher threshold on a tie.
    best = candidates[int(np.argmax(f1[candidates]))]
    if f1[best] == 0.0:
        return (min(1.0, float(s[0])), 0.0, 0.0, 0.0)
    # Any threshold between this score and the next lower one gives the same F1 on the test
    # images; the middle of that gap leaves new images the most room on either side.
    below = float(s[best + 1]) if best + 1 < len(s) else 0.0
    threshold = (float(s[best]) + below) / 2
    return (threshold, float(precision[best]), float(recall[best]), float(f1[best]))


def classification(
    labels: Sequence[str], truth: Sequence[set[str]], scores: np.ndarray
) -> Evaluation:
    """Evaluate image-level predictions: `scores[i, j]` is image i's score (0..1) for label j;
    `truth[i]` the labels image i has."""
    per_label = []
    for j, label in enumerate(labels):
        positive = np.array([label in t for t in truth], bool)
        n = int(positive.sum())
        thr, p, r, f = best_threshold(scores[:, j], positive, n)
        per_label.append(LabelScore(label, thr, p, r, f, n))
    return _aggregate(per_label)


def _aggregate(per_label: list[LabelScore], **extra) -> Evaluation:
    if not per_label:
        return Evaluation([], 0.0, 0.0, 0.0)
    mean = lambda xs: float(np.mean(xs))  # noqa: E731  (aggregates are plain label means)
    return Evaluation(
        per_label,
        mean([s.f1 for s in per_label]),
        mean([s.precision for s in per_label]),
        mean([s.recall for s in per_label]),
        **extra,
    )


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` (n, 4) with every box of `b` (m, 4); boxes x0, y0, x1, y1."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    ix = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)  # fmt: skip
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def match(
    det_boxes: np.ndarray, det_scores: np.ndarray, gt_boxes: np.ndarray, min_iou: float = MATCH_IOU
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching, best detection first: (for each detection the index of the ground
    truth it found or -1, for each ground truth box the detection that found it or -1)."""
    det_gt = np.full(len(det_scores), -1, int)
    gt_det = np.full(len(gt_boxes), -1, int)
    if len(det_scores) == 0 or len(gt_boxes) == 0:
        return det_gt, gt_det
    overlaps = iou_matrix(det_boxes, gt_boxes)
    for d in np.argsort(-np.asarray(det_scores), kind="stable"):
        free = np.where(gt_det < 0, overlaps[d], -1.0)
        g = int(np.argmax(free))
        if free[g] >= min_iou:
            det_gt[d], gt_det[g] = g, d
    return det_gt, gt_det


def voc_ap(scores: np.ndarray, positive: np.ndarray, n_positive: int) -> float:
    """Area under the precision-recall curve with VOC's all-point interpolation."""
    if n_positive == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = positive[order].astype(np.float64)
    ctp = np.cumsum(tp)
    recall = np.r_[0.0, ctp / n_positive, 1.0]
    precision = np.r_[1.0, ctp / np.arange(1, len(tp) + 1), 0.0]
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the precision envelope
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


@dataclass(frozen=True)
class ImageDetections:
    """One test image: its detections and its ground truth, per label index."""

    boxes: np.ndarray  # (n, 4) px
    scores: np.ndarray  # (n,) 0..1
    classes: np.ndarray  # (n,) label index
    gt_boxes: np.ndarray  # (m, 4) px
    gt_classes: np.ndarray  # (m,)


def detection(labels: Sequence[str], images: Sequence[ImageDetections]) -> Evaluation:
    """Evaluate detections on test images, label by label (see the module docstring)."""
    per_label = []
    for j, label in enumerate(labels):
        scores, positive, n_gt, images_with = [], [], 0, 0
        recalls = {t: 0 for t in AR_IOUS}
        for im in images:
            d, g = im.classes == j, im.gt_classes == j
            db, ds, gb = im.boxes[d], im.scores[d], im.gt_boxes[g]
            n_gt += len(gb)
            images_with += bool(len(gb))
            det_gt, _ = match(db, ds, gb)
            scores.append(ds)
            positive.append(det_gt >= 0)
            for t in AR_IOUS:
                recalls[t] += int((match(db, ds, gb, t)[1] >= 0).sum())
        s = np.concatenate(scores) if scores else np.zeros(0)
        pos = np.concatenate(positive) if positive else np.zeros(0, bool)
        thr, p, r, f = best_threshold(s, pos, n_gt)
        ap = voc_ap(s, pos, n_gt)
        ar = float(np.mean([recalls[t] / n_gt for t in AR_IOUS])) if n_gt else 0.0
        per_label.append(LabelScore(label, thr, p, r, f, images_with, ap, ar))
    return _aggregate(
        per_label,
        average_precision=float(np.mean([s.average_precision for s in per_label])) if per_label else 0.0,
        average_recall=float(np.mean([s.average_recall for s in per_label])) if per_label else 0.0,
    )  # fmt: skip
