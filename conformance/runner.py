"""Run the whole suite against an endpoint (or a server of its own) and build the report."""

from __future__ import annotations

import json
import secrets
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rekognition_emulator.conformance import cli_runner, js_runner
from rekognition_emulator.conformance.derive import minimal_input
from rekognition_emulator.conformance.harness import Check, Harness
from rekognition_emulator.conformance.images import load_photos, testdata_dir
from rekognition_emulator.conformance.scenarios import (
    FLOWS,
    Context,
    covered_by_flows,
    forget_celebrity,
    generic_errors,
    generic_seed,
    setup_s3,
    smoke,
    teardown_s3,
)

ACCESS_KEY = "AKIACONFORMANCE"
SECRET_KEY = "conformance-secret"


@dataclass
class OperationResult:
    name: str
    implemented: bool
    checks: list[Check] = field(default_factory=list)
    skipped: bool = False  # outside --only

    def _count(
        self, client: str, kind: str | None = None, shape: bool | None = None
    ) -> tuple[int, int]:
        chosen = [
            c
            for c in self.checks
            if c.client == client
            and (kind is None or c.kind == kind)
            and (shape is None or c.shape_checked == shape)
        ]
        return sum(c.ok for c in chosen), len(chosen)

    @property
    def calls(self) -> int:
        return len([c for c in self.checks if c.client == "boto3" and c.kind != "probe"])

    @property
    def shape(self) -> tuple[int, int]:
        return self._count("boto3", "call", shape=True)

    @property
    def errors(self) -> tuple[int, int]:
        return self._count("boto3", "error")

    @property
    def cli(self) -> tuple[int, int]:
        return self._count("cli")

    @property
    def js(self) -> tuple[int, int]:
        return self._count("js")

    @property
    def failed(self) -> bool:
        return any(not c.ok for c in self.checks)

    @property
    def status(self) -> str:
        if self.failed:
            return "FAIL"
        if self.skipped:
            return "skipped (--only)"
        return "pass" if self.implemented else "not implemented"


@dataclass
class Report:
    endpoint: str
    results: dict[str, OperationResult]
    notes: list[str]
    seconds: float

    @property
    def passed(self) -> int:
        return sum(r.implemented and not r.skipped and not r.failed for r in self.results.values())

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.results.values())

    @property
    def implemented(self) -> int:
        return sum(r.implemented for r in self.results.values())

    def render(self, verbose: bool = False) -> str:
        def frac(pair: tuple[int, int]) -> str:
            return f"{pair[0]}/{pair[1]}" if pair[1] else "-"

        width = max(len(n) for n in self.results) + 2
        head = f"{'operation':<{width}}{'impl':<6}{'calls':>6}  {'shape':>7}  {'errors':>7}  {'cli':>5}  {'js':>5}  result"
        lines = [
            f"rekognition-emulator conformance against {self.endpoint}",
            "",
            head,
            "-" * len(head),
        ]
        for name in sorted(self.results):
            r = self.results[name]
            lines.append(
                f"{name:<{width}}{'yes' if r.implemented else 'no':<6}{r.calls if r.implemented else '-':>6}  "
                f"{frac(r.shape):>7}  {frac(r.errors):>7}  {frac(r.cli):>5}  {frac(r.js):>5}  {r.status}"
            )
        if verbose:
            lines += ["", "Checks:"]
            for name in sorted(self.results):
                for c in self.results[name].checks:
                    lines.append(
                        f"  {'ok  ' if c.ok else 'FAIL'} {c.operation} [{c.client}] {c.name}"
                    )
        failures = [c for r in self.results.values() for c in r.checks if not c.ok]
        if failures:
            lines += ["", "Failures:"]
            for c in failures:
                lines.append(f"  FAIL {c.operation} [{c.client}] {c.name}")
                if c.detail:
                    lines.append(f"       {c.detail}")
        lines += ["", "Notes:"]
        lines += [f"  {note}" for note in self.notes]
        total = len(self.results)
        lines += [
            f"  {self.implemented} of {total} operations implemented, "
            f"{total - self.implemented} not implemented (never counted as passes); "
            f"{sum(len(r.checks) for r in self.results.values())} checks in {self.seconds:.1f}s",
            "",
            f"{self.passed} passed, {self.failed} failed",
        ]
        return "\n".join(lines)


