"""Video input for Rekognition Video jobs: `Video.S3Object` -> a file -> frames with their
presentation times, and the VideoMetadata / AudioMetadata AWS reports.

    with open_video(path) as video:          # UnsupportedVideo: the job fails with its text
        video.metadata.aws()                 # {"Codec": "h264", "Format": "QuickTime / MOV", ...}
        for frame in video.sample(500):      # the first frame at or after 0, 500, 1000 ... ms
            frame.timestamp, frame.rgb
        for frame in video.frames(): ...     # every frame (segment detection)

What is accepted, and why: H.264 video in an MP4/MOV (ISO base media / QuickTime) or AVI
container, as AWS documents (its service model adds .avi to the guide's MP4/MOV). Anything
else (HEVC, MPEG-4 part 2, VP9, AV1, Matroska, MPEG-TS ...) makes the job FAILED with a
StatusMessage naming what was found, as AWS fails a job it cannot read.

The pixels come from OpenCV (its bundled FFmpeg is LGPL and decodes H.264; frame times are
the decoder's presentation times, so variable frame rates keep their real times); what
OpenCV does not say (container name, codec name, average frame rate, duration, colour range,
audio tracks) comes from the container itself (`containers.py`, pure Python).
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from rekognition_emulator.emulator.media import containers
from rekognition_emulator.emulator.media.containers import AudioTrack, ContainerInfo

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

ACCEPTED_FORMATS = frozenset({containers.QUICKTIME, containers.AVI})
ACCEPTED_CODECS = frozenset({"h264"})
# AWS: "Unsupported codec/format." (recalled, unverified); what was found follows it.
UNSUPPORTED = "Unsupported codec/format."
MAX_BYTES = 10 * 1024**3  # AWS: stored videos up to 10 GB
MAX_DURATION_MS = 6 * 3600 * 1000  # ...and 6 hours


class UnsupportedVideo(Exception):
    """The video cannot be analysed; the message is the job's StatusMessage."""


@dataclass(frozen=True)
class VideoMetadata:
    codec: str
    format: str
    frame_rate: float  # float32, as AWS serialises it
    width: int
    height: int
    duration_ms: int
    color_range: str  # FULL | LIMITED

    def aws(self) -> dict[str, Any]:
        """VideoMetadata as every Get* returns it."""
        return {
            "Codec": self.codec,
            "DurationMillis": self.duration_ms,
            "Format": self.format,
            "FrameRate": self.frame_rate,
            "FrameHeight": self.height,
            "FrameWidth": self.width,
            "ColorRange": self.color_range,
        }


def audio_metadata(track: AudioTrack) -> dict[str, Any]:
    """AudioMetadata as GetSegmentDetection returns it."""
    return {
        "Codec": track.codec,
        "DurationMillis": track.duration_ms,
        "SampleRate": track.sample_rate,
        "NumberOfChannels": track.channels,
    }


@dataclass
class Frame:
    index: int  # in presentation order, from 0
    pts_ms: float  # presentation time, milliseconds from the start
    bgr: np.ndarray  # H x W x 3 uint8, as OpenCV decodes it
    _rgb: np.ndarray | None = field(default=None, repr=False)

    @property
    def timestamp(self) -> int:
        """Milliseconds from the start, rounded down (AWS's Timestamp)."""
        return int(math.floor(self.pts_ms + 1e-6))

    @property
    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            self._rgb = cv2.cvtColor(self.bgr, cv2.COLOR_BGR2RGB)
        return self._rgb


