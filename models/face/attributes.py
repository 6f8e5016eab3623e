"""Face attributes measured from the mesh, the iris model and the pixels of an aligned chip.

No packaged model exists for eyeglasses, sunglasses, beard, mustache or occlusion
(shared/design/MODELS.md), so each is a small, documented measurement: the thresholds and
weights below were fitted on the labelled faces of the shared test photos (128 faces, labels
by eye) and their reliability is stated in the README (Face analysis). Every value is a
probability in 0..1 computed from the face itself; nothing is a constant.

The chip: a similarity warp that puts the eye centres at fixed points 48 px apart, so texture
and edge measures compare like with like whatever the face size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rekognition_emulator.models.face import align
from rekognition_emulator.models.face.mesh import Iris

CHIP_W, CHIP_H = 160, 192
CHIP_IOD = 48.0
CHIP_EYE_Y = 72.0


def _sigmoid(x: float) -> float:
    # +-30 keeps the result off exactly 0 and 1 in float64, so its logit can be taken back.
    return float(1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0))))


@dataclass(frozen=True)
class Chip:
    image: np.ndarray  # CHIP_H x CHIP_W x 3 RGB
    points: np.ndarray  # the 468 mesh points in chip pixels (x, y)
    scale: float  # chip pixels per image pixel (> 1 means the face was enlarged)


def make_chip(rgb: np.ndarray, mesh_points: np.ndarray) -> Chip:
    right_eye = mesh_points[[33, 133], :2].mean(axis=0)
    left_eye = mesh_points[[362, 263], :2].mean(axis=0)
    dst = np.array(
        [[CHIP_W / 2 - CHIP_IOD / 2, CHIP_EYE_Y], [CHIP_W / 2 + CHIP_IOD / 2, CHIP_EYE_Y]]
    )
    m = align.similarity_transform(np.array([right_eye, left_eye]), dst)
    image = align.warp(rgb, m, (CHIP_W, CHIP_H))
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    return Chip(image, align.apply(m, mesh_points[:, :2]), scale)


def _box(img: np.ndarray, cx: float, cy: float, w: float, h: float) -> np.ndarray:
    x0 = int(np.clip(round(cx - w / 2), 0, img.shape[1] - 1))
    y0 = int(np.clip(round(cy - h / 2), 0, img.shape[0] - 1))
    x1 = int(np.clip(round(cx + w / 2), x0 + 1, img.shape[1]))
    y1 = int(np.clip(round(cy + h / 2), y0 + 1, img.shape[0]))
    return img[y0:y1, x0:x1]


@dataclass(frozen=True)
class ChipStats:
    """Pixel measurements of the chip that several attributes share (computed once)."""

    lum: np.ndarray  # L of Lab, float32
    a: np.ndarray  # a* of Lab (red-green), float32
    lap: np.ndarray  # |Laplacian| of L: fine texture (hair, stubble)
    ridge_y: np.ndarray  # thin horizontal lines (a spectacle frame's bridge)
    cheek_lum: float
    cheek_a: float
    cheek_tex: float
    cheek_ridge: float


def chip_stats(chip: Chip) -> ChipStats:
    lab = cv2.cvtColor(chip.image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lum, a = lab[:, :, 0], lab[:, :, 1]
    lap = np.abs(cv2.Laplacian(lum, cv2.CV_32F, ksize=3))
    smooth = cv2.GaussianBlur(lum, (3, 3), 0)
    ridge_y = np.abs(smooth - (np.roll(smooth, 2, 0) + np.roll(smooth, -2, 0)) / 2)
    q = chip.points
    # The upper cheeks (mesh 50 and 280, under the eyes) are the skin reference: rarely
    # covered by hair, beard, glasses or shadow.
    cheeks = [(q[50, 0], q[50, 1]), (q[280, 0], q[280, 1])]

    def ref(img: np.ndarray, fn) -> float:
        return float(fn(np.concatenate([_box(img, x, y, 12, 10).ravel() for x, y in cheeks])))

    return ChipStats(
        lum,
        a,
        lap,
        ridge_y,
        ref(lum, np.median),
        ref(a, np.median),
        ref(lap, np.mean),
        ref(ridge_y, np.mean),
    )


# --- eyes, mouth, smile --------------------------------------------------------------------


def eye_opening(iris: Iris) -> float:
    """Lid opening / eye width, from the iris model's 16-point eyelid contour (0 = closed)."""
    contour = iris.eye_contour[:16]
    a, b = contour[0], contour[8]  # the two eye corners
    width = float(np.linalg.norm(b - a))
    if width < 1e-6:
        return 0.0
    axis = (b - a) / width
    normal = np.array([-axis[1], axis[0]])
    proj = (contour - a) @ normal
    return float((proj.max() - proj.min()) / width)


