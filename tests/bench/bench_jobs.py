"""Benchmark of the job engine: submit N trivial jobs, time them to completion, and time
each completion message to an SQS queue subscribed to its SNS topic (moto, in process).

    .venv/bin/python tests/bench/bench_jobs.py                 # 2,000 jobs, 100,000 items
    .venv/bin/python tests/bench/bench_jobs.py --jobs 500 --workers 1 --items 0
    .venv/bin/python tests/bench/bench_jobs.py --no-sns --items 0   # the engine alone

In process, on a real SQLite file in a temporary folder (synchronous=FULL, as the server
runs it: every submit and every finish is an fsynced commit). A trivial job stores one
result item and returns. Figures:

- submit: the Start side, one committed job row (plus its ClientRequestToken) per call;
- throughput: jobs finished per second from the first submit to the last finish;
- latency: submitted -> finished (queueing included, all N submitted at once) and, for a
  job submitted alone, submitted -> finished -> message received;
- notification: finish committed -> message received from SQS by a consumer that drains
  the queue as a user's code does (and counts duplicates: there must be none);
- results: one job storing --items items in pages of 1,000, then read back page by page
  (what a Get* with MaxResults 1000 does), in stored order and arranged (sorted) at read time.

Not collected by pytest (tests/bench is in norecursedirs and the file is not test_*.py).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from moto.sns.models import sns_backends  # noqa: E402
from moto.sqs.models import sqs_backends  # noqa: E402

from rekognition_emulator.emulator.jobs import JobContext, JobEngine, job_kind  # noqa: E402
from rekognition_emulator.emulator.store.db import Database  # noqa: E402
from rekognition_emulator.emulator.store.tokens import PageTokens, load_secret  # noqa: E402

REGION = "us-east-1"


@job_kind("BenchNoop")
def noop(job: JobContext) -> dict[str, Any]:
    job.store_results([{"Timestamp": 0, "Value": job.params["i"]}])
    return {"Done": True}


@job_kind("BenchItems")
def many_items(job: JobContext) -> dict[str, Any]:
    n = job.params["items"]
    for start in range(0, n, 1000):
        job.store_results(
            {"Timestamp": i * 40, "Label": {"Name": f"label-{i % 97}", "Confidence": 50 + i % 50}}
            for i in range(start, min(n, start + 1000))
        )
        job.progress(min(n, start + 1000) / n)
    return {"Items": n}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} ms, p95 {pct(values, 95):.2f} ms, max {max(values):.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument(
        "--no-sns", action="store_true", help="a publisher that does nothing (engine alone)"
    )
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()

    account = "".join(secrets.choice("0123456789") for _ in range(12))
    sns, sqs = sns_backends[account][REGION], sqs_backends[account][REGION]
    topic = sns.create_topic("AmazonRekognitionBench")
    queue = sqs.create_queue("bench-inbox")
    sns.subscribe(topic.arn, queue.queue_arn, "sqs")
    received: dict[str, float] = {}
    duplicates = 0
    done = threading.Event()

    def consume() -> None:
        """A user's consumer, draining the queue as messages arrive (moto's SQS slows down
        with every message left in a queue)."""
        nonlocal duplicates
        while not done.is_set():
            got = sqs.receive_message("bench-inbox", 10, 0, 30)
            now = time.time()
            for m in got:
                job_id = json.loads(json.loads(m.body)["Message"])["JobId"]
                duplicates += job_id in received
                received.setdefault(job_id, now)
                sqs.delete_message("bench-inbox", m.receipt_handle)
            if not got:
                time.sleep(0.001)

    def publish(account: str, region: str, topic_arn: str, message: str) -> str:
        if args.no_sns:  # the engine's own cost: the message is "received" as it is handed over
            received[json.loads(message)["JobId"]] = time.time()
            return "0"
        return sns_backends[account][region].publish(message=message, arn=topic_arn)

    def arrived(job_id: str) -> float:
        while job_id not in received:
            time.sleep(0.0005)
        return received[job_id]

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    channel = {"SNSTopicArn": topic.arn, "RoleArn": f"arn:aws:iam::{account}:role/Bench"}
    figures: dict[str, Any] = {"jobs": args.jobs, "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as work:
        db = Database.open(Path(work))
        tokens = PageTokens(load_secret(Path(work) / "pagination.key"))
        engine = JobEngine(
            db, tokens, workers=args.workers, max_concurrent_jobs=args.jobs + 10, publish=publish
        ).start()
        try:
            # 1. one job alone: the latency a single Start sees
            alone = []
            for i in range(20):
                t0 = time.time()
                job = engine.submit(
                    "BenchNoop",
                    account=account,
                    region=REGION,
                    params={"i": -i},
                    notification=channel,
                    wait_seconds=None,
                )
                alone.append((arrived(job.job_id) - t0) * 1000)
            figures["alone_submit_to_message_ms"] = statistics.median(alone)
            print(f"one job alone, submit -> message received from SQS: {summary(alone)}")

            # 2. N at once
            submit_ms = []
            started = time.time()
            ids = []
            for i in range(args.jobs):
                t0 = time.perf_counter()
                job = engine.submit(
                    "BenchNoop",
                    account=account,
                    region=REGION,
                    params={"i": i},
                    client_token=f"bench-{i}",
                    notification=channel,
                )
                submit_ms.append((time.perf_counter() - t0) * 1000)
                ids.append(job.job_id)
            submitted = time.time() - started
            records = [engine.wait(account, REGION, job_id, timeout=600) for job_id in ids]
            total = max(arrived(j) for j in ids) - started
            assert all(r.status == "SUCCEEDED" for r in records)
            finish = [(r.finished_at - r.submitted_at) * 1000 for r in records]
            notify = [(received[r.job_id] - r.finished_at) * 1000 for r in records]
            time.sleep(1.0)
            figures.update(
                submit_per_s=args.jobs / submitted,
                submit_p50_ms=statistics.median(submit_ms),
                jobs_per_s=args.jobs / total,
                notify_p50_ms=statistics.median(notify),
                notify_p95_ms=pct(notify, 95),
            )
            print(
                f"{args.jobs} jobs, {args.workers} workers: submitted in {submitted:.2f} s "
                f"({args.jobs / submitted:.0f}/s; each {summary(submit_ms)})"
            )
            print(f"  all finished and notified in {total:.2f} s: {args.jobs / total:.0f} jobs/s")
            print(f"  submitted -> finished (queueing included): {summary(finish)}")
            print(f"  finished -> message received from SQS: {summary(notify)}")
            print(f"  messages received: {len(received)}, duplicates: {duplicates}")

            # 3. results of a big job, stored and read page by page
            if args.items:
                t0 = time.perf_counter()
                big = engine.submit(
                    "BenchItems",
                    account=account,
                    region=REGION,
                    params={"items": args.items},
                    wait_seconds=None,
                )
                store_s = time.perf_counter() - t0

                def read(arrange=None) -> tuple[float, int]:
                    t = time.perf_counter()
                    count, token = 0, None
                    while True:
                        page, token = engine.results(
                            big,
                            purpose="bench" if arrange is None else "bench-sorted",
                            max_results=1000,
                            next_token=token,
                            arrange=arrange,
                        )
                        count += len(page)
                        if token is None:
                            return time.perf_counter() - t, count

                plain_s, n1 = read()

                def by_name(items: list[dict]) -> list[dict]:
                    return sorted(
                        items, key=lambda x: (x["Label"]["Name"], -x["Label"]["Confidence"])
                    )

                sorted_s, n2 = read(by_name)
                assert n1 == n2 == args.items
                pages = -(-args.items // 1000)
                figures.update(
                    items=args.items,
                    items_store_s=store_s,
                    items_read_s=plain_s,
                    items_read_sorted_s=sorted_s,
                )
                print(
                    f"{args.items:,} result items: stored in {store_s:.2f} s "
                    f"({args.items / store_s:,.0f}/s); read in {pages} pages of 1,000 in "
                    f"{plain_s:.2f} s ({plain_s / pages * 1000:.1f} ms a page), sorted at "
                    f"read time {sorted_s:.2f} s (the sort once, then {pages} slices)"
                )
        finally:
            done.set()
            engine.close()
            db.close()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
