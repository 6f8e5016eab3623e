"""Text of one frame: LINE and WORD detections read by PP-OCRv6 (models/ocr), for
DetectText and a video's TextDetection per sampled frame.

    from rekognition_emulator.handlers.analysis import text

    options = text.filter_options(params.get("Filters"))  # DetectText / StartTextDetection
    text.detect_text(rgb, **options)                      # TextDetections

AWS behaviour honoured here (DetectText API reference and developer guide):
- lines first, then words; Ids count from 0 in that order (per frame in a video), each word's
  ParentId is its line;
- at most 100 words an image (the first 100 in reading order; lines left without words go);
- WordFilter.MinConfidence defaults to 80, also when no Filters are given; MinBoundingBoxHeight
  and MinBoundingBoxWidth are ratios of the image's height and width;
- RegionsOfInterest: a word is kept when more than half of it lies in any of the regions
  (a BoundingBox or a Polygon, in image ratios);
- a line keeps the words that pass; its text, confidence and geometry are those of its kept
  words (unconfirmed: AWS does not say how a partly filtered line is reported).
Geometry: BoundingBox is the axis-aligned box of the 4-point Polygon, whose points run
top-left, top-right, bottom-right, bottom-left in the text's own direction (so rotated and
upside-down text have rotated polygons).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from rekognition_emulator.handlers.analysis.numbers import f32

TEXT_MODEL_VERSION = "3.0"
DEFAULT_WORD_MIN_CONFIDENCE = 80.0
MAX_WORDS = 100


def _geometry(poly: np.ndarray, w: int, h: int) -> dict[str, Any]:
    xs = np.clip(poly[:, 0] / w, 0.0, 1.0)
    ys = np.clip(poly[:, 1] / h, 0.0, 1.0)
    return {
        "BoundingBox": {
            "Width": f32(xs.max() - xs.min()),
            "Height": f32(ys.max() - ys.min()),
            "Left": f32(xs.min()),
            "Top": f32(ys.min()),
        },
        "Polygon": [{"X": f32(x), "Y": f32(y)} for x, y in zip(xs, ys, strict=True)],
    }


def _region_polygons(regions: Sequence[Mapping[str, Any]] | None) -> list[np.ndarray]:
    """Regions of interest as polygons in image ratios."""
    out = []
    for r in regions or []:
        if r.get("Polygon"):
            out.append(
                np.array([[p.get("X", 0.0), p.get("Y", 0.0)] for p in r["Polygon"]], np.float32)
            )
        elif r.get("BoundingBox"):
            b = r["BoundingBox"]
            x0, y0 = b.get("Left", 0.0), b.get("Top", 0.0)
            x1, y1 = x0 + b.get("Width", 0.0), y0 + b.get("Height", 0.0)
            out.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32))
    return out


def _share_inside(word: np.ndarray, region: np.ndarray) -> float:
    """Share of the word's area (polygon in ratios) inside `region`, from a 7x7 point grid."""
    if len(region) < 3:
        return 0.0
    u = (np.arange(7) + 0.5) / 7
    tl, tr, br, bl = word
    pts = [tl + (tr - tl) * a + (bl - tl) * b + (br - tr - bl + tl) * a * b for a in u for b in u]
    contour = region.reshape(-1, 1, 2).astype(np.float32)
    inside = sum(cv2.pointPolygonTest(contour, (float(p[0]), float(p[1])), False) >= 0 for p in pts)
    return inside / len(pts)


def _hull(polys: list[np.ndarray]) -> np.ndarray:
    """The 4-point box around several word polygons of one line, in the line's direction."""
    first, last = polys[0], polys[-1]
    return np.array([first[0], last[1], last[2], first[3]], np.float32)


def filter_options(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """DetectText's (or StartTextDetection's) Filters as `detect_text` keywords, with AWS's
    defaults (WordFilter.MinConfidence 80, also when no Filters are given)."""
    filters = filters or {}
    word_filter = filters.get("WordFilter") or {}
    min_conf = word_filter.get("MinConfidence")
    return {
        "min_confidence": DEFAULT_WORD_MIN_CONFIDENCE if min_conf is None else float(min_conf),
        "min_bounding_box_height": float(word_filter.get("MinBoundingBoxHeight") or 0.0),
        "min_bounding_box_width": float(word_filter.get("MinBoundingBoxWidth") or 0.0),
        "regions_of_interest": filters.get("RegionsOfInterest") or [],
    }


def detect_text(
    rgb: np.ndarray,
    *,
    min_confidence: float = DEFAULT_WORD_MIN_CONFIDENCE,
    min_bounding_box_height: float = 0.0,
    min_bounding_box_width: float = 0.0,
    regions_of_interest: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The TextDetections of one frame: LINEs, then WORDs, Ids from 0. The word filter and
    the regions (RegionsOfInterest: BoundingBox or Polygon entries, in ratios) apply to words;
    a line keeps the words that pass."""
    from rekognition_emulator.models.ocr import reader

    h, w = rgb.shape[:2]
    regions = _region_polygons(regions_of_interest)
    lines_out: list[dict[str, Any]] = []
    words_out: list[dict[str, Any]] = []
    n_words = 0
    for line in reader().read(rgb):
        kept = []
        for word in line.words:
            if n_words + len(kept) >= MAX_WORDS:
                break
            conf = 100.0 * word.confidence
            geo = _geometry(word.polygon, w, h)
            box = geo["BoundingBox"]
            if (
                conf < min_confidence
                or box["Height"] < min_bounding_box_height
                or box["Width"] < min_bounding_box_width
            ):
                continue
            ratio_poly = word.polygon / np.array([w, h], np.float32)
            if regions and not any(_share_inside(ratio_poly, r) > 0.5 for r in regions):
                continue
            kept.append((word, conf, geo))
        if not kept:
            if n_words >= MAX_WORDS:
                break
            continue
        line_id = len(lines_out)
        all_kept = len(kept) == len(line.words)
        poly = line.polygon if all_kept else _hull([k[0].polygon for k in kept])
        lines_out.append(
            {
                "DetectedText": " ".join(k[0].text for k in kept),
                "Type": "LINE",
                "Id": line_id,
                "Confidence": f32(np.mean([k[1] for k in kept])),
                "Geometry": _geometry(poly, w, h),
            }
        )
        for word, conf, geo in kept:
            words_out.append(
                {
                    "DetectedText": word.text,
                    "Type": "WORD",
                    "ParentId": line_id,
                    "Confidence": f32(conf),
                    "Geometry": geo,
                }
            )
        n_words += len(kept)
    # Ids: lines 0..L-1, then words in order.
    for i, word in enumerate(words_out):
        word["Id"] = len(lines_out) + i
    return lines_out + words_out
