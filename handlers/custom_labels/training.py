"""CreateProjectVersion's work, from dataset entries to a trained model and its output files.

`train(...)` is given the training and testing entries (or none for testing: 20 % of the
training entries are split off), a function that reads an image's bytes by bucket and key,
and where the outputs go. It checks the manifests as the service does (the terminal errors
of the manifest summary end the training with that code's message), decodes every image
(a line whose image cannot be used gets ERROR_INVALID_IMAGE and is left out), trains the
classifier or detector for the use case most lines have, evaluates it on the test entries,
and returns the model with the files to write. It writes nothing itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from rekognition_emulator.handlers.custom_labels import datasets, evaluation
from rekognition_emulator.handlers.custom_labels.manifest import (
    IMAGE_LEVEL,
    NOT_DETERMINED,
    Line,
    problem,
    select_use_case,
)
from rekognition_emulator.models.custom import training
from rekognition_emulator.models.custom.features import FeatureExtractor
from rekognition_emulator.models.custom.model import TrainedModel

MIN_SIDE, MAX_SIDE = 64, 4096
MAX_ASPECT = 20.0
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MIN_LABEL_OVERLAP = 0.5

TERMINAL = {
    "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST": "The manifest file contains too many invalid rows.",
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS": "The manifest file contains images from multiple S3 buckets.",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT": "The manifest file contains insufficient labeled images per label to perform auto-split.",
    "ERROR_MANIFEST_TOO_FEW_LABELS": "The manifest file has too few labels.",
    "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS": "The manifest file has too few usable labels.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_INSUFFICIENT_LABEL_OVERLAP": "Less than {}% label overlap between the training and testing manifest files.",
    "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP": "Less than {}% usable label overlap between the training and testing manifest files.",
    # (unconfirmed wording for the three below: the guide names the codes only)
    "ERROR_FAILED_IMAGES_S3_COPY": "The images referenced by the manifest could not be read from S3.",
    "ERROR_EMPTY_MANIFEST": "The manifest file is empty.",
    "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET": "The output S3 bucket cannot be written to.",
}  # fmt: skip


class TrainingFailed(Exception):
    """Training cannot succeed: `code` is the manifest summary's terminal error."""

    def __init__(self, code: str, detail: str = "", *args: object) -> None:
        self.code = code
        self.text = TERMINAL[code].format(*args)
        super().__init__(f"{self.text} {detail}".strip())

    def entry(self) -> dict[str, str]:
        return {"code": self.code, "message": self.text}


ReadImage = Callable[[str, str], bytes]  # (bucket, key) -> bytes; raises on failure


@dataclass
class Outcome:
    """What a training produced: the model (None when it failed), the message for
    DescribeProjectVersions, and the output files (S3 key -> bytes)."""

    model: TrainedModel | None
    status_message: str
    files: dict[str, bytes] = field(default_factory=dict)
    use_case: str = NOT_DETERMINED
    f1: float | None = None
    keys: dict[str, str] = field(default_factory=dict)  # file kind -> S3 key
    seconds: float = 0.0
    auto_split: bool = False