def eyes_open(right: Iris, left: Iris) -> float:
    # Open eyes measure 0.20-0.38 on the test faces, closed or squeezed shut 0.14-0.17.
    opening = (eye_opening(right) + eye_opening(left)) / 2.0
    return _sigmoid((opening - 0.185) / 0.012)


def _dist(p: np.ndarray, i: int, j: int) -> float:
    return float(np.linalg.norm(p[i, :2] - p[j, :2]))


def mouth_open(mesh_points: np.ndarray) -> float:
    # Inner-lip gap over mouth width: closed lips 0.00-0.05, parted lips and toothy smiles
    # from 0.09 up, talking or laughing 0.3-0.5.
    gap = _dist(mesh_points, 13, 14) / max(_dist(mesh_points, 61, 291), 1e-6)
    return _sigmoid((gap - 0.07) / 0.012)


def mouth_curve(chip: Chip) -> float:
    """Lift of the mouth corners above the lips' centre, over mouth width (upright chip)."""
    q = chip.points
    width = max(float(np.linalg.norm(q[291] - q[61])), 1e-6)
    return float(((q[13, 1] + q[14, 1]) / 2 - (q[61, 1] + q[291, 1]) / 2) / width)


def smile(chip: Chip, happy: float) -> float:
    """Mouth geometry and the expression model's HAPPY, half and half.

    Either alone misleads: a talking mouth lifts its corners, and a happy face may keep its
    mouth closed. Neutral mouths curve -0.03..0.04, smiles 0.06..0.13.
    """
    geometry = _sigmoid((mouth_curve(chip) - 0.05) / 0.015)
    return 0.5 * geometry + 0.5 * happy


# --- gaze --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gaze:
    yaw: float  # degrees, relative to the camera, > 0 towards the image's right
    pitch: float  # degrees, > 0 upwards
    reliability: float  # 0..1: low when eyes are small, closed or blurred


# An eyeball's radius is about 0.42 of the eye's corner-to-corner width (12 mm / 28.5 mm).
EYEBALL_RADIUS_PER_EYE_WIDTH = 0.42
# The iris centre sits a little above the corners' line when looking straight ahead.
IRIS_REST_OFFSET = -0.06


def gaze(right: Iris, left: Iris, head_yaw: float, head_pitch: float, openness: float) -> Gaze:
    """Eye direction = head pose + the eyes' rotation in the head, read from the iris offset.

    The iris centre's offset from the midpoint of the eye corners, in eyeball radii, is the
    sine of the eye's rotation. Both eyes are averaged.
    """
    yaws, pitches, widths = [], [], []
    for eye in (right, left):
        a, b = eye.eye_contour[0], eye.eye_contour[8]
        if a[0] > b[0]:
            a, b = b, a
        width = float(np.linalg.norm(b - a))
        if width < 1e-6:
            continue
        axis = (b - a) / width
        normal = np.array([-axis[1], axis[0]])  # points down in the image
        offset = eye.center - (a + b) / 2
        radius = width * EYEBALL_RADIUS_PER_EYE_WIDTH
        sx = float(np.clip(offset @ axis / radius, -1, 1))
        sy = float(np.clip(offset @ normal / width - IRIS_REST_OFFSET, -1, 1) * width / radius)
        yaws.append(np.degrees(np.arcsin(sx)))
        pitches.append(-np.degrees(np.arcsin(np.clip(sy, -1, 1))))
        widths.append(width)
    if not yaws:
        return Gaze(head_yaw, head_pitch, 0.0)
    size = min(1.0, float(np.mean(widths)) / 12.0)  # an eye under ~12 px wide is a guess
    return Gaze(
        float(np.clip(head_yaw + np.mean(yaws), -180, 180)),
        float(np.clip(head_pitch + np.mean(pitches), -180, 180)),
        float(size * openness),
    )


