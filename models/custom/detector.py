"""Object detection: a small Fast R-CNN head on frozen EfficientNet-Lite0 feature maps.

- Proposals: dense anchors over the image (square, tall and wide boxes at eight sizes from
  5 % to 80 % of the image's short side, each size on a grid of half its side), so any
  object of a plausible size has a proposal overlapping it at IoU >= 0.5.
- Region features: both activation maps (stride 32 and 16) are reduced by a PCA fitted on
  the training images' maps, then averaged, through summed-area tables (exact for
  fractional boxes), over the box, its four quadrants (where the parts are) and the ring
  around it out to 1.5 times its size (what surrounds it); plus the box's position, size
  and aspect.
- Classification: softmax regression over the labels plus "background", trained on the
  proposals that overlap a ground-truth box at IoU >= 0.5 (and jittered copies of each
  ground-truth box), against background proposals overlapping none above 0.4, most of them
  hard (0.1-0.4: the parts, halves and surroundings of objects) and some easy.
- Box regression: per label, a ridge regression from the region features to the usual
  centre/size deltas toward the ground-truth box.
- Inference: every proposal is scored, the boxes of each label refined by its regression,
  then scored again at their refined place (a second look), and suppressed per label
  (non-maximum suppression at IoU 0.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rekognition_emulator.models.custom import linear
from rekognition_emulator.models.custom.features import FeatureExtractor, FeatureMaps
from rekognition_emulator.models.custom.metrics import iou_matrix

SIDE = 512  # px on the analysed image's long side
ANCHOR_SIZES = tuple(np.geomspace(0.05, 0.8, 8))  # of the short side
ASPECTS = (0.5, 1.0, 2.0)  # width / height
ANCHOR_STEP = 0.5  # grid step, as a share of the anchor's side
PCA32, PCA16 = 96, 48
POSITIVE_IOU, NEGATIVE_IOU, HARD_IOU = 0.5, 0.4, 0.1
JITTERED_COPIES = 8
HARD_NEGATIVES, EASY_NEGATIVES = 60, 40
NMS_IOU = 0.3
MIN_SCORE = 0.02  # detections below this are not worth keeping even for the evaluation
MAX_DETECTIONS = 100
HEAD_L2 = 3e-3
REGRESSION_L2 = 300.0
CONTEXT = 1.5


def anchors(width: int, height: int) -> np.ndarray:
    """The proposals of a width x height image: (n, 4) boxes x0, y0, x1, y1, clipped."""
    short = min(width, height)
    out = []
    for size in ANCHOR_SIZES:
        for aspect in ASPECTS:
            w, h = size * short * np.sqrt(aspect), size * short / np.sqrt(aspect)
            if w > width * 1.05 or h > height * 1.05:
                continue
            step_x, step_y = max(w * ANCHOR_STEP, 4.0), max(h * ANCHOR_STEP, 4.0)
            xs = np.arange(w / 2, width - w / 2 + 1e-6, step_x)
            ys = np.arange(h / 2, height - h / 2 + 1e-6, step_y)
            if len(xs) == 0:
                xs = np.array([width / 2])
            if len(ys) == 0:
                ys = np.array([height / 2])
            cx, cy = np.meshgrid(xs, ys)
            cx, cy = cx.ravel(), cy.ravel()
            out.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1))
    boxes = np.concatenate(out)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes


@dataclass(frozen=True)
class Pca:
    mean: np.ndarray  # (c,)
    basis: np.ndarray  # (c, p)

    @classmethod
    def fit(cls, maps: list[np.ndarray], dims: int) -> Pca:
        x = np.concatenate([m.reshape(m.shape[0], -1).T for m in maps]).astype(np.float64)
        mean = x.mean(axis=0)
        cov = np.cov((x - mean).T)
        vals, vecs = np.linalg.eigh(cov)
        basis = vecs[:, np.argsort(-vals)[:dims]]
        return cls(mean.astype(np.float32), basis.astype(np.float32))

    def __call__(self, fmap: np.ndarray) -> np.ndarray:
        c, h, w = fmap.shape
        flat = fmap.reshape(c, -1).T - self.mean
        return (flat @ self.basis).T.reshape(-1, h, w)


def _integral(fmap: np.ndarray) -> np.ndarray:
    """Summed-area table, channels last, with a zero first row and column: (h + 1, w + 1, c).
    Channels last so that sampling one point gathers one contiguous run of memory."""
    c, h, w = fmap.shape
    table = np.zeros((h + 1, w + 1, c), np.float32)
    table[1:, 1:] = fmap.transpose(1, 2, 0).astype(np.float64).cumsum(axis=0).cumsum(axis=1)
    return table


def _sample(table: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The table at fractional points (bilinear: exact for a map of constant cells)."""
    hp, wp, _ = table.shape
    x = np.clip(x, 0, wp - 1)
    y = np.clip(y, 0, hp - 1)
    x0 = np.minimum(x.astype(int), wp - 2)
    y0 = np.minimum(y.astype(int), hp - 2)
    fx, fy = (x - x0).astype(np.float32)[:, None], (y - y0).astype(np.float32)[:, None]
    top = table[y0, x0] + (table[y0, x0 + 1] - table[y0, x0]) * fx
    bottom = table[y0 + 1, x0] + (table[y0 + 1, x0 + 1] - table[y0 + 1, x0]) * fx
    return top + (bottom - top) * fy


