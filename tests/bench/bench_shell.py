"""Benchmark of the service shell: requests/s and p50/p99 latency of a cheap operation.

    .venv/bin/python tests/bench/bench_shell.py            # full run (about a minute)
    .venv/bin/python tests/bench/bench_shell.py --quick    # 2 s per cell
    .venv/bin/python tests/bench/bench_shell.py --json out.json

Starts a real emulator (`python -m rekognition_emulator serve`, default flags and log level) once with
`--auth off` and once with `--auth strict`, then drives ListCollections (an empty list: the
whole request path plus one small SQLite read) with 1, 8 and 32 concurrent keep-alive
connections. The client is deliberately light so it does not eat the 2 cores the server
needs: one asyncio event loop (uvloop when present) writing pre-built request bytes and
reading responses by Content-Length; in strict mode every request is pre-signed with
botocore's SigV4Auth (a signature stays valid for 5 minutes; the server verifies each one).

Not collected by pytest (tests/bench is in norecursedirs and the file is not test_*.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from rekognition_emulator.emulator.testing import EmulatorProcess  # noqa: E402

KEY, SECRET = "AKIDBENCH", "bench-secret"
OPERATION = "ListCollections"
BODY = b"{}"


def request_bytes(endpoint: str, operation: str, strict: bool, body: bytes = BODY) -> bytes:
    """One whole HTTP request, ready to be written again and again."""
    url = urlsplit(endpoint)
    headers = {
        "Host": url.netloc,
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"RekognitionService.{operation}",
    }
    if strict:
        request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=dict(headers))
        SigV4Auth(Credentials(KEY, SECRET), "rekognition", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
        headers["Host"] = url.netloc
    headers["Content-Length"] = str(len(body))
    head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    if length:
        await reader.readexactly(length)
    return status


async def _client(
    host: str,
    port: int,
    payload: bytes,
    until: float,
    record: bool,
    out: list[float],
    bad: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            started = time.perf_counter()
            if started >= until:
                break
            writer.write(payload)
            status = await _read_response(reader)
            if record:
                out.append(time.perf_counter() - started)
                if status != 200:
                    bad.append(status)
    finally:
        writer.close()


async def _drive(endpoint: str, payload: bytes, clients: int, seconds: float, warmup: float):
    url = urlsplit(endpoint)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    sink: list[float] = []
    await asyncio.gather(
        *[
            _client(host, port, payload, time.perf_counter() + warmup, False, sink, [])
            for _ in range(clients)
        ]
    )
    latencies: list[float] = []
    bad: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(
        *[
            _client(host, port, payload, started + seconds, True, latencies, bad)
            for _ in range(clients)
        ]
    )
    elapsed = time.perf_counter() - started
    return latencies, elapsed, bad


def measure(endpoint: str, payload: bytes, clients: int, seconds: float, warmup: float) -> dict:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    latencies, elapsed, bad = runner(_drive(endpoint, payload, clients, seconds, warmup))
    latencies.sort()
    n = len(latencies)
    return {
        "clients": clients,
        "requests": n,
        "rps": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 3),
        "non_200": len(bad),
    }


def run(args: argparse.Namespace) -> list[dict]:
    results = []
    for auth in ("off", "strict"):
        server_args = ["--auth", auth] + (
            ["--credentials", f"{KEY}:{SECRET}"] if auth == "strict" else []
        )
        server = EmulatorProcess(args=server_args + args.server_arg)
        server.start()
        try:
            payload = request_bytes(server.endpoint, args.operation, auth == "strict")
            for clients in args.clients:
                row = {"auth": auth, "operation": args.operation}
                row.update(measure(server.endpoint, payload, clients, args.seconds, args.warmup))
                results.append(row)
                print(
                    f"auth={auth:6s} clients={clients:3d}  {row['rps']:8.1f} req/s  "
                    f"p50 {row['p50_ms']:7.3f} ms  p99 {row['p99_ms']:7.3f} ms  "
                    f"({row['requests']} requests, {row['non_200']} not 200)",
                    flush=True,
                )
        finally:
            server.cleanup()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds per cell")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--operation", default=OPERATION)
    parser.add_argument("--quick", action="store_true", help="2 s per cell, 0.5 s warm-up")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--server-arg", action="append", default=[], help="extra flag for the server (repeatable)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 2.0, 0.5
    print(f"{os.cpu_count()} CPUs; {args.operation}; {args.seconds:g} s per cell", flush=True)
    results = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    worst_p50 = max(r["p50_ms"] for r in results if r["clients"] == 1)
    best_rps = max(r["rps"] for r in results)
    print(
        f"goal: p50 < 2 ms at 1 client (worst {worst_p50:.3f} ms), >= 1000 req/s "
        f"(best {best_rps:.0f})"
    )
    return 0 if all(r["non_200"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
