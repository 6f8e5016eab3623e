"""The video reader: what it says about a file matches what FFmpeg (through PyAV) says about
the same file, frame times are real presentation times, and what AWS refuses is refused.

Clips are made here with PyAV (test extra); PyAV's reading of them is the reference."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rekognition_emulator.conformance.videos import pyav_missing, write_clip
from rekognition_emulator.emulator.media import containers
from rekognition_emulator.emulator.media.video import UnsupportedVideo, open_video
from rekognition_emulator.handlers.video.segments import smpte
from tests.video_clips import tone

pytestmark = pytest.mark.skipif(pyav_missing() is not None, reason=str(pyav_missing()))


def moving(n: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        img = np.full((height, width, 3), 40, np.uint8)
        img[100:140, (i * 5) % (width - 40) :][:, :40] = 220
        frames.append(img)
    return frames


def reference(path: Path) -> dict:
    """FFmpeg's own reading of the file, through PyAV."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {
            "format": c.format.long_name,
            "codec": v.codec_context.name,
            "rate": v.average_rate,
            "size": (v.codec_context.width, v.codec_context.height),
            "full": v.codec_context.color_range == 2,
            "audio": [(a.codec_context.name, a.sample_rate, a.channels) for a in c.streams.audio],
            "pts_ms": [float(f.pts * v.time_base * 1000) for f in c.decode(v)],
        }


@pytest.mark.parametrize(
    ("name", "fps", "extra"),
    [
        ("plain.mp4", 25, {}),
        ("ntsc.mp4", Fraction(30000, 1001), {}),
        ("full.mov", 30, {"full_range": True}),
        ("sound.mp4", 24, {"audio": tone(2.0, 44100), "audio_rate": 44100}),
        ("old.avi", 25, {}),
    ],
)
def test_metadata_is_what_ffmpeg_reads(tmp_path, name, fps, extra):
    path = write_clip(tmp_path / name, moving(48), fps=fps, **extra)
    ref = reference(path)
    with open_video(path) as video:
        meta = video.metadata.aws()
        assert meta["Format"] == ref["format"]
        assert meta["Codec"] == ref["codec"] == "h264"
        assert meta["FrameRate"] == float(np.float32(ref["rate"]))
        assert (meta["FrameWidth"], meta["FrameHeight"]) == ref["size"]
        assert meta["ColorRange"] == ("FULL" if ref["full"] else "LIMITED")
        # DurationMillis: frames x frame time, as AWS's samples (15015 for 450 at 29.97).
        assert meta["DurationMillis"] == int(48 * 1000 / Fraction(fps))
        assert [(a.codec, a.sample_rate, a.channels) for a in video.audio] == ref["audio"]
        times = [f.pts_ms for f in video.frames()]
    # Every frame, at FFmpeg's presentation times counted from the first shown frame.
    assert len(times) == 48
    start = ref["pts_ms"][0]
    assert times == pytest.approx([t - start for t in sorted(ref["pts_ms"])], abs=0.5)


def test_ntsc_rate_reads_as_aws_reports_it(tmp_path):
    path = write_clip(tmp_path / "ntsc.mp4", moving(30), fps=Fraction(30000, 1001))
    with open_video(path) as video:
        assert video.metadata.frame_rate == 29.970029830932617  # AWS's sample, exactly
        assert containers.probe(path).frame_rate == Fraction(30000, 1001)


def test_sampling_takes_the_first_frame_at_or_after_each_interval(tmp_path):
    path = write_clip(tmp_path / "clip.mp4", moving(50), fps=25)  # 40 ms frames, 2 s
    with open_video(path) as video:
        assert [f.timestamp for f in video.sample(500)] == [0, 520, 1000, 1520]
        assert [f.index for f in video.sample(500)] == [0, 13, 25, 38]


def test_audio_silence_is_told_from_the_aac_stream(tmp_path):
    sound = np.concatenate([tone(1.0), np.zeros(48000, np.float32), tone(1.0)])
    path = write_clip(tmp_path / "sound.mp4", moving(75), fps=25, audio=sound)
    (track,) = containers.probe(path).audio
    assert track.codec == "aac" and track.sample_rate == 48000 and track.channels == 1
    assert abs(track.duration_ms - 3000) <= 25
    assert track.silent(0.1, 0.9) is False
    assert track.silent(1.1, 1.9) is True
    assert track.silent(2.1, 2.9) is False


@pytest.mark.parametrize("channels", [1, 2])
def test_aac_codes_digital_silence_in_a_few_bytes_and_any_sound_in_many(tmp_path, channels):
    # README (Segments): FFmpeg's AAC encoder codes a frame of digital silence in 4 to 23
    # bytes, and dither at -90 dB in 129 or more at 64 kbit/s: the silence bar (24 + 4 a
    # channel) lies between.
    import av

    from rekognition_emulator.conformance.videos import _write_audio

    rng = np.random.default_rng(0)
    dither = (rng.uniform(-1, 1, (1, 96000)) * 10 ** (-90 / 20)).astype(np.float32)
    sizes = {}
    for name, mono in (("silence", np.zeros((1, 96000), np.float32)), ("dither", dither)):
        path = tmp_path / f"{name}.mp4"
        out = av.open(str(path), "w", format="mp4")
        stream = out.add_stream("aac", rate=48000)
        stream.layout, stream.bit_rate = ("mono" if channels == 1 else "stereo"), 64000
        _write_audio(out, stream, np.repeat(mono, channels, axis=0), 48000)
        out.close()
        (track,) = containers.probe(path).audio
        sizes[name] = [size for _, _, size in track.frames]
        assert track.silent(0.1, 1.9) is (name == "silence")
    assert max(sizes["silence"]) <= 23
    assert min(sizes["dither"]) >= 120


@pytest.mark.parametrize(
    ("name", "codec", "says"),
    [
        ("hevc.mp4", "libx265", "the video codec is hevc"),
        ("mpeg4.mp4", "mpeg4", "the video codec is mpeg4"),
        ("h264.mkv", "libx264", "the container is Matroska / WebM"),
    ],
)
def test_what_aws_does_not_accept_is_refused_with_a_reason(tmp_path, name, codec, says):
    import av

    path = tmp_path / name
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        if codec == "libx265":
            stream.options = {"x265-params": "log-level=error"}
        for rgb in moving(10):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(UnsupportedVideo) as refused:
        open_video(path)
    assert str(refused.value).startswith("Unsupported codec/format.")
    assert says in str(refused.value)


def test_a_file_that_is_no_video_is_refused(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"these are not the frames you are looking for" * 100)
    with pytest.raises(UnsupportedVideo, match="not a video container"):
        open_video(path)


@pytest.mark.parametrize(
    ("frames", "rate", "text"),
    [
        (299, Fraction(30000, 1001), "00:00:09;29"),  # AWS's sample
        (300, Fraction(30000, 1001), "00:00:10;00"),
        (150, Fraction(30000, 1001), "00:00:05;00"),
        (1800, Fraction(30000, 1001), "00:01:00;02"),  # drop-frame skips ;00 and ;01
        (17982, Fraction(30000, 1001), "00:10:00;00"),  # ...but not every tenth minute
        (697, Fraction(24), "00:00:29:01"),  # AWS's 24 fps sample
        (4703, Fraction(24), "00:03:15:23"),
    ],
)
def test_smpte_timecodes(frames, rate, text):
    assert smpte(frames, rate) == text
