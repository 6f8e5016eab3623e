"""One of moto's services embedded on the port, behind its own lock, its resources persisted.

moto keeps state in memory only. After each request that may have changed a resource the
service persists (topics, queues, roles, streams ...), a snapshot of those resources is taken
and, when it differs from the last one, written to `<data dir>/aws/<service>.json` (fsync +
atomic rename) before the response leaves; at start the snapshot is replayed into moto's
backends through their own methods. What each service keeps is listed in its module
(sns.py, sqs.py, iam.py, kinesis.py) and in the README.

Each service has its own lock, so a slow one never stalls another. Message traffic that
persists nothing and may wait (SQS ReceiveMessage long polls up to 20 s, SendMessage,
DeleteMessage ...) runs outside the lock: moto's queues guard themselves (its own threaded
server serves them the same way), and a publish must be able to wake a waiting poll.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rekognition_emulator.emulator.aws.durable import write_atomic
from rekognition_emulator.emulator.aws.wire import WireRequest, WireResponse, call_wsgi

log = logging.getLogger("rekognition_emulator.aws")

FORMAT = 1
READ_PREFIXES = ("List", "Get", "Describe")


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # moto's service name, also the SigV4 signing name
    title: str  # as AWS writes it, for messages
    snapshot: Callable[[], list[dict[str, Any]]]
    restore: Callable[[list[dict[str, Any]]], None]
    backends: Callable[[], Any]  # moto's BackendDict
    # moto settings to apply before moto serves anything at all (any service's request may
    # create this service's backends: every moto request touches IAM's).
    prepare: Callable[[], None] = lambda: None
    # Actions that persist nothing (besides List*/Get*/Describe*): no snapshot after them.
    traffic: frozenset[str] = field(default_factory=frozenset)
    # Of those, the ones run outside the service lock (they may wait, see above).
    unlocked: frozenset[str] = field(default_factory=frozenset)

    def persists_nothing(self, action: str | None) -> bool:
        return action is not None and (action.startswith(READ_PREFIXES) or action in self.traffic)


class EmbeddedService:
    def __init__(self, spec: ServiceSpec, folder: Path) -> None:
        self.spec = spec
        self.path = folder / f"{spec.name}.json"
        self._lock = threading.RLock()
        self._app: Any = None
        self._written: bytes | None = None
        with self._lock:
            self._restore()

    @property
    def app(self) -> Any:
        if self._app is None:
            from moto.moto_server.werkzeug_app import create_backend_app

            with self._lock:
                if self._app is None:
                    self._app = create_backend_app(self.spec.name)
        return self._app

    # -- serving --------------------------------------------------------------------------
    def handle(self, request: WireRequest, action: str | None, account: str) -> WireResponse:
        """One request of this service's own protocol, answered by moto.

        moto would put every caller in its default account unless the access key was made
        in its IAM; the emulator's rule (a 12-digit key is that account) is passed on, so a
        topic a client creates is where the emulator's own publish looks for it."""
        extra = {"x-moto-account-id": account}
        if action in self.spec.unlocked:
            return call_wsgi(self.app, request, extra)
        with self._lock:
            response = call_wsgi(self.app, request, extra)
            if response.status < 300 and not self.spec.persists_nothing(action):
                self.persist()
        return response

    @contextmanager
    def locked(self) -> Iterator[Any]:
        """The service's backends, held for the emulator's own calls (publish, put_record)."""
        with self._lock:
            yield self.spec.backends()

    # -- persistence ----------------------------------------------------------------------
    def persist(self) -> None:
        """Write the snapshot if it changed (the caller holds the lock)."""
        data = json.dumps(
            {"format": FORMAT, "service": self.spec.name, "resources": self.spec.snapshot()},
            sort_keys=True,
            default=str,
        ).encode()
        if data != self._written:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, data)
            self._written = data

    def _restore(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            saved = json.loads(raw)
            resources = saved["resources"]
        except (ValueError, KeyError, TypeError) as exc:
            # Not expected (writes are atomic); keep the file for a person to look at.
            aside = self.path.with_name(self.path.name + ".unreadable")
            self.path.replace(aside)
            log.error(
                "%s state in %s is unreadable (%s); moved to %s",
                self.spec.title,
                self.path,
                exc,
                aside,
            )
            return
        self.spec.restore(resources)
        self._written = raw
        log.info(
            "%s: restored %d account/region groups from %s",
            self.spec.title,
            len(resources),
            self.path,
        )

    def reset(self) -> None:
        with self._lock:
            reset_backends(self.spec.backends())
            self.path.unlink(missing_ok=True)
            self._written = None


def restore_each(
    title: str,
    kind: str,
    items: list[dict[str, Any]],
    restore_one: Callable[..., Any],
    *args: Any,
) -> None:
    """`restore_one(*args, saved)` for each saved resource: one that moto refuses is logged
    and skipped, and the others still come back."""
    for saved in items:
        try:
            restore_one(*args, saved)
        except Exception:
            name = saved.get("name") or saved.get("arn")
            log.exception("%s: could not restore %s %s", title, kind, name)


def reset_backends(backends: Any) -> None:
    for account in list(backends.keys()):
        for backend in list(backends[account].values()):
            backend.reset()


def groups(backends: Any) -> Iterator[tuple[str, str, Any]]:
    """(account, region, backend) of every backend moto has created."""
    for account, regions in list(backends.items()):
        for region, backend in list(regions.items()):
            yield account, region, backend