def health(endpoint: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{endpoint.rstrip('/')}/_emulator/health", timeout=10) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def discover(h: Harness, operations: list[str]) -> tuple[set[str], str]:
    """The implemented operations: from the admin health report, else by asking each one."""
    report = health(h.endpoint)
    if report and isinstance(report.get("operations_implemented"), list):
        return set(report["operations_implemented"]) & set(operations), "/_emulator/health"
    from botocore.exceptions import ClientError

    found = set()
    for op in operations:
        # An empty request: any answer but NotImplementedException means the server knows the
        # operation, and an invalid request has no side effect on a server not our own.
        try:
            getattr(h.unchecked, _method(op))()
            found.add(op)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotImplementedException":
                found.add(op)
        except Exception as exc:  # no HTTP answer at all: nothing to check
            raise RuntimeError(f"cannot reach {h.endpoint}: {type(exc).__name__}: {exc}") from None
    return found, "probing each operation (no /_emulator/health)"


def _method(op: str) -> str:
    from botocore import xform_name

    return xform_name(op)


def probe_unimplemented(ctx: Context, operation: str) -> None:
    """An operation the server does not implement must say so, naming it: never a fake success.

    The request is valid by the model, because the shell validates before it dispatches.
    """
    h = ctx.h
    params = minimal_input(h.model.operation_model(operation).input_shape, ctx.photos.face)
    h.expect_error(
        operation,
        params,
        "NotImplementedException",
        name="a valid request to an unimplemented operation",
        message_contains=operation,
    )
    # Re-label: this check is about the unimplemented answer, not one of the operation's errors.
    h.checks[-1].kind = "probe"


@dataclass
class _Served:
    url: str
    how: str
    process: object | None = None  # emulator.testing.EmulatorProcess when we started it

    def tracebacks(self, limit: int = 3) -> list[str]:
        """The last tracebacks in our server's log: what a 500 answer points at."""
        log_text = self.process.log() if self.process is not None else ""  # type: ignore[attr-defined]
        blocks = log_text.split("Traceback (most recent call last):")[1:]
        out = []
        for block in blocks[-limit:]:
            lines = block.split("\n20", 1)[0].strip().splitlines()
            # The innermost frame and the exception say what broke; the rest is the framework.
            out.append("\n".join(lines[-5:]))
        return out


@contextmanager
def _server(endpoint: str | None, auth: str) -> Iterator[_Served]:
    if endpoint:
        yield _Served(endpoint.rstrip("/"), f"given endpoint {endpoint}")
        return
    from rekognition_emulator.emulator.testing import EmulatorProcess

    args = ["--auth", auth]
    if auth == "strict":
        args += ["--credentials", f"{ACCESS_KEY}:{SECRET_KEY}"]
    server = EmulatorProcess(args=args)
    started = time.monotonic()
    try:
        url = server.start()
        yield _Served(
            url,
            f"own server {url} (--auth {auth}), started in {time.monotonic() - started:.1f}s",
            server,
        )
    finally:
        server.cleanup()


def run(
    endpoint: str | None = None,
    *,
    cli: bool = True,
    js: bool = True,
    auth: str = "strict",
    only: set[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run every check; `only` restricts the operations exercised (the table still has all 75)."""
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    notes: list[str] = []
    with _server(endpoint, auth) as served:
        url = served.url
        notes.append(served.how)
        h = Harness(url, set(), access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        operations = sorted(h.model.operation_names)
        implemented, source = discover(h, operations)
        if only is not None:
            unknown = only - set(operations)
            if unknown:
                raise ValueError(f"not operations of the service model: {sorted(unknown)}")
        # Scenarios see only the operations selected; the table still says what is implemented.
        h.implemented = implemented & only if only is not None else implemented
        notes.append(f"implemented operations read from {source}")
        say(f"{len(implemented)} of {len(operations)} operations implemented")

        photos = load_photos()
        shared = testdata_dir()
        notes.append(
            "photos: "
            + ", ".join(f"{k}={v}" for k, v in photos.source.items())
            + ("" if shared else " (../shared/testdata absent: group-photo cases skipped)")
        )
        ctx = Context(h, photos, secrets.token_hex(4))
        setup_s3(ctx)
        if not ctx.s3_ready:
            notes.append(f"S3 setup failed, S3Object cases skipped: {ctx.s3_error}")
        elif ctx.video_note:
            notes.append(ctx.video_note)

        for op in operations:
            if op not in implemented and (only is None or op in only):
                probe_unimplemented(ctx, op)
        for name, (flow, ops) in FLOWS.items():
            if ops & h.implemented:
                say(f"scenario {name}")
                flow(ctx)
        for op in sorted(h.implemented):
            generic_errors(ctx, op, generic_seed(ctx, op))
            if op not in covered_by_flows():
                smoke(ctx, op)

        with tempfile.TemporaryDirectory(prefix="rekognition-conformance-") as tmp:
            files = photos.as_files(Path(tmp))
            if cli:
                say("AWS CLI")
                notes.append(cli_runner.run(ctx, files))
            else:
                notes.append("AWS CLI: not run (--no-cli)")
            if js:
                say("JS SDK")
                notes.append(js_runner.run(ctx, files))
            else:
                notes.append("JS SDK v3: not run (--no-js)")
        teardown_s3(ctx)
        forget_celebrity(ctx)
        if any("InternalServerError" in c.detail for c in h.checks):
            for tb in served.tracebacks():
                notes.append("server log, " + tb.replace("\n", "\n    "))

    results = {
        op: OperationResult(op, op in implemented, skipped=only is not None and op not in only)
        for op in operations
    }
    for check in h.checks:
        results[check.operation].checks.append(check)
    return Report(url, results, notes, time.monotonic() - started)