def _rect(corners: dict, xa: str, ya: str, xb: str, yb: str) -> np.ndarray:
    """Sum over the rectangle between two sampled corners (inclusion-exclusion)."""
    return corners[xb, yb] - corners[xa, yb] - corners[xb, ya] + corners[xa, ya]


@dataclass(frozen=True)
class ImageMaps:
    """One image's reduced maps as summed-area tables, and how image px map onto them."""

    table32: np.ndarray
    table16: np.ndarray
    scale: float  # analysed px per image px
    width: int
    height: int


def image_maps(fm: FeatureMaps, pca32: Pca, pca16: Pca, width: int, height: int) -> ImageMaps:
    return ImageMaps(
        _integral(pca32(fm.map32)), _integral(pca16(fm.map16)), fm.scale, width, height
    )


def region_features(im: ImageMaps, boxes: np.ndarray) -> np.ndarray:
    """(n, d) features of image-px boxes: the maps averaged over the box, its four quadrants
    and the ring around it (the box grown CONTEXT times, clipped to the image, minus the
    box); then the box's position, size and aspect. The box and its quadrants share a 3 x 3
    grid of corners, so each map is sampled at 13 points a box."""
    x0, y0, x1, y1 = boxes.T
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    gw, gh = (x1 - x0) * CONTEXT / 2, (y1 - y0) * CONTEXT / 2
    xs = {"0": x0, "c": cx, "1": x1, "g0": np.clip(cx - gw, 0, im.width), "g1": np.clip(cx + gw, 0, im.width)}  # fmt: skip
    ys = {"0": y0, "c": cy, "1": y1, "g0": np.clip(cy - gh, 0, im.height), "g1": np.clip(cy + gh, 0, im.height)}  # fmt: skip
    points = [(a, b) for a in ("0", "c", "1") for b in ("0", "c", "1")]
    points += [("g0", "g0"), ("g0", "g1"), ("g1", "g0"), ("g1", "g1")]
    parts = []
    for table, stride in ((im.table32, 32.0), (im.table16, 16.0)):
        k = im.scale / stride
        corners = {(a, b): _sample(table, xs[a] * k, ys[b] * k) for a, b in points}
        area = np.maximum((x1 - x0) * (y1 - y0) * k * k, 1e-3)[:, None]
        box = _rect(corners, "0", "0", "1", "1")
        quadrants = [
            _rect(corners, "0", "0", "c", "c"),
            _rect(corners, "c", "0", "1", "c"),
            _rect(corners, "0", "c", "c", "1"),
            _rect(corners, "c", "c", "1", "1"),
        ]
        grown_area = (xs["g1"] - xs["g0"]) * (ys["g1"] - ys["g0"]) * k * k
        ring_area = np.maximum(grown_area[:, None] - area, 1e-3)
        ring = (_rect(corners, "g0", "g0", "g1", "g1") - box) / ring_area
        parts += [box / area] + [q / (area / 4) for q in quadrants] + [ring]
    w = np.maximum(x1 - x0, 1.0)
    h = np.maximum(y1 - y0, 1.0)
    geometry = np.stack(
        [
            cx / im.width,
            cy / im.height,
            np.log(w / im.width),
            np.log(h / im.height),
            np.log(w / h),
        ],
        1,
    )
    return np.concatenate(parts + [geometry], axis=1).astype(np.float32)


