"""StartTextDetection / GetTextDetection: DetectText on the sampled frames, with its Filters
(WordFilter: MinConfidence default 80, MinBoundingBoxHeight/Width; RegionsOfInterest).

Text is sampled less often than the other analyses (one frame a second by default: on-screen
text stays up for seconds), and a sampled frame that did not change since the last frame
read (no cell of a 64x36 grid moved more than UNCHANGED grey levels) is not read again: its text is the
last reading's, at the new Timestamp. Ids and ParentIds count from 0 in each frame.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from rekognition_emulator.emulator.jobs import JobRecord
from rekognition_emulator.handlers.analysis import text
from rekognition_emulator.handlers.video.framework import VideoAnalysis, VideoRun, register

GRID = (64, 36)  # cells across and down (10 px square on a 640x360 frame)
UNCHANGED = 3.0  # most a cell's mean grey level (0..255) may move for "the same picture"


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """The frame's grey level averaged over the grid's cells."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, GRID, interpolation=cv2.INTER_AREA).astype(np.float32)


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """No grid cell changed by more than UNCHANGED (a new word a few cells wide does)."""
    return bool(np.abs(a - b).max() <= UNCHANGED)


class TextDetection(VideoAnalysis):
    name = "TextDetection"
    items = "TextDetections"
    sample_ms = 1000.0

    def analyse(self, run: VideoRun) -> None:
        options = text.filter_options(run.params.get("Filters"))
        last: tuple[np.ndarray, list[dict[str, Any]]] | None = None
        for frame in run.frames():
            small = thumbnail(frame.rgb)
            if last is not None and same_picture(small, last[0]):
                found = last[1]
            else:
                found = text.detect_text(frame.rgb, **options)
                last = (small, found)
            run.store({"Timestamp": frame.timestamp, "TextDetection": d} for d in found)

    def extras(self, job: JobRecord, request: dict[str, Any]) -> dict[str, Any]:
        return {"TextModelVersion": text.TEXT_MODEL_VERSION}


register(TextDetection())
