"""H.264 clips made at test time (never committed), for the video scenarios and the tests.

OpenCV cannot encode H.264 (its bundled FFmpeg has no encoder), so clips are written with
PyAV, which is in the `test` extra only: its wheels bundle the GPL encoders libx264 and
libx265, which must not enter the default install or the Docker image. Without PyAV,
`pyav_missing()` says why and the callers skip.

    write_clip(path, frames, fps=25)                  # frames: RGB arrays, all one size
    write_clip(path, frames, fps=Fraction(30000, 1001), audio=samples, audio_rate=48000)
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

CONTAINERS = {"mp4": "mp4", "mov": "mov", "avi": "avi"}


def pyav_missing() -> str | None:
    """None when clips can be written, else why not."""
    try:
        import av  # noqa: F401
    except ImportError:
        return "PyAV is not installed (pip install -e '.[test]'): no H.264 clip can be made"
    return None


def write_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: int | Fraction = 25,
    *,
    audio: np.ndarray | None = None,
    audio_rate: int = 48000,
    full_range: bool = False,
    crf: int = 18,
) -> Path:
    """An H.264 clip of `frames` (H x W x 3 uint8 RGB, even sides) at `fps`, in the container
    the suffix names (.mp4, .mov, .avi); `audio` (float32 in -1..1, shape (n,) mono or
    (channels, n)) is added as an AAC track. Returns the path."""
    import av

    path = Path(path)
    out = av.open(str(path), "w", format=CONTAINERS[path.suffix.lstrip(".").lower()])
    samples = None if audio is None else np.atleast_2d(np.asarray(audio, np.float32))
    try:
        stream = sound = None
        for rgb in frames:
            if stream is None:
                height, width = rgb.shape[:2]
                stream = out.add_stream("libx264", rate=fps)
                stream.width, stream.height = width, height
                stream.pix_fmt = "yuvj420p" if full_range else "yuv420p"
                if full_range:
                    stream.codec_context.color_range = 2  # JPEG / full
                stream.options = {"crf": str(crf), "preset": "veryfast"}
                if samples is not None:  # every stream exists before the first packet
                    sound = out.add_stream("aac", rate=audio_rate)
                    sound.layout = "mono" if samples.shape[0] == 1 else "stereo"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        if stream is None:
            raise ValueError("a clip needs at least one frame")
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None and samples is not None:
            _write_audio(out, sound, samples, audio_rate)
    finally:
        out.close()
    return path


def _write_audio(out, stream, samples: np.ndarray, rate: int) -> None:
    import av

    layout = "mono" if samples.shape[0] == 1 else "stereo"
    step = 1024
    for start in range(0, samples.shape[1], step):
        chunk = np.ascontiguousarray(samples[:, start : start + step])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def conformance_clip(face_jpeg: bytes, folder: Path) -> Path | None:
    """The suite's video (None without PyAV): 2 s at 10 fps, 480x360; a caption on a plain
    background for a second, then the face photo for a second."""
    if pyav_missing():
        return None
    import cv2

    width, height = 480, 360
    plain = np.full((height, width, 3), 235, np.uint8)
    cv2.putText(plain, "CONFORMANCE", (40, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.8, (20, 20, 20), 4)
    face = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    scale = height / face.shape[0]
    face = cv2.resize(face, (round(face.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
    framed = np.zeros((height, width, 3), np.uint8)
    x0 = (width - face.shape[1]) // 2
    framed[:, max(0, x0) : max(0, x0) + min(width, face.shape[1])] = face[
        :, : min(width, face.shape[1])
    ]
    return write_clip(folder / "conformance.mp4", [plain] * 10 + [framed] * 10, fps=10)
