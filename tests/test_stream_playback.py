"""The parts of a stream processing session that need no server: how a mapped video plays as a
live stream (clock, fragments, start selectors, loops) and which detections a region of
interest keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rekognition_emulator.emulator.media.clip import ClipError, open_clip
from rekognition_emulator.handlers.streams.connected_home import inside, region_mask
from rekognition_emulator.handlers.streams.playback import FRAGMENT_MS, Playback
from tests.clips import write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """5 s at 10 fps; frame i is filled with grey level i so a test can tell frames apart."""
    frames = [np.full((64, 96, 3), i * 4, np.uint8) for i in range(50)]
    return write_video(frames, tmp_path_factory.mktemp("clip") / "grey.avi")


def play(clip: Path, mapping: dict, selector: dict | None = None, limit: int = 1000) -> list:
    playback = Playback(
        lambda: open_clip(clip),
        mapping,
        speed=0,
        analysis_fps=5,
        start_selector=selector,
        wait=lambda seconds: False,
        clock=lambda: 1_700_000_000.0,
    )
    out = []
    for frame in playback.frames():
        out.append(frame)
        if len(out) >= limit:
            break
    return out


def test_a_video_plays_as_a_stream_with_fragments_and_producer_times(clip):
    frames = play(clip, {"ProducerTimestamp": 1_000_000})
    assert [round(f.stream_ms) for f in frames[:4]] == [0, 200, 400, 600]
    assert len(frames) == 25  # 5 s analysed 5 times a second
    assert {f.producer_ms for f in frames} == {1_000_000, 1_002_000, 1_004_000}
    numbers = [int(f.fragment_number) for f in frames]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert all(0 <= f.fragment_offset_ms < FRAGMENT_MS for f in frames)
    # Without a ProducerTimestamp in the mapping the stream starts when the session reads it.
    assert play(clip, {})[0].producer_ms == 1_700_000_000_000


def test_start_selectors_skip_what_comes_before(clip):
    by_time = play(
        clip,
        {"ProducerTimestamp": 1_000_000},
        {"KVSStreamStartSelector": {"ProducerTimestamp": 1_003_000}},
    )
    assert round(by_time[0].stream_ms) == 3000 and by_time[0].session_ms == 0
    everything = play(clip, {"ProducerTimestamp": 1_000_000})
    third = everything[-1].fragment_number
    by_fragment = play(
        clip,
        {"ProducerTimestamp": 1_000_000},
        {"KVSStreamStartSelector": {"FragmentNumber": third}},
    )
    assert round(by_fragment[0].stream_ms) == 4000


def test_a_looped_video_goes_on_where_its_last_pass_ended(clip):
    frames = play(clip, {"Loop": True}, limit=60)
    times = [f.stream_ms for f in frames]
    assert len(frames) == 60 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert round(times[25]) == 5000  # the second pass starts where the video's 5 s end
    assert np.array_equal(frames[25].rgb, frames[0].rgb)


def test_a_file_that_is_not_a_video_is_refused(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ClipError):
        open_clip(tmp_path / "x.mp4")
    with pytest.raises(ClipError):
        open_clip(b"")


def test_regions_of_interest_keep_what_is_more_than_half_inside():
    left_half = [{"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 0.5, "Height": 1.0}}]
    mask = region_mask(left_half, 640, 480)
    assert inside(mask, (0, 0, 200, 100), 640, 480)
    assert not inside(mask, (300, 0, 500, 100), 640, 480)  # 10 % inside
    assert inside(mask, (250, 0, 350, 100), 640, 480)  # 70 % inside
    triangle = [{"Polygon": [{"X": 0.0, "Y": 0.0}, {"X": 1.0, "Y": 0.0}, {"X": 0.0, "Y": 1.0}]}]
    mask = region_mask(triangle, 640, 480)
    assert inside(mask, (0, 0, 100, 100), 640, 480)
    assert not inside(mask, (500, 380, 640, 480), 640, 480)
    assert region_mask(None, 640, 480) is None and inside(None, (0, 0, 1, 1), 640, 480)
