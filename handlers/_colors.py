"""Rekognition's DominantColor vocabulary: CSS3 colour names and the simplified colour.

Real responses give RGB/HexCode equal to a CSS colour's own value, so the colours are snapped
to the CSS3 palette (handlers/data/css_colors.tsv, 147 names) by the nearest colour in CIE Lab.

SimplifiedColor: the service model says "one of 12 simplified color names" but the list is
not published; real responses show lower-case names (grey, green, black). We answer with the
11 basic colour terms of Berlin & Kay (black, white, grey, red, orange, yellow, green, blue,
purple, pink, brown), read off the snapped colour's hue, saturation and value; the twelfth
name is unknown and never produced. (unconfirmed)
"""

from __future__ import annotations

import colorsys
import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class CssColor:
    name: str
    hex: str
    rgb: tuple[int, int, int]


@lru_cache(maxsize=1)
def palette() -> tuple[tuple[CssColor, ...], np.ndarray]:
    colors = []
    with open(DATA / "css_colors.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rgb = (int(row["red"]), int(row["green"]), int(row["blue"]))
            colors.append(CssColor(row["css_color"], row["hex"].lower(), rgb))
    rgb = np.array([c.rgb for c in colors], np.uint8).reshape(-1, 1, 3)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return tuple(colors), lab


def snap(rgb: tuple[int, int, int]) -> CssColor:
    """The CSS colour nearest to `rgb` in CIE Lab (ties: the first name alphabetically)."""
    colors, lab = palette()
    x = np.array(rgb, np.float32).reshape(1, 1, 3) / 255.0
    q = cv2.cvtColor(x, cv2.COLOR_RGB2LAB).reshape(3)
    return colors[int(((lab - q) ** 2).sum(axis=1).argmin())]


def simplified(rgb: tuple[int, int, int]) -> str:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in rgb))
    hue = h * 360.0
    if v < 0.2:
        return "black"
    if s < 0.15 or (v < 0.35 and s < 0.5):  # dark desaturated: darkslategrey reads grey
        return "white" if v > 0.85 else "grey"
    warm = hue < 45 or hue >= 345
    if warm and s < 0.2 and v > 0.9:
        return "white"  # cream, linen, seashell
    if hue < 15 or hue >= 345:
        if s < 0.5 and v > 0.85:
            return "pink"
        return "brown" if (v < 0.7 or s < 0.5) else "red"  # rosybrown, maroon, brown
    if hue < 45:
        light = v >= 0.6 and (s >= 0.5 or v >= 0.85)
        return "orange" if light else "brown"  # tan, sienna: brown; peach, salmon: orange
    if hue < 70:
        return "yellow" if v >= 0.5 else "brown"
    if hue < 170:
        return "green"
    if hue < 260:
        return "blue"
    if hue < 290:
        return "purple"
    return "pink" if v > 0.6 else "purple"