def deltas(boxes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """R-CNN box deltas from `boxes` to `targets` (both (n, 4) x0, y0, x1, y1)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    tw, th = targets[:, 2] - targets[:, 0], targets[:, 3] - targets[:, 1]
    return np.stack(
        [
            ((targets[:, 0] + targets[:, 2]) - (boxes[:, 0] + boxes[:, 2])) / (2 * w),
            ((targets[:, 1] + targets[:, 3]) - (boxes[:, 1] + boxes[:, 3])) / (2 * h),
            np.log(tw / w),
            np.log(th / h),
        ],
        1,
    )


def apply_deltas(boxes: np.ndarray, d: np.ndarray, width: int, height: int) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + d[:, 0] * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + d[:, 1] * h
    nw, nh = w * np.exp(np.clip(d[:, 2], -1, 1)), h * np.exp(np.clip(d[:, 3], -1, 1))
    out = np.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], 1)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    overlaps = iou_matrix(boxes[order], boxes[order])
    suppressed = np.zeros(len(order), bool)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(order[i])
        suppressed |= overlaps[i] > threshold
    return np.array(keep, int)


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # (n, 4) image px
    scores: np.ndarray  # (n,) 0..1
    classes: np.ndarray  # (n,) label index


@dataclass(frozen=True)
class DetectorHead:
    """A trained detector over `labels` (arrays only: saved and loaded as is)."""

    labels: list[str]
    pca32: Pca
    pca16: Pca
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (d, k + 1); the last column is background
    bias: np.ndarray
    reg_weights: np.ndarray  # (k, d, 4)
    reg_bias: np.ndarray  # (k, 4)

    def _scores(self, feats: np.ndarray) -> np.ndarray:
        return linear.softmax(((feats - self.mean) / self.std) @ self.weights + self.bias)

    def detect(self, extractor: FeatureExtractor, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        im = image_maps(extractor.maps(rgb, SIDE), self.pca32, self.pca16, w, h)
        return self.detect_maps(im)

    def detect_maps(self, im: ImageMaps) -> Detections:
        proposals = anchors(im.width, im.height)
        feats = region_features(im, proposals)
        probs = self._scores(feats)
        x = (feats - self.mean) / self.std
        out_b, out_s, out_c = [], [], []
        for j in range(len(self.labels)):
            idx = np.nonzero(probs[:, j] >= MIN_SCORE)[0]
            if not len(idx):
                continue
            idx = idx[np.argsort(-probs[idx, j], kind="stable")[:300]]
            refined = apply_deltas(
                proposals[idx], x[idx] @ self.reg_weights[j] + self.reg_bias[j], im.width, im.height
            )
            ok = (refined[:, 2] - refined[:, 0] >= 2) & (refined[:, 3] - refined[:, 1] >= 2)
            refined, first = refined[ok], probs[idx[ok], j]
            # The second look: the refined box is scored where it now is; the detection keeps
            # the geometric mean of both scores (a box that moved onto the object gains, one that
            # slid off loses).
            second = self._scores(region_features(im, refined))[:, j]
            scores = np.sqrt(first * second)
            keep = nms(refined, scores, NMS_IOU)
            keep = keep[scores[keep] >= MIN_SCORE]
            out_b.append(refined[keep])
            out_s.append(scores[keep])
            out_c.append(np.full(len(keep), j))
        if not out_b:
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
        boxes, scores, classes = np.concatenate(out_b), np.concatenate(out_s), np.concatenate(out_c)
        order = np.argsort(-scores, kind="stable")[:MAX_DETECTIONS]
        return Detections(boxes[order], scores[order], classes[order])


@dataclass(frozen=True)
class Annotated:
    """A training image: RGB pixels and its boxes (image px) with their label indices."""

    rgb: np.ndarray
    boxes: np.ndarray  # (m, 4)
    classes: np.ndarray  # (m,)


def _jitter(gt: np.ndarray, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    w, h = gt[2] - gt[0], gt[3] - gt[1]
    out = []
    for _ in range(JITTERED_COPIES):
        dx, dy = rng.uniform(-0.12, 0.12, 2) * (w, h)
        sw, sh = np.exp(rng.uniform(-0.2, 0.2, 2))
        cx, cy = (gt[0] + gt[2]) / 2 + dx, (gt[1] + gt[3]) / 2 + dy
        out.append([cx - w * sw / 2, cy - h * sh / 2, cx + w * sw / 2, cy + h * sh / 2])
    boxes = np.array(out)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes


def _flip(a: Annotated) -> Annotated:
    w = a.rgb.shape[1]
    boxes = a.boxes.copy()
    boxes[:, [0, 2]] = w - a.boxes[:, [2, 0]]
    return Annotated(np.ascontiguousarray(a.rgb[:, ::-1]), boxes, a.classes)


def train(
    extractor: FeatureExtractor, images: Sequence[Annotated], labels: Sequence[str], seed: int = 0
) -> DetectorHead:
    """Train the head on annotated images (each also seen mirrored)."""
    labels = list(labels)
    k = len(labels)
    rng = np.random.default_rng(seed)
    seen = [v for a in images for v in (a, _flip(a))]
    maps = [extractor.maps(a.rgb, SIDE) for a in seen]
    # The PCA sees a subsample of cells: enough for 96 directions, cheap for 100s of images.
    step = max(1, len(maps) // 40)
    pca32 = Pca.fit([m.map32 for m in maps[::step]], PCA32)
    pca16 = Pca.fit([m.map16 for m in maps[::step]], PCA16)

    feats, cls, reg_feats, reg_targets, reg_cls = [], [], [], [], []
    for a, fm in zip(seen, maps, strict=True):
        h, w = a.rgb.shape[:2]
        im = image_maps(fm, pca32, pca16, w, h)
        proposals = anchors(w, h)
        if len(a.boxes):
            jittered = np.concatenate([_jitter(g, rng, w, h) for g in a.boxes] + [a.boxes])
            candidates = np.concatenate([proposals, jittered])
            overlaps = iou_matrix(candidates, a.boxes)
            best, which = overlaps.max(axis=1), overlaps.argmax(axis=1)
        else:
            candidates = proposals
            best, which = np.zeros(len(candidates)), np.zeros(len(candidates), int)
        pos = np.nonzero(best >= POSITIVE_IOU)[0]
        hard = np.nonzero((best >= HARD_IOU) & (best < NEGATIVE_IOU))[0]
        easy = np.nonzero(best < HARD_IOU)[0]
        hard = rng.choice(hard, min(len(hard), HARD_NEGATIVES), replace=False)
        easy = rng.choice(easy, min(len(easy), EASY_NEGATIVES + HARD_NEGATIVES - len(hard)), replace=False)  # fmt: skip
        chosen = np.concatenate([pos, hard, easy]).astype(int)
        f = region_features(im, candidates[chosen])
        feats.append(f)
        cls.append(np.where(best[chosen] >= POSITIVE_IOU, a.classes[which[chosen]], k))
        if len(pos):
            reg_feats.append(f[: len(pos)])
            reg_targets.append(deltas(candidates[pos], a.boxes[which[pos]]))
            reg_cls.append(a.classes[which[pos]])
    x = np.concatenate(feats)
    y = np.concatenate(cls).astype(int)
    scaler = linear.Standardiser.fit(x)
    xs = scaler(x).astype(np.float64)
    # Each class (background included) weighs the same in total: positives are the rarer.
    counts = np.bincount(y, minlength=k + 1).astype(float)
    sample_weight = 1.0 / np.maximum(counts[y], 1)
    w_cls, b_cls = linear.fit_softmax(xs, y, k + 1, sample_weight=sample_weight, l2=HEAD_L2)

    d = x.shape[1]
    reg_w, reg_b = np.zeros((k, d, 4)), np.zeros((k, 4))
    if reg_feats:
        rf = scaler(np.concatenate(reg_feats)).astype(np.float64)
        rt, rc = np.concatenate(reg_targets), np.concatenate(reg_cls)
        for j in range(k):
            sel = rc == j
            if sel.sum() >= 2:
                reg_w[j], reg_b[j] = linear.ridge(rf[sel], rt[sel], REGRESSION_L2)
    return DetectorHead(
        labels,
        pca32,
        pca16,
        scaler.mean,
        scaler.std,
        w_cls.astype(np.float32),
        b_cls.astype(np.float32),
        reg_w.astype(np.float32),
        reg_b.astype(np.float32),
    )
