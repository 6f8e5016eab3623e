"""The person tracker measured: which of its parts earn their place (figures in the README).

    .venv/bin/python scripts/measure_tracking.py [--interval 200]

Runs handlers/video/people.py on two clips, for four variants of models/tracking.py:
- "IoU": a box joins the track whose last box it overlaps most (no motion model, sure boxes
  only, no appearance);
- "+ Kalman": the track's box predicted at the frame's time (constant velocity);
- "+ unsure boxes": ByteTrack's second round with boxes the detector is less sure of;
- "+ appearance" (the tracker as served): colour histograms break ties.
Clips: the two-people crossing of tests/video_clips.py (ground truth: how many Indexes each
person got; 1 each is right), and the shared MOT20 crowd at 640x360 (no ground truth here:
how many people are followed through 80 % of the clip, and how many tracked people a frame
holds; more is better for both, and the crowd is denser than either figure).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rekognition_emulator.emulator.media.video import open_video  # noqa: E402
from rekognition_emulator.handlers.video.people import HIGH, People  # noqa: E402
from tests.groundtruth import testdata_dir  # noqa: E402
from tests.video_clips import crossing_clip, identities, mot_clip  # noqa: E402

VARIANTS = {
    "IoU": {"motion": False, "low": HIGH, "appearance_weight": 0.0},
    "+ Kalman": {"low": HIGH, "appearance_weight": 0.0},
    "+ unsure boxes": {"appearance_weight": 0.0},
    "+ appearance": {},
}


def track(
    path: Path, interval: float, settings: dict, size: tuple[int, int] | None = None
) -> People:
    people = People()
    for key, value in settings.items():
        setattr(people.tracker, key, value)
    with open_video(path) as video:
        for frame in video.sample(interval):
            if size is not None:
                frame._rgb = cv2.resize(frame.rgb, size, interpolation=cv2.INTER_AREA)
            people.frame(frame)
    return people


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=200.0)
    args = parser.parse_args()
    testdata = testdata_dir()
    if testdata is None:
        print("../shared/testdata is absent: nothing to measure")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        crossing = crossing_clip(Path(tmp), testdata)
        print(f"sampling every {args.interval:g} ms")
        print(
            f"{'variant':<16} {'crossing: Indexes of each person':>34} {'crowd: followed 80 %':>22} {'per frame':>10}"
        )
        for name, settings in VARIANTS.items():
            people = track(crossing.path, args.interval, settings)
            got = identities(
                crossing,
                [
                    (s.timestamp, index, s.box)
                    for index, s in people.sightings()
                    if s.box is not None
                ],
            )
            crowd = track(mot_clip(testdata), args.interval, settings, (640, 360))
            counts = collections.Counter(index for index, _ in crowd.sightings())
            frames = len({s.timestamp for _, s in crowd.sightings()})
            lasting = sum(1 for c in counts.values() if c >= 0.8 * frames)
            print(
                f"{name:<16} {f'woman {len(got[0])}, astronaut {len(got[1])}':>34} "
                f"{lasting:>22} {sum(counts.values()) / max(1, frames):>10.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