# --- spectacles ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spectacles:
    eyeglasses: float
    sunglasses: float


def spectacles(chip: Chip, stats: ChipStats) -> Spectacles:
    q = chip.points
    # Bridge: a frame's bridge is a thin horizontal line between the eyes at eye level; bare
    # skin there is smooth. Strongest row of line response, over the cheeks' response.
    x0, x1 = q[133, 0] + 3, q[362, 0] - 3
    band = _box(stats.ridge_y, (x0 + x1) / 2, CHIP_EYE_Y - 5, max(x1 - x0, 4), 18)
    bridge = float(band.mean(axis=1).max()) / (stats.cheek_ridge + 0.5)
    # Frames: bare faces score 2.2 (median) and 3.9 (90th percentile), framed ones 2-16
    # (median 6.2); the threshold keeps false alarms near 5 % and finds about 2 in 3 frames.
    framed = _sigmoid((bridge - 4.8) / 0.7)
    # Dark lenses: the eye boxes are uniformly dark against the cheeks. Bare eyes show sclera
    # and lids: their 90th percentile is 0.73-2.2 of the cheek level; lenses stay under ~0.5.
    eyes = np.concatenate(
        [
            _box(stats.lum, q[[33, 133], 0].mean(), q[[159, 145], 1].mean(), 20, 12).ravel(),
            _box(stats.lum, q[[362, 263], 0].mean(), q[[386, 374], 1].mean(), 20, 12).ravel(),
        ]
    )
    level = float(np.percentile(eyes, 90)) / max(stats.cheek_lum, 1.0)
    dark = _sigmoid((0.55 - level) / 0.05)
    sunglasses = dark * max(framed, 0.6)  # a lens needs a frame, but a dark frame hides edges
    eyeglasses = max(framed, sunglasses)  # sunglasses are eyewear too, as Rekognition counts
    return Spectacles(eyeglasses, sunglasses)


# --- facial hair ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FacialHair:
    beard: float
    mustache: float


def facial_hair(chip: Chip, stats: ChipStats) -> FacialHair:
    q = chip.points
    mouth_w = float(q[291, 0] - q[61, 0])
    # Between the nose base and the upper lip.
    top, bottom = q[2, 1] + 1, q[0, 1] - 1
    args = (q[0, 0], (top + bottom) / 2, mouth_w * 0.8, max(bottom - top, 3))
    m_dark = float(np.median(_box(stats.lum, *args))) / max(stats.cheek_lum, 1.0)
    m_tex = float(_box(stats.lap, *args).mean()) / (stats.cheek_tex + 1.0)
    m_red = float(np.median(_box(stats.a, *args))) - stats.cheek_a
    # Between the lower lip and the chin.
    top, bottom = q[17, 1] + 2, q[152, 1] - 2
    args = (q[17, 0], (top + bottom) / 2, mouth_w * 0.8, max(bottom - top, 3))
    c_dark = float(np.median(_box(stats.lum, *args))) / max(stats.cheek_lum, 1.0)
    c_tex = float(_box(stats.lap, *args).mean()) / (stats.cheek_tex + 1.0)
    c_red = float(np.median(_box(stats.a, *args))) - stats.cheek_a
    # Logistic weights fitted on the labelled test faces (hair is darker, more textured and
    # less red than the cheek). Leave-one-out: mustache found 10 of 21 with 2 false alarms in
    # 106 faces; beard 10 of 19 with 2 false alarms in 103.
    mustache = _sigmoid(-3.5 * m_dark + 1.4 * m_tex - 0.08 * m_red - 1.3)
    beard = _sigmoid(-2.0 * c_dark + 1.05 * c_tex - 0.11 * c_red + 1.03 * m_tex - 3.6)
    return FacialHair(beard, mustache)


