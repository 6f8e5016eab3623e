"""Faces at any in-plane rotation, with their five points in anatomical order.

YuNet was trained on upright faces. Measured on the shared portraits: turned by 90 degrees it
misses 48 of 73 faces, and on the faces it finds turned by 90 or 180 degrees it places the
points as if the face were upright (eyes at the top of the box whatever the face does), so
the alignment that every later model relies on is upside down. Two remedies:

- Orientation check, every face YuNet is not sure of (score under 0.92, or eye line tilted
  by more than 10 degrees): the face's own
  surroundings (a square twice the box, turned by the eye line's tilt) are shown to YuNet at
  the four quarter turns, 128 px a side (0.8 ms each on 2 cores). An upright face scores
  highest upright: on the 43 faces of the shared photos checked, upright always won, by
  0.02 to 0.9. When another turn wins, the
  face is detected again on the crop turned that way (up to 320 px), and its box and points
  are mapped back to the photo. (Finer tilts are the analyzer's: YuNet reads a tilt short,
  the face mesh does not; `redetect` then finds the face again at the mesh's angle.)
- Rotated passes, only when the upright pass finds nothing: the photo turned by 90, 270 and
  180 degrees (exact pixel rotations, at most 640 px a side), so a photo taken sideways
  costs three more passes and an ordinary one costs nothing more.

The boxes stay axis-aligned in the photo: a face turned by a quarter turn gets its box with
width and height exchanged; a face turned by another angle keeps its own width and height,
centred on it (the rotated box's axis-aligned hull would be up to 1.4 times too large).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rekognition_emulator.models.face import align
from rekognition_emulator.models.face.detector import Detection

CHECK_SIDE = 128  # px of the orientation-check crops (0.8 ms each; at 96 px a portrait
# turned by 45 degrees was once read the wrong quarter round)
# YuNet scores a turned face lower than an upright one: on the shared portraits turned by 90,
# 180 and 270 degrees at most 0.880, 0.904 and 0.843, upright at least 0.911. A face scored
# this high is taken as upright without the check (most faces of ordinary photos).
SURE_UPRIGHT = 0.92
LEVEL = np.radians(10.0)  # ...and whose eye line YuNet reads level (a face turned by 45
# degrees can score as high, and its reading, though short, is over 10 degrees)
REFINE_MIN, REFINE_MAX = 128, 320  # px of the crop a turned face is detected again on
CROP_SCALE = 2.0  # crops are this many times the face box, so YuNet sees the head whole
ROTATED_PASS_SIDE = 640
DUPLICATE_IOU = 0.5

Detect = Callable[[np.ndarray], list[Detection]]


def eye_line_angle(points: np.ndarray) -> float:
    """Tilt of the line from the subject's right eye to the left eye, radians (0: level)."""
    return float(np.arctan2(points[1, 1] - points[0, 1], points[1, 0] - points[0, 0]))


def find_faces(rgb: np.ndarray, detect: Detect) -> list[Detection]:
    """Every face YuNet finds at any in-plane rotation, points anatomically ordered."""
    found = detect(rgb)
    if not found:
        found = rotated_passes(rgb, detect)
    faces = [upright(rgb, det, detect) for det in found]
    return _dedupe(faces)


def rotated_passes(rgb: np.ndarray, detect: Detect) -> list[Detection]:
    """Detections on the photo turned by 90, 270 and 180 degrees, mapped back to it."""
    h, w = rgb.shape[:2]
    scale = min(1.0, ROTATED_PASS_SIDE / max(h, w))
    if scale < 1.0:
        import cv2

        small = cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    else:
        small = rgb
    sh, sw = small.shape[:2]
    out: list[Detection] = []
    for quarter in (1, 3, 2):
        turned = np.ascontiguousarray(np.rot90(small, quarter))  # counter-clockwise turns
        back = _unrotate_matrix(quarter, sw, sh) / scale
        for det in detect(turned):
            out.append(_mapped(det, back, swap=quarter % 2 == 1))
    return out


