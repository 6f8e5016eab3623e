"""Rekognition Video: seconds of analysis per second of 640x360 video, for each analysis.

    .venv/bin/python tests/bench/bench_video.py [--seconds 60] [--only FaceDetection ...]

Makes two 640x360 H.264 clips at 25 fps with PyAV (test extra), `--seconds` long:
- "crowd": the shared MOT20 clip (a dense crowd walking, 826x540) scaled to 640x360 and
  played forwards and backwards in turn until the length is reached;
- "faces": the shared group photos with faces (two or three people each), each panned
  slowly for 5 s in turn.
Without ../shared/testdata, scikit-image photos stand in (no crowd: fewer people).

Then one server (default settings, so the default sampling of each analysis) runs each
analysis alone on its clip, one after the other, and the job's own run time is read from
/_emulator/jobs/{id} (from the job's start to its result being stored: reading the video
from S3, decoding, analysing). Each line: analysis, clip, run seconds, seconds of analysis
per second of video, and whether it meets the goal.

Goals (issue 11, 2 cores): faces, labels and person tracking at least real time (<= 1.0 s of
analysis per second of video), segment detection at least 4x real time (<= 0.25). Prints
the load average before and after: the machine is shared, and the figures grow with it.
Not collected by pytest (tests/bench).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import skimage.data

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rekognition_emulator.conformance.videos import pyav_missing, write_clip  # noqa: E402
from rekognition_emulator.emulator.testing import EmulatorProcess, wait_for_job  # noqa: E402
from tests.conftest import make_client  # noqa: E402
from tests.video_clips import HEIGHT, WIDTH, fit, panning  # noqa: E402

FPS = 25
# analysis -> (clip, extra Start parameters, goal in seconds of analysis per video second)
ANALYSES = {
    "FaceDetection": ("faces", {}, 1.0),
    "LabelDetection": ("crowd", {}, 1.0),
    "PersonTracking": ("crowd", {}, 1.0),
    "SegmentDetection": ("crowd", {"SegmentTypes": ["TECHNICAL_CUE", "SHOT"]}, 0.25),
    "TextDetection": ("crowd", {}, None),
    "ContentModeration": ("crowd", {}, None),
    "FaceSearch": ("faces", {"CollectionId": "bench"}, None),
}


def testdata() -> Path | None:
    root = Path(os.environ.get("REKOGNITION_TESTDATA") or REPO.parent / "shared" / "testdata")
    return root if root.is_dir() else None


def crowd_frames(seconds: float) -> list[np.ndarray]:
    root = testdata()
    source: list[np.ndarray] = []
    if root is not None:
        capture = cv2.VideoCapture(str(root / "video/dlib__MOT20-05-raw_even_shorter.mp4"))
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            small = cv2.resize(bgr, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
            source.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        capture.release()
    if not source:
        source = panning(skimage.data.astronaut(), 125)
    frames: list[np.ndarray] = []
    forward = True
    while len(frames) < seconds * FPS:
        frames += source if forward else source[::-1]
        forward = not forward
    return frames[: int(seconds * FPS)]


def face_frames(seconds: float) -> list[np.ndarray]:
    root = testdata()
    photos = []
    if root is not None:
        for name in (
            "face_recognition__knn_test_obama_and_biden.jpg",
            "face_recognition__knn_test_kit_with_rose.jpg",
            "face_recognition__two_people.jpg",
            "dlib_pascal__2008_001322.jpg",
        ):
            bgr = cv2.imread(str(root / "faces/groups" / name))
            if bgr is not None:
                photos.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if not photos:
        photos = [skimage.data.astronaut()]
    frames: list[np.ndarray] = []
    k = 0
    while len(frames) < seconds * FPS:
        frames += panning(photos[k % len(photos)], 5 * FPS)
        k += 1
    return frames[: int(seconds * FPS)]


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--only", nargs="*", default=None, help="analyses to run")
    args = parser.parse_args()
    if pyav_missing():
        print(pyav_missing())
        return 1
    print(f"load average before: {load_average()} (1, 5, 15 min); {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        clips = {
            "crowd": write_clip(Path(tmp) / "crowd.mp4", crowd_frames(args.seconds), fps=FPS),
            "faces": write_clip(Path(tmp) / "faces.mp4", face_frames(args.seconds), fps=FPS),
        }
        server = EmulatorProcess(args=["--log-level", "warning"])
        server.start()
        try:
            s3 = make_client("s3", server.endpoint)
            rekognition = make_client("rekognition", server.endpoint, read_timeout=600)
            s3.create_bucket(Bucket="bench")
            for name, path in clips.items():
                s3.put_object(Bucket="bench", Key=f"{name}.mp4", Body=path.read_bytes())
            rekognition.create_collection(CollectionId="bench")
            first = face_frames(1)[0]
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(fit(first), cv2.COLOR_RGB2BGR))
            rekognition.index_faces(CollectionId="bench", Image={"Bytes": jpeg.tobytes()})
            print(
                f"{'analysis':<18} {'clip':<6} {'run s':>7} {'s per video s':>14} {'x real time':>12}  goal"
            )
            for name, (clip, extra, goal) in ANALYSES.items():
                if args.only and name not in args.only:
                    continue
                start = getattr(rekognition, f"start_{_snake(name)}")
                get = getattr(rekognition, f"get_{_snake(name)}")
                video = {"S3Object": {"Bucket": "bench", "Name": f"{clip}.mp4"}}
                job_id = start(Video=video, **extra)["JobId"]
                answer = wait_for_job(get, job_id, timeout=3600, interval=0.5, MaxResults=1)
                with urllib.request.urlopen(f"{server.endpoint}/_emulator/jobs/{job_id}") as r:
                    run = json.loads(r.read())["run_seconds"]
                per = run / args.seconds
                verdict = "-" if goal is None else ("met" if per <= goal else f"MISSED (<= {goal})")
                print(
                    f"{name:<18} {clip:<6} {run:7.1f} {per:14.3f} {1 / per:12.1f}  {verdict}"
                    + ("" if answer["JobStatus"] == "SUCCEEDED" else f"  {answer['JobStatus']}")
                )
        finally:
            server.cleanup()
    print(f"load average after: {load_average()}")
    return 0


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


if __name__ == "__main__":
    sys.exit(main())
