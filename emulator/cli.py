"""`rekognition-emulator serve | models | <family commands> ...` (also `python -m
rekognition_emulator ...`).

Subcommands are registered with `@cli_command` (emulator/server/registry.py): `serve` and
`models` here, others by the families that bring them, so this file does not change when
one arrives.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from rekognition_emulator.emulator.server import config as settings
from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.registry import (
    Handler,
    cli_command,
    cli_commands,
    load_handlers,
)


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rekognition-emulator serve",
        description="Serve the Rekognition API, and the S3, SNS, SQS, IAM and Kinesis it works "
        "with, on one port. Every flag can also be set as REKOGNITION_EMULATOR_<FLAG> "
        f"(e.g. REKOGNITION_EMULATOR_PORT, default {settings.DEFAULT_PORT}); a flag wins over "
        "the environment.",
    )
    settings.add_arguments(p)
    return p


@cli_command("serve", help="serve the Rekognition API (see `serve --help`)")
def serve_command(argv: list[str]) -> int:
    return serve(argv)


def serve(argv: list[str], operations: Mapping[str, Handler] | None = None) -> int:
    """Parse `argv` and the environment into a Config and serve until stopped.

    `operations` is the handler table the app serves (None: every handler module's)."""
    args = serve_parser().parse_args(argv)
    try:
        config = Config.resolve(vars(args))
    except ValueError as exc:
        print(f"rekognition-emulator: {exc}", file=sys.stderr)
        return 2
    if config.auth == "strict" and not config.credentials:
        print("--auth strict needs at least one --credentials AKID:SECRET", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    temp_dir = tempfile.mkdtemp(prefix="rekognition-emulator-") if config.ephemeral else None
    if temp_dir:
        config.data_dir = Path(temp_dir)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        return _run(config, operations)
    finally:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _run(config: Config, operations: Mapping[str, Handler] | None) -> int:
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
    # Listening now: a client that connects while the app starts up waits in the backlog
    # instead of being refused.
    sock.listen(2048)
    config.port = sock.getsockname()[1]
    shown = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    print(
        f"rekognition-emulator listening on http://{shown}:{config.port} "
        f"(data: {config.data_dir}, auth: {config.auth})",
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, operations),
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


@cli_command("models", help="pull | list | verify the model files (see `models --help`)")
def models_command(argv: list[str]) -> int:
    from rekognition_emulator.models.cli import main as models_main

    return models_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = cli_commands()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        # Families register their commands when their modules are imported.
        load_handlers()
        commands = cli_commands()
    if not argv or argv[0] in ("-h", "--help"):
        width = max(len(name) for name in commands)
        lines = [f"  {c.name:<{width}}  {c.help}" for c in commands.values()]
        print(f"usage: rekognition-emulator {{{','.join(commands)}}} ...\n\n" + "\n".join(lines))
        return 0 if argv else 2
    command = commands.get(argv[0])
    if command is None:
        print(
            f"rekognition-emulator: unknown command {argv[0]!r} ({', '.join(commands)})",
            file=sys.stderr,
        )
        return 2
    return command.run(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
