"""Run a real emulator server for tests: `with running_server() as endpoint: ...`; wait for a
Rekognition Video job and read all its pages: `wait_for_job(...)`, `all_pages(...)`."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class EmulatorProcess:
    """A server in a child process on a free port; `endpoint` is its base URL."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
        module: str = "rekognition_emulator",
    ) -> None:
        """`module` is run as `python -m <module> serve ...` (a test may name its own entry
        point that serves a different handler table through `cli.serve(argv, operations)`)."""
        self.module = module
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="rekognition-emulator-test-"))
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout = startup_timeout
        self.endpoint = ""
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.server.log"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        cmd = [
            sys.executable,
            "-m",
            self.module,
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]
        self._log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log, text=True, env=self.env
        )
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                lines.put(line)
                self._log.write(line)
                self._log.flush()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"emulator exited at start:\n{self.log()}") from None
                continue
            if "listening on " in line:
                self.endpoint = line.split("listening on ", 1)[1].split()[0]
                break
        if not self.endpoint:
            self.stop()
            raise RuntimeError(f"emulator did not start in {self.startup_timeout}s:\n{self.log()}")
        self.wait_healthy(deadline)
        return self.endpoint

    def wait_healthy(self, deadline: float) -> dict:
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_emulator/health", timeout=5) as r:
                    return json.loads(r.read())
            except OSError:
                if time.monotonic() > deadline or (self.proc and self.proc.poll() is not None):
                    raise RuntimeError(f"emulator is not healthy:\n{self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-5000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the crash a durability test needs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.log_path.unlink(missing_ok=True)


@contextmanager
def running_server(
    data_dir: str | Path | None = None, args: Sequence[str] = (), env: dict[str, str] | None = None
) -> Iterator[str]:
    """A live emulator for the duration of the block; yields its endpoint URL.

    State lives in a temporary folder (removed afterwards) unless `data_dir` is given;
    models come from the usual model cache.
    """
    server = EmulatorProcess(data_dir=data_dir, args=args, env=env)
    try:
        yield server.start()
    finally:
        server.cleanup()


class Faults:
    """Fault rules of a running emulator (`POST/GET/DELETE /_emulator/faults`), from a test:

        faults = Faults(endpoint)
        faults.add(operation="DetectFaces", error="ThrottlingException", count=3)
        faults.add(operation="SearchFacesByImage", latency_ms=2000)
        faults.add(operation="IndexFaces", error="ProvisionedThroughputExceededException",
                   probability=0.1, seed=7)
        faults.clear()

    The pytest plugin's `rekognition_faults` fixture is one of these, cleared after the test.
    """

    def __init__(self, endpoint: str) -> None:
        self.url = endpoint.rstrip("/") + "/_emulator/faults"

    def _call(self, method: str, url: str, rule: dict | None = None) -> dict:
        data = json.dumps(rule).encode() if rule is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise ValueError(f"fault rule refused: {detail}") from None

    def add(self, **rule: object) -> dict:
        """Add a rule (operation, account, region, error, message, latency_ms, count,
        probability, seed); returns it with its id. A rule the server cannot apply raises
        ValueError with the server's reason."""
        return self._call("POST", self.url, rule)

    def rules(self) -> list[dict]:
        """The rules, each with `fired` (times it answered) and `seen` (requests it matched)."""
        return self._call("GET", self.url)["rules"]

    def remove(self, rule_id: int) -> None:
        self._call("DELETE", f"{self.url}/{rule_id}")

    def clear(self) -> None:
        self._call("DELETE", self.url)


def wait_for_job(
    get: Callable[..., dict[str, Any]],
    job_id: str,
    *,
    timeout: float = 300.0,
    interval: float = 0.25,
    **params: Any,
) -> dict[str, Any]:
    """Call a Get* of Rekognition Video (a boto3 method such as `rekognition.get_label_detection`)
    until the job is no longer IN_PROGRESS, and return that answer (its first page).

    Works against AWS as against the emulator. A server started with `--sync-jobs` has
    finished the job before Start* answers, so the first call returns at once.
    TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        response = get(JobId=job_id, **params)
        if response.get("JobStatus") != "IN_PROGRESS":
            return response
        if time.monotonic() >= deadline:
            raise TimeoutError(f"job {job_id} still IN_PROGRESS after {timeout:g} s")
        time.sleep(interval)


def all_pages(
    get: Callable[..., dict[str, Any]], job_id: str, **params: Any
) -> list[dict[str, Any]]:
    """Every page of a finished job's results, following NextToken to the last page (the one
    without it), e.g. `sum((p["Labels"] for p in all_pages(rk.get_label_detection, job_id,
    SortBy="NAME")), [])`."""
    pages = [get(JobId=job_id, **params)]
    while "NextToken" in pages[-1]:
        pages.append(get(JobId=job_id, NextToken=pages[-1]["NextToken"], **params))
    return pages
