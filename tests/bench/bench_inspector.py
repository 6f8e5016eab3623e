"""Benchmark of the inspector's request journal: request overhead with it on against off.

    .venv/bin/python tests/bench/bench_inspector.py            # about 2 minutes
    .venv/bin/python tests/bench/bench_inspector.py --quick    # 2 s per cell, 2 rounds

Starts two real servers, one with the journal on (the default) and one with --no-inspector,
and drives each with the same pre-built requests from bench_shell's light asyncio client:

- ListCollections on an empty store: the cheapest request, where the journal's share of the
  work is largest;
- SearchFacesByImage with a 1 MB JPEG on a collection that does not exist: the whole body is
  read, parsed and validated, the answer is a quick ResourceNotFoundException, and the
  journal keeps the image (so its memory budget fills and sheds on every request past 64).

The two servers are measured in many short alternating rounds (on-off, off-on ...) so that
the load the other users of the machine put on it falls on both alike; the figures are the
medians over rounds, with the spread of the "off" rounds beside them as the noise to read them
against. The journal's own cost is also timed in process (`Journal.record` per request, no
server), which no other load on the machine blurs. Goal (issue 16): the journal adds under 10 %
to the request's latency and takes under 10 % off its throughput.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench_shell import measure, request_bytes  # noqa: E402

from rekognition_emulator.emulator.testing import EmulatorProcess  # noqa: E402


def one_megabyte_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (800, 1000, 3), dtype=np.uint8)  # noise compresses badly
    ok, buf = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def cases() -> dict[str, tuple[str, bytes]]:
    image = one_megabyte_jpeg()
    search = {"CollectionId": "absent", "Image": {"Bytes": base64.b64encode(image).decode()}}
    return {
        "ListCollections": ("ListCollections", b"{}"),
        f"SearchFacesByImage {len(image) / 1e6:.1f} MB": (
            "SearchFacesByImage",
            json.dumps(search).encode(),
        ),
    }


def record_cost(operation: str, body: bytes, n: int = 20_000) -> float:
    """Microseconds of one Journal.record with the server's default bounds, the journal full
    (its image budget shedding on every request that carries one)."""
    from rekognition_emulator.emulator.inspector.journal import Journal
    from rekognition_emulator.emulator.server.config import Config
    from rekognition_emulator.emulator.server.validation import validate_input

    config = Config()
    journal = Journal(
        config.inspector_requests,
        config.inspector_image_bytes,
        int(config.inspector_memory_mb * 1024 * 1024),
    )
    params = validate_input(operation, json.loads(body))  # blobs decoded, as the server has them
    reply = b'{"__type":"ResourceNotFoundException","message":"..."}'

    def once() -> None:
        journal.record(
            service="Rekognition",
            operation=operation,
            status=200,
            ms=1.0,
            account="123456789012",
            region="us-east-1",
            request_id="00000000-0000-4000-8000-000000000000",
            started=0.0,
            params=params,
            response=reply,
        )

    for _ in range(config.inspector_requests + 100):  # fill it first
        once()
    started = time.perf_counter()
    for _ in range(n):
        once()
    return (time.perf_counter() - started) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=10, help="alternating on/off rounds")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--quick", action="store_true", help="1 s per cell, 3 rounds")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.rounds = 1.0, 0.3, 3
    servers = {
        "on": EmulatorProcess(args=["--log-level", "warning"]),
        "off": EmulatorProcess(args=["--log-level", "warning", "--no-inspector"]),
    }
    print(f"{os.cpu_count()} CPUs; {args.rounds} rounds of {args.seconds:g} s per cell", flush=True)
    for name, (operation, body) in cases().items():
        print(f"Journal.record in process, {name}: {record_cost(operation, body):.1f} us a request")
    results = []
    try:
        for server in servers.values():
            server.start()
        for name, (operation, body) in cases().items():
            for clients in args.clients:
                cells: dict[str, list[dict]] = {"on": [], "off": []}
                for round_no in range(args.rounds):
                    # on first in even rounds, off first in odd ones: no order favours either
                    order = list(servers.items())[:: 1 if round_no % 2 == 0 else -1]
                    for journal, server in order:
                        payload = request_bytes(server.endpoint, operation, False, body)
                        cells[journal].append(
                            measure(server.endpoint, payload, clients, args.seconds, args.warmup)
                        )
                row = {"case": name, "clients": clients}
                for journal, runs in cells.items():
                    row[f"rps_{journal}"] = round(statistics.median(r["rps"] for r in runs), 1)
                    row[f"p50_ms_{journal}"] = round(
                        statistics.median(r["p50_ms"] for r in runs), 3
                    )
                row["p50_added_pct"] = round(100 * (row["p50_ms_on"] / row["p50_ms_off"] - 1), 1)
                row["rps_lost_pct"] = round(100 * (1 - row["rps_on"] / row["rps_off"]), 1)
                offs = sorted(r["p50_ms"] for r in cells["off"])
                row["p50_off_spread_pct"] = round(100 * (offs[-1] / offs[0] - 1), 1)
                results.append(row)
                print(
                    f"{name:28s} clients={clients:2d}  on {row['rps_on']:8.1f} req/s "
                    f"p50 {row['p50_ms_on']:7.3f} ms | off {row['rps_off']:8.1f} req/s "
                    f"p50 {row['p50_ms_off']:7.3f} ms | p50 {row['p50_added_pct']:+5.1f} %, "
                    f"req/s {-row['rps_lost_pct']:+5.1f} % (off rounds spread "
                    f"{row['p50_off_spread_pct']:.0f} %)",
                    flush=True,
                )
    finally:
        for server in servers.values():
            server.cleanup()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    worst = max(max(r["p50_added_pct"], r["rps_lost_pct"]) for r in results)
    print(f"goal: the journal costs under 10 % (worst cell {worst:+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
