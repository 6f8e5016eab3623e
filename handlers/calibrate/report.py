"""The threshold report: one self-contained HTML file (charts as inline SVG, the worst pairs'
faces as inline JPEG thumbnails), with pairs.csv and summary.json beside it holding the same
figures for scripts and tests."""

from __future__ import annotations

import base64
import csv
import json
from html import escape
from pathlib import Path
from typing import Any

from rekognition_emulator.emulator.inspector.thumbnails import crop_jpeg
from rekognition_emulator.handlers.calibrate import svg
from rekognition_emulator.handlers.calibrate.pairs import Calibration, Pair, Rates

STYLE = """
body { font: 14px/1.5 system-ui, sans-serif; max-width: 1000px; margin: 24px auto; padding: 0 16px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; }
.chart .axis { stroke: #333; } .chart .grid { stroke: #eee; } .chart .tick, .chart .label { font-size: 11px; fill: #444; }
.chart .threshold { stroke: #999; stroke-dasharray: 4 3; }
.chart rect.same, .chart .same { fill: #2a7fff; fill-opacity: 0.55; }
.chart rect.different, .chart .different { fill: #ff4a4a; fill-opacity: 0.55; }
.chart polyline { fill: none; stroke-width: 2; } .chart polyline.fmr { stroke: #ff4a4a; } .chart polyline.fnmr { stroke: #2a7fff; }
.chart rect.fmr { fill: #ff4a4a; } .chart rect.fnmr { fill: #2a7fff; }
.pairs { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; }
.pair { border: 1px solid #ddd; border-radius: 4px; padding: 6px; font-size: 12px; overflow-wrap: anywhere; }
.pair img { width: 96px; height: 96px; object-fit: cover; margin-right: 4px; }
.score { font-weight: bold; font-size: 14px; }
"""


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f} %"


def _rates_table(rates: list[Rates], first: str = "threshold") -> str:
    rows = "".join(
        f"<tr><td>{r.threshold:g}</td><td>{percent(r.fmr)}</td><td>{r.false_matches} / {r.different_pairs}</td>"
        f"<td>{percent(r.fnmr)}</td><td>{r.false_non_matches} / {r.same_pairs}</td></tr>"
        for r in rates
    )
    return (
        f'<table class="rates"><tr><th>{first}</th><th>false match rate</th><th>different-person pairs matched</th>'
        f"<th>false non-match rate</th><th>same-person pairs missed</th></tr>{rows}</table>"
    )


def _subgroup_tables(cal: Calibration) -> str:
    if not cal.columns:
        return (
            '<p class="note">No attributes were given. Pass <code>--attributes people.csv</code> '
            "(a <code>person</code> column with the folder names, then any columns: gender, age "
            "band, skin tone ...) to see the rates per subgroup.</p>"
        )
    parts = []
    for column, groups in cal.subgroups().items():
        header = "".join(f"<th>FMR at {t:g}</th><th>FNMR at {t:g}</th>" for t in cal.thresholds)
        rows = []
        for value, rates in groups.items():
            cells = "".join(f"<td>{percent(r.fmr)}</td><td>{percent(r.fnmr)}</td>" for r in rates)
            first = rates[0]
            rows.append(
                f'<tr data-group="{escape(value)}"><td>{escape(value)}</td><td>{cal.group_people(column, value)}</td>'
                f"<td>{first.same_pairs}</td><td>{first.different_pairs}</td>{cells}</tr>"
            )
        parts.append(
            f'<h3>{escape(column)}</h3><table class="subgroup" data-column="{escape(column)}"><tr><th>{escape(column)}</th>'
            f"<th>people</th><th>same pairs</th><th>different pairs</th>{header}</tr>{''.join(rows)}</table>"
        )
    return "".join(parts)


def _thumb(cal: Calibration, index: int) -> str:
    photo = cal.photos[index]
    data = crop_jpeg(photo.rgb, photo.box) if photo.rgb is not None and photo.box else None
    if data is None:
        return ""
    src = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    return f'<img src="{src}" alt="{escape(photo.name)}" title="{escape(photo.name)}">'


