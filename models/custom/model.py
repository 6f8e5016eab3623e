"""A trained custom model as one object and one file.

`TrainedModel` holds either an image classifier (`Probe`) or a detector (`DetectorHead`),
its labels and the per-label thresholds chosen on the test images, and answers `predict`.

The file is a numpy .npz archive (no pickled objects: `allow_pickle=False` both ways) whose
`meta.json` member records the format version, the kind, the labels, the thresholds and the
names of the array members; every array of the model is a member of its own. It is written
atomically: to a temporary file in the same folder, flushed to disk, then renamed over the
target, so a reader (or a crash) sees the old file or the new one, never half of one. A file
of a newer format than this code reads is refused with a message that says so.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from rekognition_emulator.models.custom.adapter import Adapter
from rekognition_emulator.models.custom.classifier import Probe
from rekognition_emulator.models.custom.detector import DetectorHead, Pca
from rekognition_emulator.models.custom.features import FeatureExtractor

FORMAT_VERSION = 1
CLASSIFICATION = "classification"
DETECTION = "detection"
ADAPTER = "adapter"  # re-scores a base moderation model (see models.custom.adapter)


class ModelFileError(Exception):
    """The file is not a model this code can load (missing, damaged, or a newer format)."""


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # 0..1
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in image px


@dataclass(frozen=True)
class TrainedModel:
    kind: str  # CLASSIFICATION, DETECTION or ADAPTER
    labels: list[str]
    thresholds: dict[str, float]  # label -> 0..1, chosen on the test images
    probe: Probe | None = None
    head: DetectorHead | None = None
    info: dict[str, Any] = field(default_factory=dict)  # free-form facts about the training
    adapter: Adapter | None = None

    def predict(self, extractor: FeatureExtractor, rgb: np.ndarray) -> list[Prediction]:
        """Every label's score (classification) or every detection, best first, unfiltered."""
        if self.kind == ADAPTER:
            raise TypeError("an adapter re-scores a base model's output: use .adapter.rescore")
        if self.kind == CLASSIFICATION:
            assert self.probe is not None
            scores = self.probe.classify(extractor, rgb)
            out = [Prediction(name, float(s)) for name, s in zip(self.labels, scores, strict=True)]
        else:
            assert self.head is not None
            d = self.head.detect(extractor, rgb)
            out = [
                Prediction(self.labels[int(c)], float(s), tuple(float(v) for v in b))
                for b, s, c in zip(d.boxes, d.scores, d.classes, strict=True)
            ]
        out.sort(key=lambda p: -p.score)
        return out


def _arrays(prefix: str, obj: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Split a dataclass of arrays into npz members; returns the non-array fields."""
    plain: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}.{f.name}"] = value
        elif isinstance(value, Pca):
            arrays[f"{prefix}.{f.name}.mean"] = value.mean
            arrays[f"{prefix}.{f.name}.basis"] = value.basis
        else:
            plain[f.name] = value
    return plain


def to_bytes(model: TrainedModel) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    parts: dict[str, Any] = {}
    if model.probe is not None:
        parts["probe"] = _arrays("probe", model.probe, arrays)
    if model.head is not None:
        parts["head"] = _arrays("head", model.head, arrays)
    if model.adapter is not None:
        parts["adapter"] = _arrays("adapter", model.adapter, arrays)
    meta = {
        "format": FORMAT_VERSION,
        "kind": model.kind,
        "labels": model.labels,
        "thresholds": model.thresholds,
        "info": model.info,
        "parts": parts,
    }
    arrays["meta.json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def from_bytes(data: bytes) -> TrainedModel:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(arrays.pop("meta.json").tobytes())
    except Exception as exc:  # a truncated or foreign file: say so, do not crash the caller
        raise ModelFileError(f"not a custom model file: {exc}") from exc
    if not isinstance(meta.get("format"), int) or meta["format"] > FORMAT_VERSION:
        raise ModelFileError(
            f"model file format {meta.get('format')!r} is newer than this emulator reads "
            f"({FORMAT_VERSION}); upgrade rekognition-emulator"
        )
    parts = meta["parts"]
    probe = head = adapter = None
    try:
        if "probe" in parts:
            probe = Probe(
                **parts["probe"],
                **{k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("probe.")},
            )
        if "head" in parts:
            h = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("head.")}
            pcas = {
                name: Pca(h.pop(f"{name}.mean"), h.pop(f"{name}.basis"))
                for name in ("pca32", "pca16")
            }
            head = DetectorHead(**parts["head"], **pcas, **h)
        if "adapter" in parts:
            a = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("adapter.")}
            adapter = Adapter(**parts["adapter"], **a)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"model file is missing a part: {exc}") from exc
    return TrainedModel(
        meta["kind"],
        meta["labels"],
        meta["thresholds"],
        probe,
        head,
        meta.get("info", {}),
        adapter,
    )


def save(model: TrainedModel, path: Path) -> None:
    """Write `model` to `path` atomically (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_bytes(model)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def load(path: Path) -> TrainedModel:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc}") from exc
    return from_bytes(data)
