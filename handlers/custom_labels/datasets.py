"""A dataset's entries: statistics, label counts, filters, updates and the 80/20 split.

Entries are `manifest.Line`s (a JSON line with what it labels). These functions are pure:
the caller keeps the entries (the store) and decides the statuses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rekognition_emulator.handlers.custom_labels.manifest import Line, Manifest

MAX_LINES = 250_000
MAX_MANIFEST_BYTES = 1 << 30
MAX_LABELS = 250
MAX_ERROR_SHARE = 0.2  # more than 20 % of the lines in error fails the manifest
TEST_SHARE = 0.2
SPLIT_SEED = "rekognition-emulator-split-1"

# Dataset terminal errors: status message for each code (Custom Labels developer guide).
TERMINAL = {
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT": "The manifest file extension or contents are invalid.",
    "ERROR_MANIFEST_SIZE_TOO_LARGE": "The manifest file size exceeds the maximum supported size.",
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM": "The manifest file has too many rows.",
    "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET": "The S3 bucket permissions are incorrect.",
    "ERROR_TOO_MANY_RECORDS_IN_ERROR": "The manifest file has too many terminal errors.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE": "The manifest file doesn't have enough labeled images to distribute the dataset.",
}  # fmt: skip


@dataclass(frozen=True)
class Failure:
    code: str
    detail: str = ""

    @property
    def message(self) -> str:
        text = TERMINAL[self.code]
        return f"{text} {self.detail}".strip()


def labels_of(lines: Iterable[Line], use_case: str | None = None) -> list[str]:
    """Every label the entries use (for `use_case`'s model), in first-seen order."""
    return list(dict.fromkeys(label for line in lines for label in line.labels_for(use_case)))


def stats(lines: Sequence[Line]) -> dict[str, int]:
    """DatasetStats as DescribeDataset answers it."""
    return {
        "LabeledEntries": sum(1 for line in lines if line.labeled),
        "TotalEntries": len(lines),
        "TotalLabels": len(labels_of(lines)),
        "ErrorEntries": sum(1 for line in lines if line.has_errors),
    }


def label_stats(lines: Sequence[Line]) -> list[dict]:
    """ListDatasetLabels' entries, by label name: images with the label, and images with
    the label on a bounding box."""
    entries: dict[str, list[int]] = {}
    for line in lines:
        boxed = {b.label for b in line.boxes}
        for label in line.labels:
            counts = entries.setdefault(label, [0, 0])
            counts[0] += 1
            counts[1] += label in boxed
    return [
        {"LabelName": name, "LabelStats": {"EntryCount": c[0], "BoundingBoxCount": c[1]}}
        for name, c in sorted(entries.items())
    ]


def matches(
    line: Line,
    contains_labels: Sequence[str] | None = None,
    labeled: bool | None = None,
    source_ref_contains: str | None = None,
    has_errors: bool | None = None,
) -> bool:
    """ListDatasetEntries' filters, all of them at once (any of ContainsLabels)."""
    if contains_labels and not set(contains_labels) & set(line.labels):
        return False
    if labeled is not None and line.labeled != labeled:
        return False
    if source_ref_contains and source_ref_contains not in (line.source_ref or ""):
        return False
    return has_errors is None or line.has_errors == has_errors


def merge(existing: Sequence[Line], changes: Sequence[Line]) -> list[Line]:
    """UpdateDatasetEntries: a change with an existing source-ref replaces that entry (in
    place), any other is added at the end."""
    out = list(existing)
    where = {line.source_ref: i for i, line in enumerate(out)}
    for line in changes:
        if line.source_ref in where:
            out[where[line.source_ref]] = line
        else:
            where[line.source_ref] = len(out)
            out.append(line)
    return out


def check_manifest(manifest: Manifest, size: int) -> Failure | None:
    """The dataset-level checks of a manifest read for CreateDataset or an update."""
    if size > MAX_MANIFEST_BYTES:
        return Failure("ERROR_MANIFEST_SIZE_TOO_LARGE")
    if manifest.total_lines > MAX_LINES:
        return Failure("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", f"({manifest.total_lines} lines, at most {MAX_LINES})")  # fmt: skip
    dropped = manifest.dropped
    if manifest.total_lines and len(dropped) > MAX_ERROR_SHARE * manifest.total_lines:
        first = dropped[0]
        return Failure(
            "ERROR_TOO_MANY_RECORDS_IN_ERROR",
            f"({len(dropped)} of {manifest.total_lines} lines are unusable; line "
            f"{first.index + 1}: {first.dropped})",
        )
    n_labels = len(labels_of(manifest.kept))
    if n_labels > MAX_LABELS:
        return Failure("ERROR_MANIFEST_TOO_MANY_LABELS", f"({n_labels} labels, at most {MAX_LABELS})")  # fmt: skip
    return None


def _order_key(line: Line) -> str:
    # A fixed pseudo-random order: the same entries always split the same way.
    return hashlib.sha256(f"{SPLIT_SEED}:{line.source_ref}".encode()).hexdigest()


def split(
    lines: Sequence[Line], share: float = TEST_SHARE, use_case: str | None = None
) -> tuple[list[Line], list[Line]] | None:
    """Move `share` of the entries to a test set, stratified by label: each label with at
    least two images gets about `share` of them in the test set, and every label keeps at
    least one image in training. None when there are too few labelled images to split."""
    labelled = [line for line in lines if line.labeled]
    if len(labelled) < 2:
        return None
    counts: dict[str, int] = {}
    for line in labelled:
        for label in line.labels_for(use_case):
            counts[label] = counts.get(label, 0) + 1
    quota = {label: int(round(n * share)) if n >= 2 else 0 for label, n in counts.items()}
    for label, n in counts.items():
        if n >= 2 and quota[label] == 0:
            quota[label] = 1  # a label in the test set can be evaluated
    target = max(1, int(round(len(lines) * share)))
    in_test: set[int] = set()
    taken = dict.fromkeys(counts, 0)
    # Rarest labels first, so their few images are placed before common labels fill up.
    order = sorted(
        range(len(lines)),
        key=lambda i: (
            min((counts[lb] for lb in lines[i].labels_for(use_case)), default=1 << 30),
            _order_key(lines[i]),
        ),  # fmt: skip
    )
    for i in order:
        line = lines[i]
        if not line.labeled or len(in_test) >= target:
            continue
        if all(taken[lb] < quota[lb] for lb in line.labels_for(use_case)):
            in_test.add(i)
            for lb in line.labels_for(use_case):
                taken[lb] += 1
    for i in order:  # unlabelled entries go along in the same share
        if len(in_test) >= target:
            break
        if not lines[i].labeled and i not in in_test:
            in_test.add(i)
    if not in_test:
        return None
    train = [line for i, line in enumerate(lines) if i not in in_test]
    test = [line for i, line in enumerate(lines) if i in in_test]
    return train, test
