"""A video read frame by frame as RGB arrays with their presentation times, through OpenCV's
bundled FFmpeg (MP4/MOV/AVI/MKV/WebM in, H.264, MPEG-4 part 2, MJPEG, VP8/VP9 ...).

    with open_clip(path_or_bytes) as clip:
        for frame in clip.frames(every_ms=200):   # about 5 frames a second
            frame.millis, frame.rgb

What stream processors and Face Liveness submissions read. (The stored-video decoder with
container metadata, emulator/media/video.py, is another piece; this reader needs only frames
and times.) Bytes are decoded through a temporary file: OpenCV opens paths, not buffers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

# A frame bigger than this is not a video a client streams (and would be a decompression bomb).
MAX_PIXELS = 4096 * 2160


class ClipError(ValueError):
    """The data is not a video OpenCV can decode."""


@dataclass(frozen=True)
class Frame:
    index: int  # in the file, from 0
    millis: float  # presentation time from the first frame
    rgb: np.ndarray  # H x W x 3, uint8


class Clip:
    def __init__(self, source: Path | str | bytes) -> None:
        self._temp: str | None = None
        if isinstance(source, bytes | bytearray):
            if not source:
                raise ClipError("the video is empty")
            fd, self._temp = tempfile.mkstemp(prefix="rekognition-clip-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(source)
            path = self._temp
        else:
            path = str(source)
            if not Path(path).is_file():
                raise ClipError(f"no video file at {path}")
        self._capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        if not self._capture.isOpened():
            self.close()
            raise ClipError("the data is not a video this emulator can decode")
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if self.width * self.height > MAX_PIXELS or self.width <= 0 or self.height <= 0:
            self.close()
            raise ClipError(f"a {self.width}x{self.height} video is not supported")
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS)) or 0.0
        self.frame_count = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        self._used = False

    @property
    def duration_ms(self) -> float:
        """From the container's frame count and rate (0 when it does not say)."""
        if self.fps <= 0 or self.frame_count <= 0:
            return 0.0
        return self.frame_count * 1000.0 / self.fps

    def frames(self, *, every_ms: float = 0.0, start_ms: float = 0.0) -> Iterator[Frame]:
        """Frames in order from `start_ms`, at most one per `every_ms` of video time (0: all).

        A clip is read once: call `frames` a second time on a new Clip."""
        if self._used:
            raise RuntimeError("a Clip's frames are read once")
        self._used = True
        step = 1000.0 / self.fps if self.fps > 0 else 0.0
        # A frame within half a frame of the wanted time is taken: 30 fps sampled every 200 ms
        # takes every 6th frame, not every 7th for want of a microsecond.
        slack = step / 2 if step else 1e-6
        next_at = start_ms
        index = -1
        while True:
            if not self._capture.grab():
                return
            index += 1
            millis = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
            if millis <= 0.0 and index > 0 and step:
                millis = index * step  # containers without timestamps: the nominal rate
            if millis + slack < next_at:
                continue  # skipped frames are grabbed, never converted
            ok, bgr = self._capture.retrieve()
            if not ok or bgr is None:
                return
            if bgr.ndim == 2:
                bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
            yield Frame(index, millis, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if every_ms > 0:
                while next_at <= millis + slack:
                    next_at += every_ms

    def close(self) -> None:
        capture = getattr(self, "_capture", None)
        if capture is not None:
            capture.release()
        if self._temp:
            try:
                os.unlink(self._temp)
            except OSError:
                pass
            self._temp = None

    def __enter__(self) -> Clip:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_clip(source: Path | str | bytes) -> Clip:
    """The video at a path, or in bytes; ClipError when it cannot be decoded."""
    return Clip(source)
