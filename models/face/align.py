"""Geometry shared by the face models: similarity fits, warps and the crop templates they use.

Each network was trained on face crops made a particular way; feeding it a crop made another
way costs accuracy silently. The templates below reproduce those crops from our own landmarks.
"""

from __future__ import annotations

import cv2
import numpy as np

# ArcFace / SFace 112x112 template for the five YuNet points (right eye, left eye, nose tip,
# right mouth corner, left mouth corner; "right" = the subject's right = image left). SFace
# was trained on crops aligned to exactly these positions (OpenCV's FaceRecognizerSF.alignCrop).
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)

# dlib's 5-point chip template (get_face_chip_details), in unit-square coordinates before
# padding. The age and gender networks were trained on chips made by it from dlib's 5-point
# shape predictor: outer and inner corner of the image-right eye, outer and inner corner of the
# image-left eye, and the base of the nose (subnasale). We feed the same five points, taken
# from the face mesh.
DLIB_CHIP_5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ],
    dtype=np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares similarity (rotation, uniform scale, shift) src -> dst.

    Umeyama's closed form: deterministic, no RANSAC (cv2.estimateAffinePartial2D's default
    would make the crop depend on a random sample).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (s**2).sum() / len(src)
    scale = float((sig * np.diag(sign)).sum() / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def rotated_square(center: tuple[float, float], size: float, angle: float, out: int) -> np.ndarray:
    """2x3 matrix mapping an image square (centre, side, rotation in radians) onto out x out.

    The square is rotated by `angle` so that a face tilted by `angle` comes out upright.
    """
    c, s = np.cos(angle), np.sin(angle)
    k = out / size
    # Rotate by -angle about the centre, scale, then move the centre to the middle of the crop.
    a = np.array([[c, s], [-s, c]]) * k
    t = np.array([out / 2.0, out / 2.0]) - a @ np.asarray(center, dtype=np.float64)
    return np.hstack([a, t[:, None]])


def warp(image: np.ndarray, m: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Crop by an affine matrix; pixels outside the image repeat the border.

    When the crop shrinks the face a lot, the image is pre-blurred by area resampling first:
    a bilinear warp alone would alias (networks trained on clean chips see the difference).
    """
    w, h = (size, size) if isinstance(size, int) else size
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    f = max(1, int(1.0 / scale / 1.5)) if scale > 0 else 1
    if f > 1:
        # Shrink by an integer factor first (area averaging), then warp the rest. Only the
        # part of the image the crop reads is shrunk: the whole photo would cost far more.
        corners = apply(invert(m), np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64))
        x0 = int(np.clip(np.floor(corners[:, 0].min()) - 2 * f, 0, image.shape[1]))
        y0 = int(np.clip(np.floor(corners[:, 1].min()) - 2 * f, 0, image.shape[0]))
        x1 = int(np.clip(np.ceil(corners[:, 0].max()) + 2 * f, 0, image.shape[1]))
        y1 = int(np.clip(np.ceil(corners[:, 1].max()) + 2 * f, 0, image.shape[0]))
        if x1 - x0 >= f and y1 - y0 >= f:
            region = image[y0:y1, x0:x1]
            small = cv2.resize(
                region,
                (max(1, (x1 - x0) // f), max(1, (y1 - y0) // f)),
                interpolation=cv2.INTER_AREA,
            )
            sx = (x1 - x0) / small.shape[1]
            sy = (y1 - y0) / small.shape[0]
            # A point of `small` is image point (x0 + sx * u, y0 + sy * v); fold that into m.
            m = m @ np.array([[sx, 0, x0], [0, sy, y0], [0, 0, 1]], dtype=np.float64)
            image = small
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def invert(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(m, dtype=np.float64))


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to an N x 2 array of points."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def dlib_chip_matrix(points5: np.ndarray, size: int, padding: float = 0.2) -> np.ndarray:
    """Matrix of dlib's `get_face_chip_details(shape, size, padding)` for five dlib-order points."""
    template = (DLIB_CHIP_5 + padding) / (2 * padding + 1) * size
    return similarity_transform(points5, template)
