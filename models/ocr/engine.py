"""PP-OCRv6 text reading with our own pre- and post-processing (onnxruntime only).

Three models from the rapidocr wheel (Apache-2.0 PaddleOCR weights), run directly:
1. detection (DB, "Differentiable Binarization"): a per-pixel text probability map. The map is
   thresholded (0.3), each connected region becomes its minimum-area rectangle, regions whose
   mean probability is under 0.5 are dropped, and each rectangle is grown ("unclipped") by
   d = area * 1.6 / perimeter on every side, because DB is trained on shrunk text kernels.
2. orientation (0 or 180 degrees) on each line crop, so upside-down text is turned upright.
3. recognition (CTC): per time step, a distribution over the model's 18,708 characters plus
   the CTC blank and a space. Greedy decoding keeps each step's best symbol, merges repeats and
   drops blanks. The step at which each character was read gives its position along the line,
   which splits the line into words with their own boxes.

Lines come out in reading order: their centres are turned by the page's dominant text angle,
grouped into rows and read left to right.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

DET_MIN_SIDE = 736  # PP-OCR's default: small pages are enlarged until the short side is 736
DET_MAX_SIDE = 1920  # large photos are reduced (speed; text under 10 px is lost either way)
DET_THRESHOLD = 0.3
BOX_THRESHOLD = 0.5
UNCLIP_RATIO = 1.6
CLS_SHAPE = (48, 192)
CLS_THRESHOLD = 0.9
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
# A line box wider than this many heights per character read is not text: DB lights up on
# large smooth shapes (a cup, a cat's eye) when a photo is enlarged, and the recogniser then
# reads one or two confident characters into the whole blob. Printed text measures 0.3-0.5
# (unclipped box height per character); a lone wide glyph such as "W" about 1.
MAX_WIDTH_PER_CHAR = 1.1
BATCH = 16  # lines per recognition run: fewer, larger runs are cheaper per line


@dataclass(frozen=True)
class OcrWord:
    text: str
    confidence: float  # 0..1: mean probability of its characters
    polygon: np.ndarray  # 4 x 2 image pixels: top-left, top-right, bottom-right, bottom-left


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    polygon: np.ndarray
    words: tuple[OcrWord, ...]


@dataclass
class _Region:
    quad: np.ndarray  # 4 x 2, tl tr br bl in image pixels, in the text's reading direction
    score: float
    text: str = ""
    conf: float = 0.0
    words: tuple[OcrWord, ...] = ()


def _order_quad(pts: np.ndarray) -> np.ndarray:
    """tl, tr, br, bl of a rectangle, the long side taken as the text direction."""
    pts = pts[np.argsort(pts[:, 0] + 1e-6 * pts[:, 1])]
    left, right = pts[:2], pts[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], np.float32)


class TextReader:
    """`read(rgb)` -> lines in reading order. Factories return onnxruntime sessions."""

    def __init__(
        self,
        det: Callable[[], object],
        cls: Callable[[], object],
        rec: Callable[[], object],
        characters: Callable[[], list[str]],
    ) -> None:
        self._det, self._cls, self._rec, self._characters = det, cls, rec, characters

    # --- detection ---------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> list[_Region]:
        h, w = rgb.shape[:2]
        ratio = 1.0
        if min(h, w) < DET_MIN_SIDE:
            ratio = DET_MIN_SIDE / min(h, w)
        if max(h, w) * ratio > DET_MAX_SIDE:
            ratio = DET_MAX_SIDE / max(h, w)
        nh = max(32, int(round(h * ratio / 32)) * 32)
        nw = max(32, int(round(w * ratio / 32)) * 32)
        interp = cv2.INTER_AREA if nh < h else cv2.INTER_LINEAR
        x = cv2.resize(rgb, (nw, nh), interpolation=interp).astype(np.float32)
        x = (x / 255.0 - 0.5) / 0.5
        prob = self._det().run(None, {"x": x.transpose(2, 0, 1)[None]})[0][0, 0]
        # A 2x2 dilation joins characters that the threshold split (PP-OCR does the same).
        binary = cv2.dilate((prob > DET_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = w / nw, h / nh
        regions = []
        for contour in contours[:1000]:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < 3:
                continue
            score = self._region_score(prob, contour)
            if score < BOX_THRESHOLD:
                continue
            (cx, cy), (rw, rh), angle = rect
            d = rw * rh * UNCLIP_RATIO / (2 * (rw + rh))
            grown = ((cx, cy), (rw + 2 * d, rh + 2 * d), angle)
            if min(grown[1]) < 5:
                continue
            quad = cv2.boxPoints(grown) * np.array([sx, sy], np.float32)
            quad[:, 0] = np.clip(quad[:, 0], 0, w - 1)
            quad[:, 1] = np.clip(quad[:, 1], 0, h - 1)
            regions.append(_Region(_order_quad(quad), score))
        return regions

    @staticmethod
    def _region_score(prob: np.ndarray, contour: np.ndarray) -> float:
        x, y, bw, bh = cv2.boundingRect(contour)
        mask = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(mask, [contour.reshape(-1, 2) - [x, y]], 1)
        return float(cv2.mean(prob[y : y + bh, x : x + bw], mask)[0])

    # --- crops, orientation, recognition -----------------------------------------------
    @staticmethod
    def _crop(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
        w = max(
            1, int(round(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3]))))
        )
        h = max(
            1, int(round(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1]))))
        )
        dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
        return cv2.warpPerspective(
            rgb, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )

    @staticmethod
    def _norm(img: np.ndarray, height: int, width: int, max_width: int) -> np.ndarray:
        resized = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
        out = np.zeros((3, height, max_width), np.float32)  # 0 = mid grey after normalising
        out[:, :, :width] = ((resized.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
        return out

    def _orient(self, crops: list[np.ndarray]) -> tuple[list[bool], bool]:
        """True where the crop reads upside down.

        A page is printed one way up, so the lines vote (each by its length) and the page's
        answer applies to every line; a line overrides it only when its own verdict is clear
        (CLS_THRESHOLD). Single lines are short and often ambiguous, the page rarely is.
        Returns each line's verdict and the page's.
        """
        h, w = CLS_SHAPE
        p180 = []
        for i in range(0, len(crops), BATCH):
            batch = []
            for c in crops[i : i + BATCH]:
                cw = min(w, max(1, int(math.ceil(h * c.shape[1] / c.shape[0]))))
                batch.append(self._norm(c, h, cw, w))
            out = self._cls().run(None, {"x": np.stack(batch)})[0]
            p180 += [float(o[1] / max(o[0] + o[1], 1e-9)) for o in out]
        lengths = np.array([c.shape[1] / c.shape[0] for c in crops])
        page_flipped = float(np.dot(lengths, p180) / lengths.sum()) > 0.5
        flips = []
        for p in p180:
            if p >= CLS_THRESHOLD:
                flips.append(True)
            elif p <= 1.0 - CLS_THRESHOLD:
                flips.append(False)
            else:
                flips.append(page_flipped)
        return flips, page_flipped

    def _recognise(
        self, crops: list[np.ndarray]
    ) -> list[tuple[str, list[float], list[float], int]]:
        """Per crop: text, each character's probability, each character's x in crop pixels,
        and (unused) padding; batches are built from crops of similar aspect ratio."""
        chars = self._characters()
        ratios = [c.shape[1] / c.shape[0] for c in crops]
        order = np.argsort(ratios, kind="stable")
        results: list[tuple[str, list[float], list[float], int] | None] = [None] * len(crops)
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            max_w = max(REC_MIN_WIDTH, int(math.ceil(REC_HEIGHT * max(ratios[j] for j in idx))))
            widths = [min(max_w, max(1, int(math.ceil(REC_HEIGHT * ratios[j])))) for j in idx]
            batch = np.stack(
                [
                    self._norm(crops[j], REC_HEIGHT, wj, max_w)
                    for j, wj in zip(idx, widths, strict=True)
                ]
            )
            probs = self._rec().run(None, {"x": batch})[0]
            steps = probs.shape[1]
            for j, wj, p in zip(idx, widths, probs, strict=True):
                best = p.argmax(axis=1)
                text, cps, xs = [], [], []
                prev = 0
                for t, k in enumerate(best):
                    if k != 0 and k != prev:
                        text.append(chars[k - 1] if k - 1 < len(chars) else " ")
                        cps.append(float(p[t, k]))
                        # Step t covers input columns [t, t+1) * max_w / steps.
                        xs.append((t + 0.5) * max_w / steps * crops[j].shape[1] / wj)
                    prev = k
                results[j] = ("".join(text), cps, xs, steps)
        return results  # type: ignore[return-value]

    # --- words and order ---------------------------------------------------------------
    @staticmethod
    def _words(
        region: _Region, crop_w: int, text: str, cps: list[float], xs: list[float]
    ) -> tuple[OcrWord, ...]:
        q = region.quad
        along = (q[1] - q[0]) / max(crop_w, 1)  # image displacement per crop pixel
        down = q[3] - q[0]
        # Half a character pitch of margin on each side of a word.
        pitch = float(np.median(np.diff(xs))) if len(xs) > 1 else crop_w / max(len(text), 1)
        words, cur = [], []
        for ch, cp, x in zip(text, cps, xs, strict=True):
            if ch == " ":
                if cur:
                    words.append(cur)
                cur = []
            else:
                cur.append((ch, cp, x))
        if cur:
            words.append(cur)
        out = []
        for wd in words:
            x0 = max(0.0, wd[0][2] - 0.6 * pitch)
            x1 = min(float(crop_w), wd[-1][2] + 0.6 * pitch)
            tl, tr = q[0] + along * x0, q[0] + along * x1
            poly = np.array([tl, tr, tr + down, tl + down], np.float32)
            out.append(
                OcrWord("".join(c for c, _, _ in wd), float(np.mean([p for _, p, _ in wd])), poly)
            )
        return tuple(out)

    @staticmethod
    def _reading_order(lines: list[_Region]) -> list[_Region]:
        if not lines:
            return lines
        vec = np.array([r.quad[1] - r.quad[0] for r in lines])
        # Circular mean: an upside-down page has angles near +pi and -pi at once.
        a = np.arctan2(vec[:, 1], vec[:, 0])
        angle = float(np.arctan2(np.sin(a).sum(), np.cos(a).sum()))
        c, s = math.cos(-angle), math.sin(-angle)
        centres = np.array([r.quad.mean(axis=0) for r in lines])
        rx = centres[:, 0] * c - centres[:, 1] * s
        ry = centres[:, 0] * s + centres[:, 1] * c
        heights = np.array([np.linalg.norm(r.quad[3] - r.quad[0]) for r in lines])
        tol = 0.5 * float(np.median(heights))
        rows: list[list[int]] = []
        for i in np.argsort(ry, kind="stable"):
            if rows and abs(ry[i] - np.mean([ry[j] for j in rows[-1]])) <= tol:
                rows[-1].append(int(i))
            else:
                rows.append([int(i)])
        return [lines[i] for row in rows for i in sorted(row, key=lambda j: rx[j])]

    def read(self, rgb: np.ndarray) -> list[OcrLine]:
        regions = self.detect(rgb)
        if not regions:
            return []
        crops = [self._crop(rgb, r.quad) for r in regions]
        # Tall narrow regions are vertical text: read them turned a quarter (counter-clockwise).
        for i, (r, c) in enumerate(zip(regions, crops, strict=True)):
            if c.shape[0] >= 1.5 * c.shape[1]:
                r.quad = r.quad[[1, 2, 3, 0]]
                crops[i] = self._crop(rgb, r.quad)
        flips, page_flipped = self._orient(crops)
        for i, flip in enumerate(flips):
            if flip:
                regions[i].quad = regions[i].quad[[2, 3, 0, 1]]
                crops[i] = np.ascontiguousarray(crops[i][::-1, ::-1])
        read = self._recognise(crops)
        # A line that contradicts its page is read both ways; the more confident reading wins.
        odd = [i for i, f in enumerate(flips) if f != page_flipped]
        if odd:
            turned = [np.ascontiguousarray(crops[i][::-1, ::-1]) for i in odd]
            for i, alt, crop in zip(odd, self._recognise(turned), turned, strict=True):
                if np.mean(alt[1] or [0.0]) > np.mean(read[i][1] or [0.0]):
                    read[i] = alt
                    crops[i] = crop
                    regions[i].quad = regions[i].quad[[2, 3, 0, 1]]
        out_regions = []
        for r, c, (text, cps, xs, _) in zip(regions, crops, read, strict=True):
            if c.shape[1] / c.shape[0] > MAX_WIDTH_PER_CHAR * max(len(text.strip()), 1):
                continue
            # Spaces split words; leading and trailing ones simply yield no word.
            r.words = self._words(r, c.shape[1], text, cps, xs)
            if r.words:
                out_regions.append(r)
        ordered = self._reading_order(out_regions)
        return [
            OcrLine(
                " ".join(w.text for w in r.words),
                float(np.mean([w.confidence for w in r.words])),
                r.quad,
                r.words,
            )
            for r in ordered
        ]
