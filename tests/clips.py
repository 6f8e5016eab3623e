"""Videos made at test time from the shared photos (no video is ever committed).

- `write_video(frames, path, fps)`: RGB frames to an MP4 (OpenCV's mp4v writer; OpenCV has no
  H.264 encoder) or, for a `.avi` path, MJPG;
- `zoom_clip(photo, n)`: a photo slowly zoomed into: a face that stays in view;
- `selfie_frames(portrait, face_box, room, n)`: a head cut out of a portrait, moving closer to
  the camera and swaying in front of a still room: what a selfie video shows;
- `replay_frames(first, n)`: one frame of that selfie zoomed into as a whole, background and
  all: a photo moved in front of the camera;
- `admin(endpoint, method, path, body)`: a call to the emulator's /_emulator/ endpoints.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def write_video(frames: list[np.ndarray], path: Path, fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    codec = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _zoomed(rgb: np.ndarray, fraction: float, sway: float, size: tuple[int, int]) -> np.ndarray:
    """The middle `fraction` of the picture, moved `sway` pixels sideways, at `size`."""
    h, w = rgb.shape[:2]
    cw, ch = int(w * fraction), int(h * fraction)
    x0 = int(min(max(0, (w - cw) / 2 + sway), w - cw))
    y0 = (h - ch) // 2
    return cv2.resize(rgb[y0 : y0 + ch, x0 : x0 + cw], size, interpolation=cv2.INTER_AREA)


def zoom_clip(photo: np.ndarray, n: int = 30, side: int = 360) -> list[np.ndarray]:
    """The photo, its longer side `side` pixels (aspect kept), zoomed in by a quarter."""
    h, w = photo.shape[:2]
    k = side / max(h, w)
    size = (round(w * k) // 2 * 2, round(h * k) // 2 * 2)
    return [_zoomed(photo, 1.0 - 0.25 * i / max(1, n - 1), 0.0, size) for i in range(n)]


def selfie_frames(
    portrait: np.ndarray,
    face_box: tuple[float, float, float, float],
    room: np.ndarray,
    n: int = 40,
) -> list[np.ndarray]:
    """`face_box` (x, y, w, h in pixels) says where the face is in the portrait."""
    x, y, w, h = face_box
    side = int(max(w, h) * 2.0)
    cx, cy = x + w / 2, y + h / 2
    padded = cv2.copyMakeBorder(portrait, side, side, side, side, cv2.BORDER_REPLICATE)
    x0, y0 = int(cx - side / 2) + side, int(cy - side / 2) + side
    head = padded[y0 : y0 + side, x0 : x0 + side].astype(np.float32)
    mask = np.zeros((side, side), np.float32)
    cv2.ellipse(
        mask, (side // 2, side // 2), (int(side * 0.36), int(side * 0.46)), 0, 0, 360, 1, -1
    )
    mask = cv2.GaussianBlur(mask, (0, 0), side * 0.03)
    room = cv2.resize(room, (480, 360)).astype(np.float32)
    frames = []
    for i in range(n):
        s = int(200 * (0.9 + 0.45 * i / max(1, n - 1)))  # the head comes closer
        px = int(240 - s / 2 + 25 * np.sin(i / 6))  # and sways
        py = int(180 - s / 2)
        frame = room.copy()
        a0, b0, a1, b1 = max(px, 0), max(py, 0), min(px + s, 480), min(py + s, 360)
        part = cv2.resize(head, (s, s))[b0 - py : b1 - py, a0 - px : a1 - px]
        alpha = cv2.resize(mask, (s, s))[b0 - py : b1 - py, a0 - px : a1 - px, None]
        frame[b0:b1, a0:a1] = frame[b0:b1, a0:a1] * (1 - alpha) + part * alpha
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def replay_frames(first: np.ndarray, n: int = 40) -> list[np.ndarray]:
    h, w = first.shape[:2]
    return [
        _zoomed(first, 1.0 - 0.3 * i / max(1, n - 1), 10 * np.sin(i / 6), (w, h)) for i in range(n)
    ]


def jpeg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def admin(
    endpoint: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        endpoint + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for(check: Callable[[], Any], timeout: float = 60.0, every: float = 0.1) -> Any:
    """The first truthy value `check` returns, polling; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout}s (last: {value!r})")
        time.sleep(every)
