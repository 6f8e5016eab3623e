"""Face search at scale: HNSW recall and speed, SearchFaces latency through boto3, restart
and rebuild times, and memory, on a collection of N random 128-d unit vectors.

    .venv/bin/python tests/bench/bench_search.py                 # 1,000,000 faces (~30 min)
    .venv/bin/python tests/bench/bench_search.py --n 100000 --M 16 --efs 64,128,256,512,1024

Steps, each timed:
1. N random unit vectors (seeded) and `--queries` random query vectors; the exact top 10 of
   every query by brute force (the ground truth).
2. Bulk load into a fresh data directory with the store's internal bulk API (never an AWS
   operation): SQLite insert, then the index built *from SQLite* exactly as a rebuild after a
   lost or corrupt index file does, then saved.
3. recall@10 against the exact answer and single-thread query time for every ef of
   `--efs`: for random queries, and for stored vectors searched without themselves (what
   SearchFaces does).
4. A server started on that directory: time until the first SearchFaces answers (index
   loaded from its file, not rebuilt), then `--calls` SearchFaces by FaceId through boto3
   (p50 / p99, FaceMatchThreshold default and 0), and the server's resident memory.

Not collected by pytest (tests/bench). Heavy: run it alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
import numpy as np
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from _timing import percentile  # noqa: E402

from rekognition_emulator.emulator.store import FaceStore  # noqa: E402
from rekognition_emulator.emulator.store.vectors import IndexParams  # noqa: E402
from rekognition_emulator.emulator.testing import EmulatorProcess  # noqa: E402

ACCOUNT, REGION, COLLECTION = "123456789012", "us-east-1", "bench"


def unit(n: int, rng: np.random.Generator, dim: int = 128) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), dim), dtype=np.float32)
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(
    data: np.ndarray, queries: np.ndarray, k: int, exclude: np.ndarray | None
) -> np.ndarray:
    """Row numbers of the k most similar stored vectors, by brute force."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(data), 50_000):
        scores = queries @ data[start : start + 50_000].T
        if exclude is not None:
            rows = np.flatnonzero((exclude >= start) & (exclude < start + scores.shape[1]))
            scores[rows, exclude[rows] - start] = -np.inf
        idx = np.argpartition(-scores, k, axis=1)[:, :k]
        s = np.take_along_axis(scores, idx, axis=1)
        all_s = np.concatenate([best_s, s], axis=1)
        all_i = np.concatenate([best_i, idx + start], axis=1)
        keep = np.argsort(-all_s, axis=1)[:, :k]
        best_s = np.take_along_axis(all_s, keep, axis=1)
        best_i = np.take_along_axis(all_i, keep, axis=1)
    return best_i


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(work: Path, serve_ef: int, face_ids: list[str], args, figures: dict, say) -> None:
    """Start a server on `work` with ef_search = serve_ef and measure it."""
    key = f"ef={serve_ef}"
    result: dict = {}
    figures.setdefault("server", {})[key] = result
    server = EmulatorProcess(
        data_dir=work, env={"REKOGNITION_EMULATOR_HNSW_EF_SEARCH": str(serve_ef)}
    )
    t = time.perf_counter()
    server.start()
    result["server_start_s"] = time.perf_counter() - t
    assert server.proc is not None
    result["rss_before_store_mb"] = rss_mb(server.proc.pid)
    client = boto3.client(
        "rekognition",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )
    client.search_faces(CollectionId=COLLECTION, FaceId=face_ids[0])
    result["restart_to_first_search_s"] = time.perf_counter() - t
    loaded = re.search(
        r"index of collection \d+ (loaded|rebuilt|built): (\d+) faces in ([\d.]+)s", server.log()
    )
    result["index_load"] = loaded.group(0) if loaded else "not found in log"
    say(
        f"\nserver with ef_search {serve_ef}: up {result['server_start_s']:.1f}s, first "
        f"SearchFaces answered {result['restart_to_first_search_s']:.1f}s after start "
        f"({result['index_load']})"
    )
    cases = (
        ("default threshold (80)", {}),
        ("FaceMatchThreshold=0, MaxFaces=10", {"FaceMatchThreshold": 0, "MaxFaces": 10}),
    )
    for label, kwargs in cases:
        for fid in face_ids[1:51]:
            client.search_faces(CollectionId=COLLECTION, FaceId=fid, **kwargs)
        latencies = []
        for fid in face_ids[100 : 100 + args.calls]:
            t = time.perf_counter()
            client.search_faces(CollectionId=COLLECTION, FaceId=fid, **kwargs)
            latencies.append((time.perf_counter() - t) * 1000)
        p50, p99 = statistics.median(latencies), percentile(latencies, 99)
        result[label] = {"p50_ms": p50, "p99_ms": p99, "calls": len(latencies)}
        say(
            f"  SearchFaces via boto3, {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(latencies)} calls)"
        )
    t = time.perf_counter()
    for _ in range(200):
        client.describe_collection(CollectionId=COLLECTION)
    result["describe_collection_mean_ms"] = (time.perf_counter() - t) / 200 * 1000
    result["rss_after_mb"] = rss_mb(server.proc.pid)
    result["rss_per_million_mb"] = (
        (result["rss_after_mb"] - result["rss_before_store_mb"]) * 1e6 / args.n
    )
    say(
        f"  DescribeCollection (round-trip floor) {result['describe_collection_mean_ms']:.2f} ms; "
        f"RSS {result['rss_before_store_mb']:.0f} MB before the store, "
        f"{result['rss_after_mb']:.0f} MB after: {result['rss_per_million_mb']:.0f} MB per million faces"
    )
    server.stop()


