"""Clips the video tests make at test time (H.264 through PyAV; never committed), each with
the ground truth of how it was made.

- `edited_clip`: colour bars, two shots of photos cut hard, black frames, a third shot;
  audio (a tone) under the pictures and digital silence under the bars and the black, or
  a tone under the black too (`black_with_audio`).
- `face_clip`: a photo with no face, and a portrait that appears at one time and leaves at
  another.
- `mot_clip`: the shared MOT20 crowd clip, as it is (H.264, 25 fps).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from rekognition_emulator.conformance.videos import write_clip

WIDTH, HEIGHT = 640, 360

# SMPTE colour bars, 75 %: grey, yellow, cyan, green, magenta, red, blue (RGB).
SMPTE_75 = [
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
]


def colour_bars(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """SMPTE bars: seven 75 % bars over two thirds, the reverse-blue row and a black base."""
    img = np.zeros((height, width, 3), np.uint8)
    top = height * 2 // 3
    castellations = [
        SMPTE_75[6],
        (0, 0, 0),
        SMPTE_75[4],
        (0, 0, 0),
        SMPTE_75[2],
        (0, 0, 0),
        SMPTE_75[0],
    ]
    for i, colour in enumerate(SMPTE_75):
        x0, x1 = width * i // 7, width * (i + 1) // 7
        img[:top, x0:x1] = colour
        img[top : top + height // 12, x0:x1] = castellations[i]
    base = top + height // 12
    img[base:, : width * 5 // 28] = (0, 33, 76)
    img[base:, width * 5 // 28 : width * 10 // 28] = 255
    img[base:, width * 10 // 28 : width * 15 // 28] = (50, 0, 106)
    return img


def fit(rgb: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """The photo covering a width x height frame (scaled, centre-cropped)."""
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    resized = cv2.resize(
        rgb, (round(w * scale) + 1, round(h * scale) + 1), interpolation=cv2.INTER_AREA
    )
    y0 = (resized.shape[0] - height) // 2
    x0 = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def plain_background(width: int = WIDTH, height: int = HEIGHT, seed: int = 0) -> np.ndarray:
    """A soft gradient with grain: nothing in it for a model to find."""
    yy, xx = np.mgrid[0:height, 0:width]
    back = np.stack([90 + 60 * yy / height, 120 + 40 * xx / width, 170 - 50 * yy / height], -1)
    back = back + np.random.default_rng(seed).normal(0, 6, back.shape)
    return np.clip(back, 0, 255).astype(np.uint8)


def slideshow(
    folder: Path,
    pictures: list[tuple[np.ndarray, float]],
    *,
    fps: int = 25,
    name: str = "slides.mp4",
) -> Path:
    """Each (frame, seconds) shown in turn, as a still."""
    frames: list[np.ndarray] = []
    for picture, seconds in pictures:
        frames += [picture] * int(round(seconds * fps))
    return write_clip(folder / name, frames, fps=fps)


def panning(
    rgb: np.ndarray, frames: int, width: int = WIDTH, height: int = HEIGHT
) -> list[np.ndarray]:
    """`frames` views of the photo drifting slowly to the right (a shot, not a still)."""
    wide = fit(rgb, width + frames, height)
    return [np.ascontiguousarray(wide[:, i : i + width]) for i in range(frames)]


def tone(seconds: float, rate: int = 48000, hz: float = 440.0, level: float = 0.2) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@dataclass
class EditedClip:
    path: Path
    fps: int
    bars: tuple[int, int]  # first and last frame of each part
    shot_a: tuple[int, int]
    shot_b: tuple[int, int]
    black: tuple[int, int]
    shot_c: tuple[int, int]

    @property
    def cuts(self) -> list[int]:
        """Frames where a new picture starts hard (each part's first frame but the first)."""
        return [self.shot_a[0], self.shot_b[0], self.black[0], self.shot_c[0]]


def edited_clip(
    folder: Path,
    photos: list[np.ndarray],
    *,
    fps: int = 25,
    seconds: tuple[float, float, float, float, float] = (1.0, 2.0, 2.0, 1.0, 2.0),
    black_with_audio: bool = False,
    name: str = "edited.mp4",
) -> EditedClip:
    """Bars, shot A, shot B, black, shot C (lengths in `seconds`), from three photos."""
    counts = [int(round(s * fps)) for s in seconds]
    bounds = []
    start = 0
    for n in counts:
        bounds.append((start, start + n - 1))
        start += n
    frames: list[np.ndarray] = [colour_bars()] * counts[0]
    frames += panning(photos[0], counts[1])
    frames += panning(photos[1], counts[2])
    frames += [np.zeros((HEIGHT, WIDTH, 3), np.uint8)] * counts[3]
    frames += panning(photos[2], counts[4])
    rate = 48000
    parts = [
        np.zeros(int(seconds[0] * rate), np.float32),
        tone(seconds[1], rate, 440.0),
        tone(seconds[2], rate, 660.0),
        tone(seconds[3], rate, 330.0)
        if black_with_audio
        else np.zeros(int(seconds[3] * rate), np.float32),
        tone(seconds[4], rate, 550.0),
    ]
    path = write_clip(folder / name, frames, fps=fps, audio=np.concatenate(parts), audio_rate=rate)
    return EditedClip(path, fps, *bounds)


@dataclass
class FaceClip:
    path: Path
    appears_ms: int
    leaves_ms: int
    duration_ms: int


def face_clip(
    folder: Path,
    portrait: np.ndarray,
    background: np.ndarray | None = None,
    *,
    fps: int | Fraction = 25,
    seconds: float = 4.0,
    appears: float = 1.0,
    leaves: float = 3.0,
    name: str = "face.mp4",
) -> FaceClip:
    """A still background; from `appears` to `leaves` seconds the portrait (its face about a
    third of the frame's height) sits in the middle, moving slightly."""
    fps_f = float(fps)
    total = int(round(seconds * fps_f))
    back = plain_background() if background is None else fit(background)
    h, w = portrait.shape[:2]
    scale = (HEIGHT * 0.8) / h
    face = cv2.resize(portrait, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    fh, fw = face.shape[:2]
    frames = []
    for i in range(total):
        t = i / fps_f
        frame = back.copy()
        if appears <= t < leaves:
            x = (WIDTH - fw) // 2 + int(8 * np.sin(t * 2))
            y = (HEIGHT - fh) // 2
            frame[y : y + fh, max(0, x) : max(0, x) + fw] = face[:, : WIDTH - max(0, x)]
        frames.append(frame)
    path = write_clip(folder / name, frames, fps=fps)
    return FaceClip(path, int(appears * 1000), int(leaves * 1000), int(seconds * 1000))


@dataclass
class CrossingClip:
    path: Path
    fps: int
    truth: list[dict[int, tuple[float, float, float, float]]]  # per frame: who -> box ratios


def crossing_clip(folder: Path, testdata: Path, *, fps: int = 25) -> CrossingClip:
    """Two people walking towards each other over a plain background, crossing at about
    1.5 s (the woman passes in front), 4 s: COCO8's woman with an umbrella (person 0) and
    scikit-image's astronaut (person 1). `truth` gives each one's box in every frame."""
    import skimage.data

    photo = read_rgb(testdata / "objects/coco8/000000000036.jpg")
    h, w = photo.shape[:2]
    cx, cy, bw, bh = 0.671279, 0.617945, 0.645759, 0.726859  # her COCO box
    woman = photo[
        int((cy - bh / 2) * h) : int((cy + bh / 2) * h),
        int((cx - bw / 2) * w) : int((cx + bw / 2) * w),
    ]
    astronaut = skimage.data.astronaut()[:, 60:420]

    def sized(img: np.ndarray, height: int) -> np.ndarray:
        return cv2.resize(
            img, (img.shape[1] * height // img.shape[0], height), interpolation=cv2.INTER_AREA
        )

    sprites = [sized(woman, 240), sized(astronaut, 200)]
    background = plain_background()
    frames, truth = [], []
    for i in range(4 * fps):
        t = i / fps
        frame = background.copy()
        boxes = {}
        for k in (1, 0):  # the woman is drawn last: in front
            sprite = sprites[k]
            sh, sw = sprite.shape[:2]
            x = int(-60 + 160 * t) if k == 0 else int(WIDTH - 200 - 160 * t)
            y = HEIGHT - sh - (10 if k == 0 else 40)
            x0, x1 = max(0, x), min(WIDTH, x + sw)
            if x1 > x0:
                frame[y : y + sh, x0:x1] = sprite[:, x0 - x : x1 - x]
                boxes[k] = (x0 / WIDTH, y / HEIGHT, x1 / WIDTH, (y + sh) / HEIGHT)
        frames.append(frame)
        truth.append(boxes)
    return CrossingClip(write_clip(folder / "crossing.mp4", frames, fps=fps), fps, truth)


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def corners(box: dict[str, float]) -> tuple[float, float, float, float]:
    """An AWS BoundingBox as (x0, y0, x1, y1) ratios."""
    return (box["Left"], box["Top"], box["Left"] + box["Width"], box["Top"] + box["Height"])


def identities(
    clip: CrossingClip, sightings: list[tuple[int, int, dict[str, float]]]
) -> dict[int, set[int]]:
    """Which Indexes each person of the clip was given: (Timestamp, Index, BoundingBox)
    sightings matched to the made boxes at IoU > 0.5."""
    out: dict[int, set[int]] = {k: set() for k in (0, 1)}
    for timestamp, index, box in sightings:
        made = clip.truth[min(len(clip.truth) - 1, round(timestamp * clip.fps / 1000))]
        if not made:
            continue
        who, overlap = max(
            ((k, box_iou(b, corners(box))) for k, b in made.items()), key=lambda kv: kv[1]
        )
        if overlap > 0.5:
            out[who].add(index)
    return out


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def mot_clip(testdata: Path) -> Path:
    return testdata / "video" / "dlib__MOT20-05-raw_even_shorter.mp4"