def _pair_cards(cal: Calibration, pairs: list[Pair], css: str) -> str:
    cards = []
    for pair in pairs:
        a, b = cal.photos[pair.a], cal.photos[pair.b]
        cards.append(
            f'<div class="pair {css}">{_thumb(cal, pair.a)}{_thumb(cal, pair.b)}'
            f'<div class="score">{pair.similarity:.2f}</div>'
            f"<div>{escape(a.name)}</div><div>{escape(b.name)}</div></div>"
        )
    return f'<div class="pairs">{"".join(cards)}</div>' if cards else '<p class="note">None.</p>'


def summary(cal: Calibration) -> dict[str, Any]:
    return {
        "people": len(cal.people),
        "photos": len(cal.photos),
        "photos_without_face": [
            {"photo": p.name, "why": p.why_not} for p in cal.photos if p.face is None
        ],
        "thresholds": cal.thresholds,
        "overall": [r.as_dict() for r in cal.rates()],
        "subgroups": {
            column: {value: [r.as_dict() for r in rates] for value, rates in groups.items()}
            for column, groups in cal.subgroups().items()
        },
    }


def write_pairs_csv(cal: Calibration, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["photo_a", "photo_b", "person_a", "person_b", "same_person", "similarity"])
        for pair in cal.pairs:
            a, b = cal.photos[pair.a], cal.photos[pair.b]
            out.writerow(
                [a.name, b.name, a.person, b.person, int(pair.same), repr(pair.similarity)]
            )


def write(cal: Calibration, out: Path, worst: int = 8) -> Path:
    """report.html, pairs.csv and summary.json in `out`; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    write_pairs_csv(cal, out / "pairs.csv")
    figures = summary(cal)
    (out / "summary.json").write_text(json.dumps(figures, indent=2))
    same = [p.similarity for p in cal.pairs if p.same]
    different = [p.similarity for p in cal.pairs if not p.same]
    closest_strangers = sorted((p for p in cal.pairs if not p.same), key=lambda p: -p.similarity)
    farthest_twins = sorted((p for p in cal.pairs if p.same), key=lambda p: p.similarity)
    missing = figures["photos_without_face"]
    missing_html = (
        '<p class="note">Left out (no face used): '
        + ", ".join(f"{escape(m['photo'])} ({escape(m['why'])})" for m in missing)
        + "</p>"
        if missing
        else ""
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Face match threshold report</title>
<style>{STYLE}</style></head><body>
<h1>Face match threshold report</h1>
<p>{len(cal.people)} people, {len(cal.photos)} photos, {len(same)} same-person pairs and
{len(different)} different-person pairs, each scored with the Similarity CompareFaces answers
(rekognition-emulator's matcher: the largest face of each photo, SFace embeddings, the
calibrated cosine-to-Similarity curve). The figures are this matcher's on these photos, not
Amazon Rekognition's.</p>
{missing_html}
<h2>How to read it</h2>
<p>Each pair of photos gets a Similarity from 0 to 100. A threshold decides: at or above it the
two photos are taken as the same person. A <b>false match</b> is two different people at or
above the threshold (someone is let in as someone else); a <b>false non-match</b> is the same
person below it (someone is turned away). Raising the threshold trades false matches for false
non-matches. AWS recommends a threshold of 99 where a false match does harm (identity checks,
anything touching someone's rights or safety), with a person reviewing a match before anything
is decided on it, and the default 80 only where a wrong match costs little (tagging photos). Look at the rows for your threshold, then at the subgroups: a rate
much higher in one group than in the others is a risk for that group's members, and too few
pairs in a group (a few dozen) make its rates too uncertain to trust.</p>
<h2>Similarity of the pairs</h2>
{svg.histograms(same, different, cal.thresholds)}
<h2>Error rates by threshold</h2>
{svg.error_curves(same, different, cal.thresholds)}
{_rates_table(cal.rates())}
<h2>By subgroup</h2>
<p class="note">Same-person pairs of the group's people; different-person pairs where both people
are in the group (pairs across groups count in the overall figures only).</p>
{_subgroup_tables(cal)}
<h2>The worst pairs</h2>
<h3>Different people, most similar (false matches first)</h3>
{_pair_cards(cal, closest_strangers[:worst], "different")}
<h3>The same person, least similar (false non-matches first)</h3>
{_pair_cards(cal, farthest_twins[:worst], "same")}
<p class="note">pairs.csv lists every pair with its Similarity; summary.json holds the figures above.</p>
</body></html>
"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