def bulk_load(store: FaceStore, backend, data: np.ndarray, figures: dict, say) -> None:
    """Load the vectors with the store's internal bulk API, timing each phase."""
    work = store.data_dir
    backend.create_collection(COLLECTION, None)
    t = time.perf_counter()
    timings = {}
    original_index = store.index
    original_save = store.save_index

    def timed_index(p: int):
        s = time.perf_counter()
        out = original_index(p)
        timings["rebuild_s"] = time.perf_counter() - s
        return out

    def timed_save(p: int):
        s = time.perf_counter()
        original_save(p)
        timings["save_s"] = time.perf_counter() - s

    store.index, store.save_index = timed_index, timed_save  # type: ignore[method-assign]
    backend.bulk_add(COLLECTION, data)
    total = time.perf_counter() - t
    figures["bulk_sqlite_insert_s"] = total - timings["rebuild_s"] - timings["save_s"]
    figures["rebuild_from_sqlite_s"] = timings["rebuild_s"]
    figures["index_save_s"] = timings["save_s"]
    index_file = next((work / "indexes").glob("*.hnsw"))
    figures["index_file_mb"] = index_file.stat().st_size / 2**20
    figures["sqlite_mb"] = sum(p.stat().st_size for p in work.glob("rekognition.sqlite3*")) / 2**20
    say(
        f"bulk load: SQLite insert {figures['bulk_sqlite_insert_s']:.1f}s, index built from "
        f"SQLite {timings['rebuild_s']:.1f}s, saved {timings['save_s']:.1f}s "
        f"({figures['index_file_mb']:.0f} MB index, {figures['sqlite_mb']:.0f} MB SQLite)"
    )
    store.index, store.save_index = original_index, original_save  # type: ignore[method-assign]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--M", type=int, default=IndexParams().M)
    ap.add_argument("--ef-construction", type=int, default=IndexParams().ef_construction)
    ap.add_argument("--efs", default="64,128,256,512,1024,2048")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--pairs", type=int, default=300, help="planted same-person pairs")
    ap.add_argument(
        "--serve-efs",
        default=",".join(dict.fromkeys(["64", str(IndexParams().ef_search), "256"])),
        help="ef_search values to start the server with (comma-separated)",
    )
    ap.add_argument("--work", help="data directory to use (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the collection loaded in --work by a kept run"
    )
    ap.add_argument("--skip-server", action="store_true")
    ap.add_argument("--out", help="also write the figures as JSON here")
    args = ap.parse_args()
    efs = [int(x) for x in args.efs.split(",")]
    params = IndexParams(M=args.M, ef_construction=args.ef_construction)
    os.environ["REKOGNITION_EMULATOR_HNSW_M"] = str(args.M)
    os.environ["REKOGNITION_EMULATOR_HNSW_EF_CONSTRUCTION"] = str(args.ef_construction)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-search-"))
    reuse = args.reuse and (work / "rekognition.sqlite3").exists()
    if work.exists() and not reuse:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    figures: dict = {
        "n": args.n,
        "M": args.M,
        "ef_construction": args.ef_construction,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    say = print

    # 1. data and ground truth
    rng = np.random.default_rng(20260101)
    t = time.perf_counter()
    data = unit(args.n, rng)
    # Planted "same person" pairs: the last `--pairs` vectors are partners of as many earlier
    # ones, at cosines 0.5-0.8 (where SFace puts two photos of one person), so that the
    # search that matters for SearchFaces (find a match above Similarity 80) is measured.
    anchors = rng.choice(args.n - args.pairs, size=args.pairs, replace=False)
    cosines = rng.uniform(0.5, 0.8, size=args.pairs).astype(np.float32)
    noise = unit(args.pairs, rng)
    noise -= (noise * data[anchors]).sum(axis=1, keepdims=True) * data[anchors]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    partners = np.arange(args.n - args.pairs, args.n)
    data[partners] = cosines[:, None] * data[anchors] + np.sqrt(1 - cosines**2)[:, None] * noise
    queries = unit(args.queries, rng)
    members = rng.choice(args.n, size=args.queries, replace=False)
    truth_q = exact_top(data, queries, 10, None)
    truth_m = exact_top(data, data[members], 10, members)
    say(f"data + exact top-10 of {2 * args.queries} queries: {time.perf_counter() - t:.1f}s")

    # 2. bulk load, build from SQLite, save
    store = FaceStore(work, params, preload=False, background_saves=False)
    backend = store.region(ACCOUNT, REGION)
    if reuse:
        say("reusing the loaded collection of a previous run (same seed, same vectors)")
        figures["reused"] = str(work)
    else:
        bulk_load(store, backend, data, figures, say)
    pk = backend.describe_collection(COLLECTION).pk

    # 3. recall@10 and query time by ef
    index = store.index(pk)
    first_label = (
        store.db.reader()
        .execute("SELECT min(label) FROM faces WHERE collection_pk = ?", (pk,))
        .fetchone()[0]
    )
    hnsw = index._index
    figures["recall"] = []
    say(
        f"\n{'ef':>6} {'recall@10':>10} {'ms/query':>9} {'recall@10 (stored, self excluded)':>34} {'ms':>6}"
    )
    for ef in efs:
        hnsw.set_ef(ef)
        row = {"ef": ef}
        for name, qs, truth, skip in (
            ("random", queries, truth_q, None),
            ("stored", data[members], truth_m, members),
        ):
            found = []
            t = time.perf_counter()
            for i, q in enumerate(qs):
                labels, _ = hnsw.knn_query(q, k=11 if skip is not None else 10, num_threads=1)
                rows = labels[0] - first_label
                if skip is not None:
                    rows = rows[rows != skip[i]][:10]
                found.append(rows)
            ms = (time.perf_counter() - t) / len(qs) * 1000
            recall = float(
                np.mean([len(set(f) & set(g)) / 10 for f, g in zip(found, truth, strict=True)])
            )
            row[f"{name}_recall"], row[f"{name}_ms"] = recall, ms
        figures["recall"].append(row)
        say(
            f"{ef:>6} {row['random_recall']:>10.4f} {row['random_ms']:>9.2f} "
            f"{row['stored_recall']:>34.4f} {row['stored_ms']:>6.2f}"
        )
    # Planted pairs through the store's own thresholded search (what SearchFaces runs).
    from rekognition_emulator.handlers._face_search import cosine_for

    min_cosine = cosine_for(80.0)
    collection = backend.describe_collection(COLLECTION)
    figures["planted_match_recall"] = []
    say(
        f"\nplanted pairs ({args.pairs}, cosine 0.5-0.8) found at Similarity >= 80 (cosine >= {min_cosine:.3f}):"
    )
    for ef in efs:
        hnsw.set_ef(ef)
        found = 0
        for anchor, partner in zip(anchors, partners, strict=True):
            hits = backend.search_faces(
                collection, data[anchor], 4096, min_cosine, exclude_label=int(anchor) + first_label
            )
            found += any(m.face.label == int(partner) + first_label for m in hits)
        figures["planted_match_recall"].append({"ef": ef, "recall": found / args.pairs})
        say(f"  ef {ef:>5}: {found}/{args.pairs} = {found / args.pairs:.4f}")
    store.close()
    del data

    # 4. the server: restart, SearchFaces latency, memory
    if not args.skip_server:
        conn = sqlite3.connect(f"file:{work}/rekognition.sqlite3?mode=ro", uri=True)
        face_ids = [
            r[0]
            for r in conn.execute(
                "SELECT face_id FROM faces ORDER BY random() LIMIT ?", (args.calls + 100,)
            )
        ]
        conn.close()
        for serve_ef in [int(x) for x in args.serve_efs.split(",")]:
            serve(work, serve_ef, face_ids, args, figures, say)
    figures["load_after"] = os.getloadavg()
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
