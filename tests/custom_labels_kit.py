"""What the Custom Labels tests share: Ground Truth manifest lines as a user writes them,
the shared photos they label, and waits on dataset statuses.

A user's pipeline puts photos in S3, writes a manifest that names them, and points
CreateDataset or CreateProjectVersion at it; these helpers do the same against the
emulator's S3, with the shared test photos (../shared/testdata).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tests.bench.bench_custom_labels import manifest_rows


def s3_ref(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def classification_line(source_ref: str, *labels: str, attr: str = "label") -> dict[str, Any]:
    """An image-level line; several labels make a multi-label line (one attribute each)."""
    line: dict[str, Any] = {"source-ref": source_ref}
    for n, label in enumerate(labels):
        name = attr if n == 0 else f"{attr}-{n}"
        line[name] = 1
        line[f"{name}-metadata"] = {
            "confidence": 1,
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": "2024-05-01T12:00:00.000",
            "type": "groundtruth/image-classification",
        }
    return line


def detection_line(
    source_ref: str,
    size: tuple[int, int],
    boxes: Sequence[tuple[str, float, float, float, float]],
    *,
    attr: str = "bounding-box",
    class_map: dict[str, str] | None = None,
    objects: list[dict] | None = None,
) -> dict[str, Any]:
    """An object-detection line; boxes are (label, left, top, width, height) in pixels. The
    class map numbers the labels in sorted order unless given (a label it lacks gets id 99)."""
    names = sorted({b[0] for b in boxes})
    return {
        "source-ref": source_ref,
        attr: {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {
                    "class_id": names.index(b[0]) if b[0] in names else 99,
                    "left": b[1],
                    "top": b[2],
                    "width": b[3],
                    "height": b[4],
                }  # fmt: skip
                for b in boxes
            ],
        },
        f"{attr}-metadata": {
            "objects": objects if objects is not None else [{"confidence": 1} for _ in boxes],
            "class-map": class_map
            if class_map is not None
            else {str(i): n for i, n in enumerate(names)},  # fmt: skip
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2024-05-01T12:00:00.000",
            "job-name": "labeling-job/faces",
        },
    }


def manifest(lines: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def put_manifest(s3, bucket: str, key: str, lines: Iterable[dict[str, Any]]) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key=key, Body=manifest(lines))
    return {"S3Object": {"Bucket": bucket, "Name": key}}


def upload(s3, bucket: str, paths: Iterable[Path], root: Path) -> list[str]:
    """Put the photos in the bucket under their path in the test data; their keys."""
    keys = []
    for path in paths:
        key = str(path.relative_to(root))
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys


def johns(root: Path) -> dict[str, list[Path]]:
    """Five people, 11 distinct photos each (faces/identities/John_*)."""
    people = sorted(p for p in (root / "faces" / "identities").glob("John_*") if p.is_dir())
    return {p.name: sorted(p.iterdir()) for p in people}


def voc_faces(root: Path) -> tuple[list[tuple[Path, tuple[int, int], list]], list[tuple[Path, tuple[int, int], list]]]:  # fmt: skip
    """The annotated group photos: (path, (width, height), [(x, y, w, h) ...]), split as dlib's
    own training.xml / testing.xml."""
    train, test = [], []
    for rel, facts in manifest_rows(root):
        if "boxes_xywh_px" not in facts:
            continue
        boxes = [tuple(float(v) for v in b.split(",")) for b in facts["boxes_xywh_px"].split("|")]
        width, height = (int(v) for v in facts["px"].split("x"))
        item = (root / rel, (width, height), boxes)
        (train if "training.xml" in facts.get("annotation", "") else test).append(item)
    return train, test


def wait_dataset(rek, arn: str, seconds: float = 60) -> dict[str, Any]:
    """The dataset's description once its status is no longer *_IN_PROGRESS."""
    deadline = time.monotonic() + seconds
    while True:
        description = rek.describe_dataset(DatasetArn=arn)["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            return description
        assert time.monotonic() < deadline, f"dataset {arn} still {description['Status']}"
        time.sleep(0.05)


def box_xyxy(label: dict[str, Any], width: int, height: int) -> np.ndarray:
    b = label["Geometry"]["BoundingBox"]
    return np.array([b["Left"] * width, b["Top"] * height, (b["Left"] + b["Width"]) * width, (b["Top"] + b["Height"]) * height])  # fmt: skip
