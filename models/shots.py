"""Frame-by-frame measurements for shot and technical-cue detection: how black a frame is,
how much it looks like colour bars, and how much it differs from the frame before.

Every frame of a video is measured on a small copy (FRAME_WIDTH px wide), so a long video
costs its decoding and little more. Nothing here knows of AWS; `find_cuts` turns the change
series into hard cuts.

- black share: the share of pixels whose BT.709 luma (0.2126 R + 0.7152 G + 0.0722 B, on
  the decoded RGB, full range) is at most a threshold;
- bars likeness: the top 60 % of the frame split into 7 (SMPTE) or 8 (EBU) equal columns,
  each of even colour and with the bars' pattern of lit channels (grey/white, yellow, cyan,
  green, magenta, red, blue[, black]) at any level (75 % or 100 % bars);
- change: the mean absolute difference of hue (circular), saturation and value between this
  frame and the previous one, 0..255 (PySceneDetect's content score).

A cut is a change spike: at least MIN_CHANGE, at least RATIO times the frames around it (a
fast pan changes every frame and is no cut), and the largest within CUT_GAP frames. A soft
transition (a fade, a dissolve) spreads its change over many frames and makes no spike.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FRAME_WIDTH = 160  # the small copy's width
LUMA = np.array([0.0722, 0.7152, 0.2126], np.float32)  # BT.709, B G R order
MIN_CHANGE = 18.0
RATIO = 3.0
WINDOW = 6  # frames each side the ratio compares against
CUT_GAP = 3  # two cuts are at least this many frames apart
# Which channels (R, G, B) are lit in each bar.
SMPTE_BARS = ((1, 1, 1), (1, 1, 0), (0, 1, 1), (0, 1, 0), (1, 0, 1), (1, 0, 0), (0, 0, 1))
EBU_BARS = SMPTE_BARS + ((0, 0, 0),)
LIT = 0.6  # a lit channel is at least this share of the bars' level...
DARK = 0.25  # ...and an unlit one at most this share
EVEN = 12.0  # the most a bar's pixels may spread (standard deviation, 0..255)


@dataclass(frozen=True)
class FrameMeasure:
    black: float  # share of pixels at most the black threshold, 0..1
    bars: float  # colour-bars likeness, 0..1
    change: float  # difference from the previous frame, 0..255 (0 for the first)


class FrameMeter:
    """Measure frames in order: `measure(bgr)` for each."""

    def __init__(self, black_threshold: float) -> None:
        self.black_threshold = black_threshold  # luma, 0..255
        self._last_hsv: np.ndarray | None = None

    def measure(self, bgr: np.ndarray) -> FrameMeasure:
        h, w = bgr.shape[:2]
        small = cv2.resize(
            bgr, (FRAME_WIDTH, max(1, round(h * FRAME_WIDTH / w))), interpolation=cv2.INTER_AREA
        )
        luma = small.astype(np.float32) @ LUMA
        black = float((luma <= self.black_threshold).mean())
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.float32)
        change = 0.0
        if self._last_hsv is not None and self._last_hsv.shape == hsv.shape:
            d = np.abs(hsv - self._last_hsv)
            d[..., 0] = np.minimum(d[..., 0], 180.0 - d[..., 0]) * (255.0 / 90.0)
            change = float(d.mean())
        self._last_hsv = hsv
        return FrameMeasure(black, bars_likeness(small), change)


def bars_likeness(bgr: np.ndarray) -> float:
    """How much the frame looks like SMPTE or EBU colour bars, 0..1 (see the module doc)."""
    top = bgr[: max(1, bgr.shape[0] * 3 // 5)].astype(np.float32)[..., ::-1]  # RGB
    best = 0.0
    for pattern in (SMPTE_BARS, EBU_BARS):
        n = len(pattern)
        width = top.shape[1]
        # The middle of each column: its edges may blend with the neighbour's.
        cols = [
            top[:, width * i // n + width // (4 * n) : width * (i + 1) // n - width // (4 * n)]
            for i in range(n)
        ]
        means = np.array([c.reshape(-1, 3).mean(axis=0) for c in cols])
        spread = np.array([c.reshape(-1, 3).std(axis=0).max() for c in cols])
        level = float(means[0].max())
        if level < 64:  # no bars are that dark
            continue
        ok = 0
        for mean, sd, lit in zip(means, spread, pattern, strict=True):
            on = np.array(lit, bool)
            if sd <= EVEN and (mean[on] >= LIT * level).all() and (mean[~on] <= DARK * level).all():
                ok += 1
        best = max(best, ok / n)
    return best


def find_cuts(changes: list[float]) -> list[tuple[int, float]]:
    """(frame, margin) of each hard cut: the frame where the new picture starts, and how far
    the spike clears both bars (>= 1; the larger the surer)."""
    values = np.asarray(changes, np.float64)
    cuts: list[tuple[int, float]] = []
    for i in range(1, len(values)):
        v = values[i]
        if v < MIN_CHANGE:
            continue
        near = np.concatenate([values[max(1, i - WINDOW) : i], values[i + 1 : i + 1 + WINDOW]])
        # The neighbours' typical change: a cut's own neighbours in a still shot are near 0.
        background = float(np.median(near)) if len(near) else 0.0
        ratio = v / max(background, MIN_CHANGE / RATIO)
        if ratio < RATIO:
            continue
        lo, hi = max(1, i - CUT_GAP + 1), min(len(values), i + CUT_GAP)
        if v < values[lo:hi].max():
            continue
        cuts.append((i, min(v / MIN_CHANGE, ratio / RATIO)))
    return cuts