def decode_image(data: bytes) -> np.ndarray | None:
    """RGB pixels of a PNG/JPEG within the service's limits, else None."""
    if len(data) > MAX_IMAGE_BYTES or not (data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"):  # fmt: skip
        return None
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _image_problem(rgb: np.ndarray | None) -> str | None:
    if rgb is None:
        return "ERROR_INVALID_IMAGE"
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_SIDE or max(h, w) / min(h, w) > MAX_ASPECT:
        return "ERROR_INVALID_IMAGE_DIMENSION"
    return None


def _usable(lines: Sequence[Line], use_case: str) -> list[Line]:
    if use_case == IMAGE_LEVEL:
        return [line for line in lines if line.image_labels]
    return [line for line in lines if line.boxes]


def check(
    train_lines: Sequence[Line], test_lines: Sequence[Line] | None
) -> tuple[str, list[Line], list[Line]]:
    """The manifest checks before any image is read: (use case, train, test) with the test
    entries split off when none were given. Raises TrainingFailed."""
    if not train_lines:
        raise TrainingFailed("ERROR_EMPTY_MANIFEST", "(the training dataset has no entries)")
    if test_lines is not None and not test_lines:
        raise TrainingFailed("ERROR_EMPTY_MANIFEST", "(the testing dataset has no entries)")
    everything = list(train_lines) + list(test_lines or [])
    buckets = {line.bucket for line in everything}
    if len(buckets) > 1:
        raise TrainingFailed("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS", f"({', '.join(sorted(b or '' for b in buckets))})")  # fmt: skip
    for side in (train_lines, test_lines or []):
        invalid = sum(1 for line in side if line.has_errors and not line.labeled)
        if side and invalid > datasets.MAX_ERROR_SHARE * len(side):
            raise TrainingFailed("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", f"({invalid} of {len(side)} lines)")  # fmt: skip
    use_case = select_use_case(everything)
    if use_case == NOT_DETERMINED:
        raise TrainingFailed("ERROR_MANIFEST_TOO_FEW_LABELS", "(no entry is labelled)")
    train = _usable(train_lines, use_case)
    if test_lines is None:
        parts = datasets.split(train, use_case=use_case)
        if parts is None:
            raise TrainingFailed("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT")
        train, test = parts
    else:
        test = _usable(test_lines, use_case)
    labels = datasets.labels_of(train, use_case)
    mixed = any(line.use_cases() - {use_case} for line in everything)
    minimum = 2 if use_case == IMAGE_LEVEL else 1
    if len(labels) < minimum:
        code = "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS" if mixed else "ERROR_MANIFEST_TOO_FEW_LABELS"
        raise TrainingFailed(code, f"({len(labels)} label(s); at least {minimum} needed)")
    if len(labels) > datasets.MAX_LABELS:
        raise TrainingFailed("ERROR_MANIFEST_TOO_MANY_LABELS")
    test_labels = set(datasets.labels_of(test, use_case))
    if not test or len(test_labels & set(labels)) < MIN_LABEL_OVERLAP * len(test_labels):
        code = "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP" if mixed else "ERROR_INSUFFICIENT_LABEL_OVERLAP"  # fmt: skip
        raise TrainingFailed(code, "", int(MIN_LABEL_OVERLAP * 100))
    return use_case, train, test


def load_images(lines: Sequence[Line], read: ReadImage) -> tuple[list[Line], list[np.ndarray]]:
    """The lines whose image can be used, with the pixels; the others get their error."""
    kept, pixels = [], []
    for line in lines:
        try:
            rgb = decode_image(read(line.bucket or "", line.key or ""))
        except Exception:  # unreadable object: the line's error says so, training goes on
            rgb = None
        code = _image_problem(rgb)
        if code:
            line.json.setdefault("errors", []).append(problem(code))
            continue
        assert rgb is not None
        kept.append(line)
        pixels.append(rgb)
    return kept, pixels


def failed_outcome(
    failed: TrainingFailed,
    train_lines: Sequence[Line],
    test_lines: Sequence[Line] | None,
    target: evaluation.Target,
    start: float,
) -> Outcome:
    """A training that ended in a terminal error: no model, its message, and the manifest
    summary that names the error (the one file AWS writes then)."""
    summary = evaluation.manifest_summary(
        evaluation.SideCounts(NOT_DETERMINED, train_lines, [failed.entry()]),
        evaluation.SideCounts(NOT_DETERMINED, test_lines or [], []),
        [failed.entry()],
    )
    key = target.key(evaluation.MANIFEST_SUMMARY)
    return Outcome(
        None,
        str(failed),
        {key: write_json(summary)},
        keys={evaluation.MANIFEST_SUMMARY: key},
        seconds=time.time() - start,
        auto_split=test_lines is None,
    )


def _boxed(line: Line, rgb: np.ndarray) -> training.BoxedImage:
    # Boxes are in the pixels of the size the manifest states: scale them to the image's.
    sx = sy = 1.0
    if line.image_size and line.image_size[0] > 0 and line.image_size[1] > 0:
        sx, sy = rgb.shape[1] / line.image_size[0], rgb.shape[0] / line.image_size[1]
    return training.BoxedImage(
        rgb,
        [
            (b.left * sx, b.top * sy, (b.left + b.width) * sx, (b.top + b.height) * sy)
            for b in line.boxes
        ],  # fmt: skip
        [b.label for b in line.boxes],
    )


def train(
    extractor: FeatureExtractor,
    train_lines: Sequence[Line],
    test_lines: Sequence[Line] | None,
    read: ReadImage,
    target: evaluation.Target,
    progress: training.Progress | None = None,
) -> Outcome:
    """Train and evaluate (see the module docstring). Never raises for bad data: a training
    that cannot succeed returns an Outcome without a model, its message saying why."""
    start = time.time()
    auto = test_lines is None

    try:
        use_case, train_set, test_set = check(train_lines, test_lines)
    except TrainingFailed as failed:
        return failed_outcome(failed, train_lines, test_lines, target, start)  # fmt: skip

    train_set, train_px = load_images(train_set, read)
    test_set, test_px = load_images(test_set, read)
    labels = datasets.labels_of(train_set, use_case)
    if not train_set or not test_set:
        failed = TrainingFailed("ERROR_FAILED_IMAGES_S3_COPY", "(no usable image in the " + ("training" if not train_set else "testing") + " dataset)")  # fmt: skip
        return failed_outcome(failed, train_lines, test_lines, target, start)  # fmt: skip
    quiet = progress or (lambda _: None)
    if use_case == IMAGE_LEVEL:
        result = training.train_classifier(
            extractor,
            [
                training.LabelledImage(px, set(ln.image_labels))
                for ln, px in zip(train_set, train_px, strict=True)
            ],  # fmt: skip
            [
                training.LabelledImage(px, set(ln.image_labels))
                for ln, px in zip(test_set, test_px, strict=True)
            ],  # fmt: skip
            labels,
            quiet,
        )
    else:
        result = training.train_detector(
            extractor,
            [_boxed(ln, px) for ln, px in zip(train_set, train_px, strict=True)],
            [_boxed(ln, px) for ln, px in zip(test_set, test_px, strict=True)],
            labels,
            quiet,
        )
    finished = time.time()
    created = evaluation.timestamp(finished)
    model = result.model
    if use_case == IMAGE_LEVEL:
        assert result.test_scores is not None
        snapshot = evaluation.classification_snapshot(test_set, labels, result.test_scores, model.thresholds, created)  # fmt: skip
        confusion = None
        if not (model.probe and model.probe.multi_label):
            confusion = evaluation.confusion_matrix(labels, [set(ln.image_labels) for ln in test_set], result.test_scores)  # fmt: skip
    else:
        assert result.test_detections is not None
        snapshot = evaluation.detection_snapshot(test_set, labels, result.test_detections, model.thresholds, created)  # fmt: skip
        confusion = None
    summary = evaluation.summary(
        result.evaluation,
        use_case=use_case,
        version_arn=target.version_arn,
        n_train=len(train_set),
        n_test=len(test_set),
        finished_at=finished,
        confusion=confusion,
    )
    manifest_summary = evaluation.manifest_summary(
        evaluation.SideCounts(use_case, train_lines, []),
        evaluation.SideCounts(use_case, test_lines if test_lines is not None else test_set, []),
        [],
    )
    contents = {
        evaluation.SUMMARY: write_json(summary),
        evaluation.MANIFEST_SUMMARY: write_json(manifest_summary),
        evaluation.TRAINING_GT: evaluation.jsonl([ln.json for ln in train_set]),
        evaluation.TESTING_GT: evaluation.jsonl(snapshot),
        evaluation.TRAINING_VALIDATION: evaluation.jsonl([ln.json for ln in train_lines]),
        evaluation.TESTING_VALIDATION: evaluation.jsonl(
            [ln.json for ln in (test_lines if test_lines is not None else test_set)]
        ),  # fmt: skip
    }
    return trained_outcome(
        model, "The model is ready to run.", contents, use_case, result.evaluation.f1, target, finished - start, auto
    )  # fmt: skip


def trained_outcome(
    model: TrainedModel,
    message: str,
    contents: dict[str, bytes],
    use_case: str,
    f1: float,
    target: evaluation.Target,
    seconds: float,
    auto_split: bool,
) -> Outcome:
    """A training that succeeded: its files (by kind) placed under the output prefix."""
    keys = {kind: target.key(kind) for kind in contents}
    files = {keys[k]: v for k, v in contents.items()}
    return Outcome(model, message, files, use_case, f1, keys, seconds, auto_split)


def write_json(obj: dict) -> bytes:
    return json.dumps(obj, indent=2).encode()
