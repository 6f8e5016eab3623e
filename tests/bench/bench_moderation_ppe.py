"""Latency of DetectModerationLabels and DetectProtectiveEquipment through boto3, live server.

    .venv/bin/python tests/bench/bench_moderation_ppe.py [--runs 30]

Prints the cold starts (first call after the server starts, model loading included), then
p50 / p95 in milliseconds for:
- DetectModerationLabels on a 640x480 photo without people (COCO8 000000000009, else
  scikit-image's coffee) and on one with people (the 3-person group below): with people the
  hand models run too (beside the onnxruntime models, on OpenCV's single thread);
- DetectProtectiveEquipment on a 640x480 photo of 3 people (the shared group photo
  dlib_pascal__2008_001322 scaled to 640x480, else three crops of scikit-image's astronaut
  side by side), with and without SummarizationAttributes.
Goals (issues 12 and 13, 2-core machine): DetectModerationLabels p50 <= 40 ms,
DetectProtectiveEquipment p50 <= 150 ms. The load average is printed: on a shared 2-core
machine the figures grow when others run their suites.
Not collected by pytest (tests/bench).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import skimage.data

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from _timing import latency_bench, load_average, once_ms, timed  # noqa: E402


def encode(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def testdata() -> Path | None:
    root = Path(os.environ.get("REKOGNITION_TESTDATA") or REPO.parent / "shared" / "testdata")
    return root if root.is_dir() else None


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def photo_without_people() -> tuple[str, bytes]:
    root = testdata()
    if root and (root / "objects/coco8/000000000009.jpg").exists():
        return "COCO8 000000000009 640x480", (root / "objects/coco8/000000000009.jpg").read_bytes()
    img = cv2.resize(skimage.data.coffee(), (640, 480), interpolation=cv2.INTER_AREA)
    return "skimage coffee 640x480", encode(img)


def photo_with_three_people() -> tuple[str, bytes]:
    root = testdata()
    group = root / "faces/groups/dlib_pascal__2008_001322.jpg" if root else None
    if group is not None and group.exists():
        img = cv2.resize(_read(group), (640, 480), interpolation=cv2.INTER_LINEAR)
        return "group of 3 (dlib_pascal__2008_001322) 640x480", encode(img)
    astronaut = skimage.data.astronaut()
    strips = [astronaut[:, x : x + 213] for x in (120, 150, 180)]
    img = cv2.resize(np.hstack(strips), (640, 480), interpolation=cv2.INTER_AREA)
    return "three astronaut crops 640x480", encode(img)


def main() -> None:
    with latency_bench(30, read_timeout=120) as (_server, client, runs):
        plain_name, plain = photo_without_people()
        people_name, people = photo_with_three_people()
        summary = {"MinConfidence": 80, "RequiredEquipmentTypes": ["FACE_COVER", "HEAD_COVER"]}
        cases = [
            (
                f"DetectModerationLabels, {plain_name}",
                lambda: client.detect_moderation_labels(Image={"Bytes": plain}),
            ),
            (
                f"DetectModerationLabels, {people_name}",
                lambda: client.detect_moderation_labels(Image={"Bytes": people}),
            ),
            (
                f"DetectProtectiveEquipment, {people_name}",
                lambda: client.detect_protective_equipment(Image={"Bytes": people}),
            ),
            (
                f"DetectProtectiveEquipment + Summary, {people_name}",
                lambda: client.detect_protective_equipment(
                    Image={"Bytes": people}, SummarizationAttributes=summary
                ),
            ),
        ]
        for name, call in cases[::2]:
            print(f"cold start {name.split(',')[0]}: {once_ms(call):.0f} ms")
        for name, call in cases:
            p50, p95 = timed(call, runs)
            print(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({runs} runs)")
        persons = client.detect_protective_equipment(Image={"Bytes": people})["Persons"]
        print(f"persons found in the 3-person photo: {len(persons)}")
        print(f"load average: {load_average()}")


if __name__ == "__main__":
    main()
