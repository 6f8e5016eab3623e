"""What travels with one request (RequestContext) and what the server holds (AppState)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rekognition_emulator.emulator.server.config import Config

T = TypeVar("T")


class AppState:
    """Server-wide state: the config and lazily created services (stores, S3 reader ...).

    Services are created once, on first use, under a lock, and shared by every request.
    `reset()` drops them all (the admin reset); each may define `close()`.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        # operation name -> handler: the table this app serves (create_app fills it)
        self.operations: Mapping[str, Callable[..., Any]] = {}
        self._services: dict[str, Any] = {}
        self._lock = threading.RLock()

    def singleton(self, key: str, factory: Callable[[], T]) -> T:
        service = self._services.get(key)
        if service is None:
            with self._lock:
                service = self._services.get(key)
                if service is None:
                    service = factory()
                    self._services[key] = service
        return service

    def reset(self) -> None:
        """Drop all state: each service's `reset()` wipes its persisted data."""
        with self._lock:
            for service in self._services.values():
                wipe = getattr(service, "reset", None)
                if wipe is not None:
                    wipe()

    def close(self) -> None:
        # Newest first: a service closes before the ones it was built on (the face store and
        # the job engine before the database they share).
        with self._lock:
            for service in reversed(list(self._services.values())):
                close = getattr(service, "close", None)
                if close is not None:
                    close()
            self._services.clear()


@dataclass
class RequestContext:
    account: str
    region: str
    request_id: str
    operation: str
    state: AppState
    access_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Config:
        return self.state.config