def _unrotate_matrix(quarter: int, w: int, h: int) -> np.ndarray:
    """2x3 matrix from pixels of np.rot90(image, quarter) back to the image (w x h)."""
    if quarter == 1:  # a point (x', y') of the turned view is (w - y', x') of the image
        return np.array([[0.0, -1.0, w], [1.0, 0.0, 0.0]])
    if quarter == 2:  # ... (w - x', h - y')
        return np.array([[-1.0, 0.0, w], [0.0, -1.0, h]])
    if quarter == 3:  # ... (y', h - x')
        return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, h]])
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _mapped(det: Detection, m: np.ndarray, *, swap: bool) -> Detection:
    """`det` (found in a turned or cropped view) in the pixels `m` maps that view to."""
    x, y, bw, bh = det.box
    centre = align.apply(m, np.array([[x + bw / 2.0, y + bh / 2.0]]))[0]
    k = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    bw, bh = (bh, bw) if swap else (bw, bh)
    bw, bh = bw * k, bh * k
    box = (float(centre[0] - bw / 2.0), float(centre[1] - bh / 2.0), float(bw), float(bh))
    return Detection(box, align.apply(m, det.points), det.score)


def _central(dets: list[Detection], side: int) -> Detection | None:
    """The detection of a crop that is the face the crop was made around (the central one)."""
    best, best_score = None, 0.0
    for d in dets:
        x, y, w, h = d.box
        cx, cy = x + w / 2.0, y + h / 2.0
        off = max(abs(cx - side / 2.0), abs(cy - side / 2.0))
        if off < 0.25 * side and max(w, h) > 0.2 * side and d.score > best_score:
            best, best_score = d, d.score
    return best


def upright(rgb: np.ndarray, det: Detection, detect: Detect) -> Detection:
    """`det` with its orientation checked, and detected again upright when it was turned."""
    tilt = eye_line_angle(det.points)
    if det.score >= SURE_UPRIGHT and abs(tilt) <= LEVEL:
        return det
    x, y, w, h = det.box
    centre = (x + w / 2.0, y + h / 2.0)
    size = CROP_SCALE * max(w, h)
    scores = []
    for quarter in range(4):
        m = align.rotated_square(centre, size, tilt + quarter * np.pi / 2.0, CHECK_SIDE)
        hit = _central(detect(align.warp(rgb, m, CHECK_SIDE)), CHECK_SIDE)
        scores.append(hit.score if hit is not None else 0.0)
    quarter = int(np.argmax(scores))
    if scores[quarter] <= 0.0 or quarter == 0:
        return det  # upright (or nothing better seen): YuNet's own answer stands
    return redetect(rgb, det, tilt + quarter * np.pi / 2.0, detect) or det


def redetect(rgb: np.ndarray, det: Detection, angle: float, detect: Detect) -> Detection | None:
    """`det` found again on a crop around it turned by `angle` (radians, the face's tilt), so
    that YuNet sees the face upright; None when it does not find it there.

    YuNet's points follow a tilted face only part of the way (a face turned by 45 degrees
    reads 0-30): a face whose true tilt is known from elsewhere (the face mesh) is detected
    again this way for points that follow it.
    """
    x, y, w, h = det.box
    centre = (x + w / 2.0, y + h / 2.0)
    size = CROP_SCALE * max(w, h)
    side = int(np.clip(round(size), REFINE_MIN, REFINE_MAX))
    m = align.rotated_square(centre, size, angle, side)
    hit = _central(detect(align.warp(rgb, m, side)), side)
    if hit is None:
        return None
    # Quarter turns exchange width and height in the photo's axes (module docstring).
    turns = int(round(angle / (np.pi / 2.0))) % 2
    return _mapped(hit, align.invert(m), swap=turns == 1)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def _dedupe(faces: list[Detection]) -> list[Detection]:
    """One detection a face: views that found the same face agree after mapping back."""
    kept: list[Detection] = []
    for f in sorted(faces, key=lambda d: -d.score):
        if all(_iou(f.box, k.box) < DUPLICATE_IOU for k in kept):
            kept.append(f)
    return kept
