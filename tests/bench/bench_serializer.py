"""Cost of the shaped response serializer against a plain `json.dumps` of the same result.

    .venv/bin/python tests/bench/bench_serializer.py [--runs 2000]

In process, no server: each case's result is built once (the image cases run the real
per-frame analysis on a photo), then written `--runs` times by
`emulator.server.serializer.serialize_output` (walks the output shape: model order, drops
and reports unknown members) and by `json.dumps(result, separators=(",", ":"))` (what the
emulator did before, with hand-ordered dicts). Prints the median microseconds of each and
the difference. Cases: ListCollections (empty, and 1,000 ids), DetectFaces ALL of a group
photo with 7 faces (../shared/testdata; scikit-image's astronaut when absent) and DetectText
of a text page. Not collected by pytest (tests/bench).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import skimage.data

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rekognition_emulator.emulator.server.serializer import serialize_output  # noqa: E402
from rekognition_emulator.handlers.analysis import faces, text  # noqa: E402
from tests.conftest import testdata_dir  # noqa: E402


def photo(relative: str):
    root = testdata_dir()
    if root is None or not (root / relative).exists():
        return None
    bgr = cv2.imread(str(root / relative), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def cases() -> list[tuple[str, str, dict]]:
    out = [
        (
            "ListCollections, empty",
            "ListCollections",
            {"CollectionIds": [], "FaceModelVersions": []},
        ),
        (
            "ListCollections, 1,000 ids",
            "ListCollections",
            {"CollectionIds": [f"c{i}" for i in range(1000)], "FaceModelVersions": ["7.0"] * 1000},
        ),
    ]
    group = photo("faces/groups/dlib_pascal__2008_007676.jpg")
    name = "DetectFaces ALL, 7-face group photo"
    if group is None:
        group, name = skimage.data.astronaut(), "DetectFaces ALL, astronaut (no testdata)"
    details = faces.detect_faces(group, attributes=faces.ALL_ATTRIBUTES)
    out.append((f"{name} ({len(details)} faces)", "DetectFaces", {"FaceDetails": details}))
    page = skimage.data.page()
    detections = text.detect_text(cv2.cvtColor(page, cv2.COLOR_GRAY2RGB))
    out.append(
        (
            f"DetectText, scikit-image page ({len(detections)} detections)",
            "DetectText",
            {"TextDetections": detections, "TextModelVersion": "3.0"},
        )
    )
    return out


def median_us(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'case':<55} {'bytes':>7} {'json.dumps us':>14} {'serializer us':>14} {'+us':>8}")
    for name, operation, result in cases():
        body = serialize_output(operation, result)
        plain = median_us(lambda r=result: json.dumps(r, separators=(",", ":")).encode(), args.runs)
        shaped = median_us(lambda o=operation, r=result: serialize_output(o, r), args.runs)
        print(f"{name:<55} {len(body):>7} {plain:>14.1f} {shaped:>14.1f} {shaped - plain:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
