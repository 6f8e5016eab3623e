"""The request journal behind the inspector: the last N requests, in memory.

Bounded three ways: at most `size` entries (the oldest go first), a request's image kept only
up to `image_bytes`, and at most `memory_bytes` of images in all (the oldest entries lose
their images first; the rest of their record stays). Recording a request is a few dict and
deque operations under a lock, done after the response is built: it never waits on I/O.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Entry:
    seq: int
    at: float  # epoch seconds when the request arrived
    service: str  # "Rekognition", "S3", "SNS" ...
    operation: str
    status: int
    ms: float
    account: str
    region: str
    request_id: str
    error: str | None = None  # the exception name of an error answer
    fault: int | None = None  # the fault rule that answered it, if one did
    params: Any = None  # the request with its blobs replaced by {"$bytes": size}
    response: bytes = b""  # the body exactly as sent
    images: dict[str, bytes] = field(default_factory=dict)  # member path -> image bytes kept
    omitted: dict[str, str] = field(default_factory=dict)  # member path -> why not kept

    def held(self) -> int:
        return sum(len(b) for b in self.images.values())

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "service": self.service,
            "operation": self.operation,
            "status": self.status,
            "ms": round(self.ms, 2),
            "account": self.account,
            "region": self.region,
            "request_id": self.request_id,
            "error": self.error,
            "fault": self.fault,
        }

    def detail(self) -> dict[str, Any]:
        try:
            response = json.loads(self.response) if self.response else None
        except ValueError:
            response = self.response.decode("utf-8", "replace")
        return {
            **self.summary(),
            "params": self.params,
            "response": response,
            "images": image_members(self.params, self.images, self.omitted),
        }


def image_members(
    params: Any, kept: dict[str, bytes], omitted: dict[str, str]
) -> list[dict[str, Any]]:
    """The request's images: where each comes from and whether the journal holds it."""
    out: list[dict[str, Any]] = []
    for path, value in _walk(params, ""):
        if not isinstance(value, dict):
            continue
        if "Bytes" in value:
            out.append(
                {
                    "member": path,
                    "source": "bytes",
                    "kept": path in kept,
                    "why_not": omitted.get(path),
                }
            )
        elif isinstance(value.get("S3Object"), dict):
            out.append({"member": path, "source": "s3", "kept": True, "s3": value["S3Object"]})
    return out


def _walk(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)


class Journal:
    def __init__(self, size: int, image_bytes: int, memory_bytes: int) -> None:
        self.size = size
        self.image_bytes = image_bytes
        self.memory_bytes = memory_bytes
        self._entries: deque[Entry] = deque()
        self._imaged: deque[Entry] = deque()  # the entries holding images, oldest first
        self._held = 0  # image bytes held by the entries
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, *, params: Any = None, started: float | None = None, **fields: Any) -> None:
        """One request: `fields` are Entry's (service, operation, status, ms, account, region,
        request_id, and error, fault, response where there are any); `params` the request as
        validated, kept without its blobs; `started` when it arrived (default now)."""
        images: dict[str, bytes] = {}
        omitted: dict[str, str] = {}
        if params:
            params = self._strip(params, "", images, omitted)
        at = started if started is not None else time.time()
        entry = Entry(seq=0, at=at, params=params, images=images, omitted=omitted, **fields)
        with self._lock:
            entry.seq = next(self._seq)
            self._entries.append(entry)
            if images:
                self._imaged.append(entry)
                self._held += entry.held()
            while len(self._entries) > self.size:
                gone = self._entries.popleft()
                self._held -= gone.held()
                gone.images = {}  # so that _imaged does not count it again
            if self._held > self.memory_bytes:
                self._shed()

    def _strip(self, value: Any, path: str, images: dict[str, bytes], omitted: dict[str, str]):
        """A copy of the request without its blobs; image bytes kept aside when small enough."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                if isinstance(item, bytes | bytearray):
                    out[key] = {"$bytes": len(item)}
                    if key == "Bytes":
                        if len(item) <= self.image_bytes:
                            images[path] = bytes(item)
                        else:
                            omitted[path] = (
                                f"{len(item):,} bytes: over the journal's "
                                f"{self.image_bytes:,}-byte limit for an image"
                            )
                else:
                    out[key] = self._strip(item, where, images, omitted)
            return out
        if isinstance(value, list):
            return [
                self._strip(item, f"{path}[{i}]", images, omitted) for i, item in enumerate(value)
            ]
        return value

    def _shed(self) -> None:
        """Drop the oldest entries' images until the journal is within its memory budget
        (an entry already gone from the journal holds none)."""
        while self._imaged and self._held > self.memory_bytes:
            entry = self._imaged.popleft()
            if not entry.images:
                continue
            self._held -= entry.held()
            for path in entry.images:
                entry.omitted[path] = "dropped: the journal's memory budget went to newer requests"
            entry.images = {}

    def entries(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        """Entries newer than seq `after`, newest first."""
        with self._lock:
            newer = [e for e in reversed(self._entries) if e.seq > after]
        return newer[:limit] if limit else newer

    def get(self, seq: int) -> Entry | None:
        with self._lock:
            for entry in self._entries:
                if entry.seq == seq:
                    return entry
        return None

    def held(self) -> int:
        return self._held

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._imaged.clear()
            self._held = 0

    reset = clear  # POST /_emulator/reset
