"""Latency of DetectFaces (DEFAULT, ALL) and CompareFaces through boto3 against a live server.

    .venv/bin/python tests/bench/bench_faces.py [--runs 30]

Prints p50 / p95 per case in milliseconds, plus the cold start: the first DetectFaces ALL
after the server starts (model loading included). Cases: a 640x480 photo with one face
(scikit-image's astronaut, scaled) and, when ../shared/testdata is present, a group photo
with 7 faces. Goals on a 2-core machine: DetectFaces DEFAULT <= 40 ms, ALL <= 80 ms,
CompareFaces <= 100 ms p50 on the 640x480 photo. Not collected by pytest (tests/bench).
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

from _timing import latency_bench, once_ms, timed  # noqa: E402


def jpeg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]
    )
    assert ok
    return buf.tobytes()


def one_face_640x480() -> bytes:
    img = cv2.resize(skimage.data.astronaut(), (640, 640), interpolation=cv2.INTER_AREA)
    return jpeg(np.ascontiguousarray(img[:480]))  # the face is in the upper part


def group_photo() -> bytes | None:
    root = Path(os.environ.get("REKOGNITION_TESTDATA") or REPO.parent / "shared" / "testdata")
    path = root / "faces" / "groups" / "dlib_pascal__2008_007676.jpg"
    return path.read_bytes() if path.exists() else None


def main() -> None:
    with latency_bench(30) as (_server, client, runs):
        single = one_face_640x480()
        cold = once_ms(lambda: client.detect_faces(Image={"Bytes": single}, Attributes=["ALL"]))
        print(f"cold start (first DetectFaces ALL after start): {cold:.0f} ms")

        cases = [("640x480, 1 face", single)]
        group = group_photo()
        if group is not None:
            cases.append(("500x334 group, 7 faces", group))
        print(f"{'case':28s} {'operation':24s} {'p50 ms':>8s} {'p95 ms':>8s}")
        for label, data in cases:
            image = {"Bytes": data}
            rows = [
                ("DetectFaces DEFAULT", lambda image=image: client.detect_faces(Image=image)),
                (
                    "DetectFaces ALL",
                    lambda image=image: client.detect_faces(Image=image, Attributes=["ALL"]),
                ),
                (
                    "CompareFaces",
                    lambda image=image: client.compare_faces(
                        SourceImage={"Bytes": single}, TargetImage=image
                    ),
                ),
            ]
            for name, fn in rows:
                p50, p95 = timed(fn, runs)
                print(f"{label:28s} {name:24s} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
