"""Inline SVG charts generated from the data (no image files, no script, no library):
overlaid histograms of two distributions, and error-rate curves against the threshold."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


def _x(value: float, low: float, high: float) -> float:
    return LEFT + (value - low) / (high - low) * (WIDTH - LEFT - RIGHT)


def _y(value: float, top: float) -> float:
    return HEIGHT - BOTTOM - (value / top if top else 0) * (HEIGHT - TOP - BOTTOM)


def _frame(
    x_label: str, y_label: str, y_top: float, y_format: str, marks: Sequence[float]
) -> list[str]:
    parts = [
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
    ]
    for tick in range(0, 101, 10):
        x = _x(tick, 0, 100)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" class="tick" text-anchor="middle">{tick}</text>'
        )
    for i in range(5):
        value = y_top * i / 4
        y = _y(value, y_top)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{y_format.format(value)}</text>'
        )
    for threshold in marks:
        x = _x(threshold, 0, 100)
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" class="threshold"/>'
        )
        parts.append(f'<text x="{x + 3:.1f}" y="{TOP + 10}" class="tick">{threshold:g}</text>')
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" class="label" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" class="label" text-anchor="middle" transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">{escape(y_label)}</text>'
    )
    return parts


def _legend(items: Sequence[tuple[str, str]]) -> list[str]:
    parts = []
    for i, (css, text) in enumerate(items):
        y = TOP + 8 + i * 16
        parts.append(f'<rect x="{LEFT + 10}" y="{y - 8}" width="12" height="10" class="{css}"/>')
        parts.append(f'<text x="{LEFT + 28}" y="{y + 1}" class="label">{escape(text)}</text>')
    return parts


def _svg(parts: list[str], title: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'class="chart"><title>{escape(title)}</title>' + "".join(parts) + "</svg>"
    )


def histograms(
    same: Sequence[float],
    different: Sequence[float],
    marks: Sequence[float],
    bin_width: float = 2.0,
) -> str:
    """The share of each kind of pair per Similarity bin (each kind sums to 100 %)."""
    edges = np.arange(0.0, 100.0 + bin_width, bin_width)
    series = []
    for css, values in (("same", same), ("different", different)):
        counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=edges)
        series.append((css, counts / max(1, len(values)) * 100))
    top = max([float(s.max()) for _, s in series] + [1.0])
    top = float(np.ceil(top / 5) * 5)
    parts = _frame("Similarity", "% of the pairs of that kind", top, "{:.0f}", marks)
    for css, shares in series:
        for left, share in zip(edges[:-1], shares, strict=True):
            if share <= 0:
                continue
            x0, x1 = _x(left, 0, 100), _x(left + bin_width, 0, 100)
            y = _y(float(share), top)
            parts.append(
                f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{HEIGHT - BOTTOM - y:.1f}" '
                f'class="{css}"><title>{left:g}-{left + bin_width:g}: {share:.1f} %</title></rect>'
            )
    parts += _legend(
        [
            ("same", f"same person ({len(same)} pairs)"),
            ("different", f"different people ({len(different)} pairs)"),
        ]
    )
    return _svg(parts, "Similarity of same-person and different-person pairs")


def error_curves(same: Sequence[float], different: Sequence[float], marks: Sequence[float]) -> str:
    """False match rate and false non-match rate (in %) at every threshold from 0 to 100."""
    grid = np.linspace(0.0, 100.0, 401)
    s = np.sort(np.asarray(same, dtype=np.float64))
    d = np.sort(np.asarray(different, dtype=np.float64))
    fnmr = np.searchsorted(s, grid, side="left") / max(1, len(s)) * 100  # same < t
    fmr = (len(d) - np.searchsorted(d, grid, side="left")) / max(1, len(d)) * 100  # diff >= t
    parts = _frame(
        "threshold (SimilarityThreshold / FaceMatchThreshold)",
        "error rate, %",
        100.0,
        "{:.0f}",
        marks,
    )
    for css, rates in (("fmr", fmr), ("fnmr", fnmr)):
        points = " ".join(
            f"{_x(t, 0, 100):.1f},{_y(r, 100.0):.1f}" for t, r in zip(grid, rates, strict=True)
        )
        parts.append(f'<polyline points="{points}" class="{css}"/>')
    parts += _legend(
        [
            ("fmr", "false match rate: different people at or above the threshold"),
            ("fnmr", "false non-match rate: the same person below it"),
        ]
    )
    return _svg(parts, "Error rates against the threshold")
