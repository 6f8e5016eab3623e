"""`rekognition-emulator serve | models ...` (also `python -m rekognition_emulator ...`)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

from rekognition_emulator.emulator.server.config import DEFAULT_PORT, Config, env, parse_credentials


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rekognition-emulator serve",
        description="Serve the Rekognition API (and an embedded S3) on one port. "
        "Every flag can also be set as REKOGNITION_EMULATOR_<FLAG> (e.g. REKOGNITION_EMULATOR_PORT).",
    )
    p.add_argument("--host", default=env("HOST", "127.0.0.1"))
    p.add_argument(
        "--port",
        type=int,
        default=int(env("PORT", str(DEFAULT_PORT)) or DEFAULT_PORT),
        help=f"default {DEFAULT_PORT}; 0 picks a free port",
    )
    p.add_argument("--data-dir", default=env("DATA_DIR"), help="default: the per-user data folder")
    p.add_argument(
        "--ephemeral",
        action="store_true",
        default=_flag(env("EPHEMERAL")),
        help="keep all state in a temporary folder removed at exit",
    )
    p.add_argument("--auth", choices=["off", "strict"], default=env("AUTH", "off"))
    p.add_argument(
        "--credentials",
        action="append",
        metavar="AKID:SECRET",
        default=[env("CREDENTIALS")] if env("CREDENTIALS") else [],
        help="a key pair accepted in --auth strict (repeatable)",
    )
    p.add_argument(
        "--s3-endpoint-url",
        default=env("S3_ENDPOINT_URL"),
        help="read S3 objects from this S3-compatible endpoint instead of the embedded S3",
    )
    p.add_argument(
        "--models-dir",
        default=env("MODELS_DIR"),
        help="model cache (default: the per-user cache folder)",
    )
    p.add_argument(
        "--log-level",
        default=env("LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
    )
    return p


def _env_settings() -> dict[str, object]:
    """Config fields that have no flag: REKOGNITION_EMULATOR_<NAME> or Config's default."""
    out: dict[str, object] = {}
    for name, kind in (
        ("hnsw_m", int),
        ("hnsw_ef_construction", int),
        ("hnsw_ef_search", int),
        ("job_workers", int),
        ("max_concurrent_jobs", int),
        ("job_retention_days", float),
    ):
        value = env(name.upper())
        if value:
            out[name] = kind(value)
    if env("SYNC_JOBS"):
        out["sync_jobs"] = _flag(env("SYNC_JOBS"))
    return out


def serve(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.models_dir:
        os.environ["REKOGNITION_EMULATOR_MODELS_DIR"] = str(Path(args.models_dir).expanduser())
    temp_dir = tempfile.mkdtemp(prefix="rekognition-emulator-") if args.ephemeral else None
    data_dir = Path(temp_dir or args.data_dir or Config().data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        config = Config(
            host=args.host,
            port=args.port,
            data_dir=data_dir,
            ephemeral=args.ephemeral,
            auth=args.auth,
            credentials=parse_credentials(args.credentials),
            s3_endpoint_url=args.s3_endpoint_url,
            log_level=args.log_level,
            models_dir=Path(args.models_dir) if args.models_dir else None,
            **_env_settings(),
        )
        if config.auth == "strict" and not config.credentials:
            print("--auth strict needs at least one --credentials AKID:SECRET", file=sys.stderr)
            return 2
        return _run(config)
    except ValueError as exc:
        print(f"rekognition-emulator: {exc}", file=sys.stderr)
        return 2
    finally:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _run(config: Config) -> int:
    import uvicorn

    from rekognition_emulator.emulator.server.app import create_app

    # Bind first so that port 0 works and the endpoint we print is the real one.
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        print(
            f"rekognition-emulator: cannot listen on {config.host}:{config.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    config.port = sock.getsockname()[1]
    shown = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    print(
        f"rekognition-emulator listening on http://{shown}:{config.port} "
        f"(data: {config.data_dir}, auth: {config.auth})",
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
        )
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal with the
    # handler that was there before it; SIGTERM's default would kill the process on the spot
    # and skip serve()'s cleanup (the --ephemeral folder). Exit through Python instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: rekognition-emulator {serve,models} ...\n\n"
            "  serve    serve the Rekognition API (see `serve --help`)\n"
            "  models   pull | list | verify the model files (see `models --help`)"
        )
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "serve":
        return serve(rest)
    if command == "models":
        from rekognition_emulator.models.cli import main as models_main

        return models_main(rest)
    print(f"rekognition-emulator: unknown command {command!r} (serve, models)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