class Video:
    """An opened video file (see `open_video`)."""

    def __init__(self, path: Path, info: ContainerInfo, capture: cv2.VideoCapture) -> None:
        self.path = path
        self.info = info
        self._capture = capture
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or info.width
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or info.height
        rate = float(info.frame_rate) if info.frame_rate else capture.get(cv2.CAP_PROP_FPS)
        self.metadata = VideoMetadata(
            codec=info.video_codec or "",
            format=info.format,
            frame_rate=float(np.float32(rate)),
            width=width,
            height=height,
            duration_ms=info.duration_ms,
            color_range="FULL" if info.full_range else "LIMITED",
        )
        self._used = False

    @property
    def audio(self) -> list[AudioTrack]:
        return self.info.audio

    @property
    def frame_duration_ms(self) -> float:
        rate = self.metadata.frame_rate
        return 1000.0 / rate if rate > 0 else 0.0

    def _decoded(self, want: Any) -> Iterator[Frame]:
        """Every frame's time; the pixels of those `want(pts_ms)` accepts."""
        if self._used:  # a capture reads forward once: open the file again to re-read
            self._capture.release()
            self._capture = _capture(self.path)
        self._used = True
        index = 0
        first: float | None = None
        last = -math.inf
        step = self.frame_duration_ms
        constant_rate = self.info.format == containers.AVI
        while self._capture.grab():
            if constant_rate:
                # AVI keeps no presentation times (one chunk a frame at a fixed rate), and
                # OpenCV's guesses for the B-frames flushed at the end come out as 0.
                pts = index * step
            else:
                pts = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
                # Times count from the first frame shown (a stream whose first picture comes
                # after a B-frame delay still starts at 0).
                if first is None:
                    first = pts
                pts -= first
                if pts <= last:  # a frame without a time of its own: one frame later
                    pts = last + step
            last = pts
            if want(pts):
                ok, bgr = self._capture.retrieve()
                if ok and bgr is not None:
                    yield Frame(index, pts, bgr)
            index += 1

    def frames(self) -> Iterator[Frame]:
        """Every frame, in presentation order."""
        return self._decoded(lambda pts: True)

    def sample(self, interval_ms: float) -> Iterator[Frame]:
        """The first frame at or after each multiple of `interval_ms` (0 first). Frames in
        between are decoded (H.264 needs them) but not converted."""
        next_at = 0.0

        def want(pts: float) -> bool:
            nonlocal next_at
            if pts + 1e-6 < next_at:
                return False
            # The next sample is the next multiple after this frame (a long frame or a gap
            # skips the multiples it covers).
            next_at = (math.floor((pts + 1e-6) / interval_ms) + 1) * interval_ms
            return True

        return self._decoded(want)

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> Video:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _capture(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise UnsupportedVideo(f"{UNSUPPORTED} (the video could not be opened for decoding)")
    return capture


def open_video(path: str | Path) -> Video:
    """The video at `path`, checked as AWS checks it; UnsupportedVideo says why not."""
    path = Path(path)
    try:
        info = containers.probe(path)
    except containers.ContainerError as exc:
        raise UnsupportedVideo(f"{UNSUPPORTED} ({exc})") from None
    if info.format not in ACCEPTED_FORMATS:
        raise UnsupportedVideo(
            f"{UNSUPPORTED} (the container is {info.format}; H.264 in MP4, MOV or AVI is supported)"
        )
    if info.video_codec is None:
        raise UnsupportedVideo(f"{UNSUPPORTED} (the {info.format} file has no video track)")
    if info.video_codec not in ACCEPTED_CODECS:
        raise UnsupportedVideo(
            f"{UNSUPPORTED} (the video codec is {info.video_codec}; "
            "H.264 in MP4, MOV or AVI is supported)"
        )
    if info.duration_ms > MAX_DURATION_MS:
        raise UnsupportedVideo(
            f"The video is {info.duration_ms / 3600000:.2f} hours long; "
            "the maximum duration is 6 hours."
        )
    capture = _capture(path)
    return Video(path, info, capture)


# -- from S3 --------------------------------------------------------------------------------
_swept: set[Path] = set()
_sweep_lock = threading.Lock()


def _sweep(folder: Path) -> None:
    """Remove the copies a process killed mid-job left in `folder`, once per process and
    before this process makes any (the data dir is held by one server at a time)."""
    with _sweep_lock:
        if folder in _swept:
            return
        for leftover in folder.glob("video-*.bin"):
            leftover.unlink(missing_ok=True)
        _swept.add(folder)


@contextmanager
def fetched(
    state: AppState, account: str, s3_object: dict[str, Any], folder: Path | None = None
) -> Iterator[Path]:
    """The S3 object `s3_object` ({Bucket, Name, Version?}) in a temporary file, removed
    afterwards; InvalidS3ObjectException when it cannot be read."""
    from rekognition_emulator.emulator.aws import s3

    data = s3.s3_for(state).get_object(
        account, s3_object.get("Bucket", ""), s3_object.get("Name", ""), s3_object.get("Version")
    )
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        _sweep(folder)
    with tempfile.NamedTemporaryFile(prefix="video-", suffix=".bin", dir=folder) as tmp:
        tmp.write(data)
        tmp.flush()
        del data
        yield Path(tmp.name)
