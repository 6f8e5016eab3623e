"""Job kinds for the job engine's tests, registered as a handler module registers its own.

TestSteps   stores one result item per step (params Steps, Delay; Fail: end FAILED)
TestGate    stays open until its gate (params Gate) is opened or it is stopped
TestBoom    fails with an unexpected error
TestStream  long-running, outside the open-job limit: ticks until stopped
"""

from __future__ import annotations

import threading
from typing import Any

from rekognition_emulator.emulator.jobs import JobContext, JobFailed, job_kind

GATES: dict[str, threading.Event] = {}


def gate(name: str) -> threading.Event:
    return GATES.setdefault(name, threading.Event())


def step_item(i: int) -> dict[str, Any]:
    return {"Timestamp": i * 100, "Label": {"Name": f"step-{i:03d}", "Confidence": 50.0 + i % 7}}


@job_kind("TestSteps")
def steps(job: JobContext) -> dict[str, Any]:
    n = int(job.params.get("Steps", 10))
    delay = float(job.params.get("Delay", 0))
    for i in range(n):
        if delay and job.wait(delay):
            break
        job.store_results([step_item(i)])
        job.progress((i + 1) / n)
    if job.params.get("Fail"):
        raise JobFailed(f"step {n} failed as the test asked", {"Steps": n})
    return {"Steps": n, "Attempt": job.attempt}


@job_kind("TestGate")
def gated(job: JobContext) -> dict[str, Any]:
    opened = gate(job.params["Gate"])
    while not opened.is_set() and not job.wait(0.02):
        pass
    return {"Gate": job.params["Gate"]}


@job_kind("TestBoom")
def boom(job: JobContext) -> dict[str, Any]:
    raise RuntimeError("the test kind exploded")


@job_kind("TestStream", limited=False, long_running=True)
def stream(job: JobContext) -> dict[str, Any]:
    ticks = 0
    while not job.wait(0.02):
        ticks += 1
    return {"Ticks": ticks}
