"""Multi-object tracking by detection: which box of this frame is which object of the last.

A ByteTrack-style tracker (Zhang et al., 2022) with SORT's Kalman filter and a colour
appearance cue:

- each track predicts its box with a constant-velocity Kalman filter on (centre x, centre y,
  width, height), its noise proportional to the box's size (as DeepSORT), at the real time
  between frames (sampled frames need not be evenly spaced);
- sure detections (score >= `high`) are matched first, to every track, on a cost mixing
  1 - IoU with the predicted box and the distance between colour histograms (appearance
  breaks ties between people side by side); a pair needs IoU >= `min_iou`;
- tracks left over are matched to the unsure detections (`low` <= score < `high`) on IoU
  alone: a person half hidden keeps their track instead of losing it;
- a sure detection matched to nothing starts a tentative track, confirmed once it has been
  matched `confirm_hits` times in a row (a one-frame false detection never becomes an
  object); a confirmed track survives `max_lost` seconds without a match, coasting on its
  prediction, and is then ended.

Matching is greedy, lowest cost first (as fast as Hungarian matching is exact on sparse
scenes, and it needs no solver). Boxes are (x0, y0, x1, y1) pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# Kalman noise, relative to the box height (DeepSORT's weights).
POSITION_NOISE = 1.0 / 20
VELOCITY_NOISE = 1.0 / 160
HIST_BINS = (8, 8)  # hue x saturation


@dataclass
class Detection:
    box: tuple[float, float, float, float]
    score: float
    feature: np.ndarray | None = None  # unit-length appearance vector, or None
    payload: Any = None  # what the caller attaches (a face ...)


@dataclass
class Track:
    track_id: int
    mean: np.ndarray  # cx, cy, w, h, vx, vy, vw, vh (per second)
    covariance: np.ndarray
    last_time: float
    feature: np.ndarray | None
    hits: int = 1
    confirmed: bool = False
    lost_since: float | None = None

    @property
    def box(self) -> np.ndarray:
        cx, cy, w, h = self.mean[:4]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def appearance(
    bgr_or_rgb: np.ndarray, box: Sequence[float], *, rgb: bool = True
) -> np.ndarray | None:
    """A colour histogram (hue x saturation) of the box's upper two thirds (clothes, not legs
    and floor), unit length; None for a box too small to say anything."""
    h, w = bgr_or_rgb.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    y1 = y0 + (y1 - y0) * 2 // 3
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop = np.ascontiguousarray(bgr_or_rgb[y0:y1, x0:x1])
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV if rgb else cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(HIST_BINS), [0, 180, 0, 256]).ravel()
    norm = float(np.linalg.norm(hist))
    return hist / norm if norm > 0 else None


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` (n, 4) with every box of `b` (m, 4)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    ix = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    iy = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _appearance_distance(tracks: list[Track], dets: list[Detection]) -> np.ndarray:
    """1 - cosine of every track's and detection's appearance; NaN where one has none."""
    out = np.full((len(tracks), len(dets)), np.nan)
    ti = [i for i, t in enumerate(tracks) if t.feature is not None]
    di = [j for j, d in enumerate(dets) if d.feature is not None]
    if ti and di:
        a = np.stack([tracks[i].feature for i in ti])
        b = np.stack([dets[j].feature for j in di])
        out[np.ix_(ti, di)] = 1.0 - a @ b.T
    return out


def greedy(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, column), each used once, lowest cost first among the allowed ones."""
    rows, cols = np.nonzero(allowed)
    order = np.argsort(cost[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pairs.append((r, c))
    return pairs


@dataclass
class Tracker:
    high: float = 0.5
    low: float = 0.15
    min_iou: float = 0.2
    appearance_weight: float = 0.3
    confirm_hits: int = 2
    max_lost: float = 2.0  # seconds a confirmed track may go unseen
    motion: bool = True  # False: predict no motion (a plain IoU tracker; for measurements)
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 0

    # -- Kalman filter --------------------------------------------------------------------------
    def _predict(self, track: Track, now: float) -> None:
        dt = max(0.0, now - track.last_time) if self.motion else 0.0
        if dt == 0.0:
            return
        f = np.eye(8)
        f[:4, 4:] = np.eye(4) * dt
        h = max(track.mean[3], 1.0)
        q = (
            np.diag(np.square([POSITION_NOISE * h] * 4 + [VELOCITY_NOISE * h] * 4))
            * max(dt, 1e-3)
            * 25.0
        )  # the weights are per frame at 25 fps
        track.mean = f @ track.mean
        track.covariance = f @ track.covariance @ f.T + q
        track.mean[2:4] = np.maximum(track.mean[2:4], 1.0)
        track.last_time = now

    @staticmethod
    def _measure(box: Sequence[float]) -> np.ndarray:
        x0, y0, x1, y1 = box
        return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])

    def _correct(self, track: Track, det: Detection) -> None:
        z = self._measure(det.box)
        hmat = np.eye(4, 8)
        r = np.diag(np.square([POSITION_NOISE * max(z[3], 1.0)] * 4))
        s = hmat @ track.covariance @ hmat.T + r
        gain = track.covariance @ hmat.T @ np.linalg.inv(s)
        track.mean = track.mean + gain @ (z - hmat @ track.mean)
        track.covariance = (np.eye(8) - gain @ hmat) @ track.covariance
        if det.feature is not None:
            if track.feature is None:
                track.feature = det.feature
            else:  # a slowly moving average: lighting and pose change along a track
                mixed = 0.9 * track.feature + 0.1 * det.feature
                track.feature = mixed / max(float(np.linalg.norm(mixed)), 1e-9)

    def _new_track(self, det: Detection, now: float) -> Track:
        z = self._measure(det.box)
        h = max(z[3], 1.0)
        cov = np.diag(np.square([2 * POSITION_NOISE * h] * 4 + [10 * VELOCITY_NOISE * h * 25] * 4))
        track = Track(
            self._next_id,
            np.concatenate([z, np.zeros(4)]),
            cov,
            now,
            det.feature,
            confirmed=self.confirm_hits <= 1,
        )
        self._next_id += 1
        self.tracks.append(track)
        return track

    # -- one frame ------------------------------------------------------------------------------
    def update(self, detections: list[Detection], now: float) -> list[tuple[Track, Detection]]:
        """Match this frame's detections (time `now`, seconds) to the tracks; returns the
        (track, detection) pairs of this frame, new tentative tracks included."""
        for track in self.tracks:
            self._predict(track, now)
        sure = [d for d in detections if d.score >= self.high]
        unsure = [d for d in detections if self.low <= d.score < self.high]
        pairs: list[tuple[Track, Detection]] = []

        left = list(self.tracks)
        if left and sure:
            boxes = np.array([t.box for t in left])
            dets = np.array([d.box for d in sure])
            ious = iou_matrix(boxes, dets)
            cost = 1.0 - ious
            looks = _appearance_distance(left, sure)
            seen = ~np.isnan(looks)
            w = self.appearance_weight
            cost[seen] = (1 - w) * cost[seen] + w * looks[seen]
            matched = greedy(cost, ious >= self.min_iou)
            for i, j in matched:
                pairs.append((left[i], sure[j]))
            used_t = {i for i, _ in matched}
            used_d = {j for _, j in matched}
            left = [t for i, t in enumerate(left) if i not in used_t]
            new = [d for j, d in enumerate(sure) if j not in used_d]
        else:
            new = list(sure)
        if left and unsure:
            ious = iou_matrix(np.array([t.box for t in left]), np.array([d.box for d in unsure]))
            matched = greedy(1.0 - ious, ious >= max(self.min_iou, 0.3))
            for i, j in matched:
                pairs.append((left[i], unsure[j]))
            used_t = {i for i, _ in matched}
            left = [t for i, t in enumerate(left) if i not in used_t]

        for track, det in pairs:
            self._correct(track, det)
            track.hits += 1
            track.lost_since = None
            if track.hits >= self.confirm_hits:
                track.confirmed = True
        for track in left:
            if track.lost_since is None:
                track.lost_since = now
        # A tentative track missed once is noise; a confirmed one waits max_lost seconds.
        self.tracks = [
            t
            for t in self.tracks
            if t.lost_since is None or (t.confirmed and now - t.lost_since <= self.max_lost)
        ]
        for det in new:
            pairs.append((self._new_track(det, now), det))
        return pairs
