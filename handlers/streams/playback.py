"""A mapped video played as a live Kinesis video stream, for one stream processing session.

The stream's clock: the video's first frame has the producer time of the mapping's
`ProducerTimestamp`, or else the moment the session opened the stream (a camera streaming
live); frame t (ms into the video) has producer time start + t, and a looped video goes on
from where its previous pass ended. The stream is cut in fragments of FRAGMENT_MS, numbered
increasingly as Kinesis Video numbers them (digits only: "91" + the producer time of the
stream's start in ms + the fragment's index). ServerTimestamp is when the emulator read the
frame, ProducerTimestamp the fragment's producer time.

Frames are analysed at Config.stream_analysis_fps and delivered at Config.stream_speed times
real time (0: as fast as they are analysed); StartSelector skips what precedes its producer
timestamp or fragment number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from rekognition_emulator.emulator.media.clip import Clip

FRAGMENT_MS = 2000.0


@dataclass(frozen=True)
class StreamFrame:
    rgb: np.ndarray
    stream_ms: float  # time in the stream from its first frame (loops included)
    session_ms: float  # time since the first frame this session analysed
    producer_ms: int  # the fragment's producer timestamp (Unix ms)
    server_ms: int  # when the emulator read the frame (Unix ms)
    fragment_number: str
    fragment_offset_ms: float  # the frame's offset in its fragment


def fragment_number(stream_start_ms: int, index: int) -> str:
    return f"91{stream_start_ms:013d}{index:08d}"


class Playback:
    def __init__(
        self,
        open_clip: Callable[[], Clip],
        mapping: dict[str, Any],
        *,
        speed: float,
        analysis_fps: float,
        start_selector: dict[str, Any] | None,
        wait: Callable[[float], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`open_clip` opens the mapped video (again for each pass of a loop); `wait(s)` sleeps
        up to s seconds and returns True when the session is asked to stop."""
        self._open = open_clip
        self.loop = bool(mapping.get("Loop"))
        self.speed = speed
        self.every_ms = 1000.0 / analysis_fps
        self._wait = wait
        self._clock = clock
        self.stream_start_ms = int(mapping.get("ProducerTimestamp") or round(clock() * 1000))
        selector = (start_selector or {}).get("KVSStreamStartSelector") or {}
        self._from_producer_ms = selector.get("ProducerTimestamp")
        self._from_fragment = selector.get("FragmentNumber")
        self.last_stream_ms = 0.0

    def _wanted(self, stream_ms: float) -> bool:
        if self._from_producer_ms is not None:
            return self.stream_start_ms + stream_ms >= self._from_producer_ms
        if self._from_fragment is not None:
            index = int(stream_ms // FRAGMENT_MS)
            return int(fragment_number(self.stream_start_ms, index)) >= int(self._from_fragment)
        return True

    def frames(self) -> Iterator[StreamFrame]:
        """Frames to analyse, paced; ends when the video does (never, when it loops) or when
        the session is asked to stop."""
        offset = 0.0  # stream time where the current pass of the video starts
        first_ms: float | None = None
        started = 0.0
        while True:
            last = offset
            length = 0.0
            read_any = False
            with self._open() as clip:
                length = clip.duration_ms
                for frame in clip.frames(every_ms=self.every_ms):
                    stream_ms = offset + frame.millis
                    last, read_any = stream_ms, True
                    if not self._wanted(stream_ms):
                        continue
                    if first_ms is None:
                        first_ms, started = stream_ms, time.monotonic()
                    session_ms = stream_ms - first_ms
                    if self.speed > 0:
                        due = started + session_ms / 1000.0 / self.speed
                        if self._wait(max(0.0, due - time.monotonic())):
                            return
                    elif self._wait(0):
                        return
                    index = int(stream_ms // FRAGMENT_MS)
                    self.last_stream_ms = stream_ms
                    yield StreamFrame(
                        rgb=frame.rgb,
                        stream_ms=stream_ms,
                        session_ms=session_ms,
                        producer_ms=self.stream_start_ms + int(index * FRAGMENT_MS),
                        server_ms=int(round(self._clock() * 1000)),
                        fragment_number=fragment_number(self.stream_start_ms, index),
                        fragment_offset_ms=stream_ms - index * FRAGMENT_MS,
                    )
            if not self.loop or not read_any:
                return  # the video ended (or had no frame: a loop would spin)
            offset = max(offset + length, last + self.every_ms)