# --- occlusion ---------------------------------------------------------------------------

# Regions of the face (mesh points whose centre the region is taken around, on the chip):
# what an occluder covers, and what Rekognition says FaceOccluded is about (eyes, nose, mouth).
OCCLUSION_REGIONS = {
    "right_eye": (33, 133, 159, 145),
    "left_eye": (362, 263, 386, 374),
    "nose": (1, 2, 98, 327),
    "mouth": (61, 291, 13, 14, 0, 17),
    "chin": (17, 152, 200, 199),
}
# Chip pixels (eyes 48 apart) of the window each region is measured in.
REGION_W, REGION_H = 30, 18
# A region whose luminance varies less than this (std of L*, 0..255) is featureless: a face's
# eyes, nostrils, lips and chin crease always vary more (unoccluded portraits: the flattest
# region 7.9 at the 5th percentile; faces of the group photos 5.8), a band, a disc, a mask,
# a phone or dark lenses do not.
FLAT_STD = 3.5
# YuNet's five points and the mesh's disagree by this share of the eye distance when part of
# the face is hidden (each model fills the hidden part in its own way): unoccluded faces
# 0.10 median, 0.17 at the 90th percentile; half a face covered 0.29-0.40 median.
DISAGREEMENT = 0.25


@dataclass(frozen=True)
class OcclusionSignals:
    outside: float  # share of the face box outside the photo
    presence: float  # the mesh model's face-presence score
    flattest: float  # std of L* of the most featureless region (OCCLUSION_REGIONS)
    flattest_region: str
    disagreement: float  # mean distance of YuNet's 5 points to the mesh's, over eye distance


def occlusion_signals(
    chip: Chip,
    stats: ChipStats,
    mesh_points: np.ndarray,
    points5: np.ndarray,
    presence: float,
    box: tuple[float, float, float, float],
    shape: tuple[int, int],
) -> OcclusionSignals:
    x, y, w, h = box
    height, width = shape
    inside_w = max(0.0, min(x + w, width) - max(x, 0.0))
    inside_h = max(0.0, min(y + h, height) - max(y, 0.0))
    outside = 1.0 - (inside_w * inside_h) / max(w * h, 1e-6)
    q = chip.points
    spread = {
        name: float(_box(stats.lum, *q[list(idx)].mean(axis=0), REGION_W, REGION_H).std())
        for name, idx in OCCLUSION_REGIONS.items()
    }
    flattest = min(spread, key=spread.__getitem__)
    m = mesh_points
    mesh5 = np.array(
        [m[[33, 133], :2].mean(0), m[[362, 263], :2].mean(0), m[1, :2], m[61, :2], m[291, :2]]
    )
    iod = max(float(np.linalg.norm(points5[1] - points5[0])), 1e-6)
    disagreement = float(np.linalg.norm(mesh5 - points5, axis=1).mean()) / iod
    return OcclusionSignals(outside, presence, spread[flattest], flattest, disagreement)


def occlusion(signals: OcclusionSignals) -> float:
    """Probability that part of the face (eyes, nose, mouth) is hidden or cut off.

    Any one of four measurements suffices (their noisy-OR): the face box reaching out of the
    photo (a cut-off face); the mesh model's face-presence score falling (a face behind hair:
    0.3); a region of the face with no detail at all (covered by something uniform: a band, a
    mask, a phone, dark lenses); or the two landmark models disagreeing on where the eyes,
    nose and mouth are (each fills a hidden part in its own way: a hand, half a face). The
    first two are steep, so on a face that is whole and inside the photo the answer follows
    the last two, which vary from face to face.
    """
    terms = (
        _sigmoid((signals.outside - 0.15) / 0.015),
        _sigmoid((0.7 - signals.presence) / 0.03),
        _sigmoid((FLAT_STD - signals.flattest) / 0.5),
        _sigmoid((signals.disagreement - DISAGREEMENT) / 0.02),
    )
    return 1.0 - float(np.prod([1.0 - t for t in terms]))
