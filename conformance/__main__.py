"""`python -m rekognition_emulator.conformance [--endpoint URL]`: print the 75-operation table; exit 1 on any failure."""

from __future__ import annotations

import argparse
import sys

from rekognition_emulator.conformance.runner import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rekognition_emulator.conformance",
        description="Check every implemented Rekognition operation against botocore's service "
        "model through boto3, the AWS CLI and the JS SDK v3.",
    )
    parser.add_argument(
        "--endpoint",
        help="a running emulator (e.g. http://127.0.0.1:4590); default: start one of our own",
    )
    parser.add_argument(
        "--auth",
        choices=["strict", "off"],
        default="strict",
        help="auth mode of the server we start (strict: every client's SigV4 is verified)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the AWS CLI cases")
    parser.add_argument("--no-js", action="store_true", help="skip the JS SDK v3 cases")
    parser.add_argument(
        "--only",
        action="append",
        metavar="OPERATION",
        help="exercise only these operations (repeatable); the table still lists all",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list every check made")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"conformance: {message}", file=sys.stderr, flush=True)

    try:
        report = run(
            args.endpoint,
            cli=not args.no_cli,
            js=not args.no_js,
            auth=args.auth,
            only=set(args.only) if args.only else None,
            progress=progress,
        )
    except (RuntimeError, ValueError) as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    print(report.render(verbose=args.verbose))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
