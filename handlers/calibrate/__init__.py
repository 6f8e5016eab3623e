"""`rekognition-emulator calibrate PHOTOS_DIR`: what a face match threshold means on your own
photos. Every pair of photos is scored with the Similarity CompareFaces answers; the report
shows the distributions, the false match and false non-match rates at 80, 90, 95, 99 and the
thresholds you add, per subgroup of every attribute you give, and the worst pairs.

    rekognition-emulator calibrate photos/ [--attributes people.csv] [--threshold 97.5 ...]
                                   [--out calibration-report] [--worst 8]

photos/ holds one folder per person (the folder's name is the person), with that person's
photos (.jpg, .jpeg, .png) in it. people.csv has a `person` column and any attribute columns.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.registry import cli_command

HELP = "write an HTML report of face match error rates by threshold on your photos"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rekognition-emulator calibrate",
        description=__doc__.split("\n\n")[0],
        epilog="Folders: PHOTOS_DIR/<person>/<photo>.jpg. The report is report.html in --out, "
        "with pairs.csv (every pair's Similarity) and summary.json (the figures) beside it.",
    )
    p.add_argument("photos", type=Path, metavar="PHOTOS_DIR", help="one folder per person")
    p.add_argument(
        "--attributes",
        type=Path,
        metavar="CSV",
        help="attributes per person: a 'person' column (folder names), then any columns",
    )
    p.add_argument(
        "--threshold",
        type=float,
        action="append",
        default=[],
        metavar="T",
        help="a threshold to report besides 80, 90, 95 and 99 (repeatable)",
    )
    p.add_argument("--out", type=Path, default=Path("calibration-report"), help="output folder")
    p.add_argument("--worst", type=int, default=8, help="worst pairs shown of each kind")
    p.add_argument("--models-dir", type=Path, help="model cache (default: as `serve` has it)")
    return p


@cli_command("calibrate", help=HELP)
def calibrate(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    bad = [t for t in args.threshold if not 0 <= t <= 100]
    if bad:
        print(f"calibrate: thresholds are between 0 and 100, not {bad[0]:g}", file=sys.stderr)
        return 2
    from rekognition_emulator.handlers.calibrate import pairs, report

    try:
        photos = pairs.find_photos(args.photos)
        people = sorted({p.person for p in photos})
        attributes, columns = (
            pairs.read_attributes(args.attributes, people) if args.attributes else ({}, [])
        )
    except (pairs.CalibrationError, OSError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    _configure_models(args.models_dir)
    started = time.monotonic()
    print(f"{len(photos)} photos of {len(people)} people: finding faces ...", flush=True)
    for i, photo in enumerate(photos, 1):
        pairs.find_face(photo)
        if i % 25 == 0:
            print(f"  {i}/{len(photos)}", flush=True)
    scored = pairs.score_pairs(photos)
    calibration = pairs.Calibration(
        photos=photos,
        pairs=scored,
        thresholds=pairs.thresholds(args.threshold),
        attributes=attributes,
        columns=columns,
    )
    if not any(p.same for p in scored) or all(p.same for p in scored):
        print(
            "calibrate: the report needs pairs of the same person and of different people "
            "(at least one person with two photos where a face is found)",
            file=sys.stderr,
        )
        return 2
    path = report.write(calibration, args.out, worst=args.worst)
    for rates in calibration.rates():
        print(
            f"  threshold {rates.threshold:5.1f}: false match rate {report.percent(rates.fmr):>9}, "
            f"false non-match rate {report.percent(rates.fnmr):>9}"
        )
    print(f"{len(scored)} pairs in {time.monotonic() - started:.0f} s; report: {path}")
    return 0


def _configure_models(models_dir: Path | None) -> None:
    """The models folder and threads as `serve` resolves them (flag, environment, default)."""
    from rekognition_emulator.models import runtime, store

    config = Config.resolve({"models_dir": models_dir} if models_dir else {})
    store.configure(config.models_dir)
    runtime.configure(config.threads)
