"""The AWS services on the port besides Rekognition and S3: SNS, SQS, IAM and Kinesis, each
one of moto's embedded in process (emulator/aws/embedded.py), or external when the Config
names an endpoint for it (`sns_endpoint_url` ...), in which case requests for it arriving
here are answered with an error saying where it is.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rekognition_emulator.emulator.aws import iam, kinesis, sns, sqs
from rekognition_emulator.emulator.aws.embedded import EmbeddedService, ServiceSpec

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.config import Config
    from rekognition_emulator.emulator.server.context import AppState

# Restored in this order: queues before the subscriptions that deliver to them.
SPECS: dict[str, ServiceSpec] = {s.name: s for s in (iam.SPEC, sqs.SPEC, sns.SPEC, kinesis.SPEC)}


_prepared = False
_prepare_lock = threading.Lock()


def prepare_moto() -> None:
    """Apply every embedded service's moto settings, once, before moto serves anything (S3
    included: any moto request creates IAM's backend for its account)."""
    global _prepared
    with _prepare_lock:
        if not _prepared:
            for spec in SPECS.values():
                spec.prepare()
            _prepared = True


class AwsServices:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.folder: Path = config.data_dir / "aws"
        self._services: dict[str, EmbeddedService] = {}
        self._lock = threading.Lock()

    def external_url(self, name: str) -> str | None:
        """The endpoint `name` is used at, when it is not embedded (None: embedded)."""
        return getattr(self.config, f"{name}_endpoint_url", None)

    def embedded(self, name: str) -> EmbeddedService:
        service = self._services.get(name)
        if service is None:
            with self._lock:
                service = self._services.get(name)
                if service is None:
                    prepare_moto()
                    service = self._services[name] = EmbeddedService(SPECS[name], self.folder)
        return service

    def warm(self) -> None:
        """Restore, now, every embedded service that has saved state: a notification
        published before a queue is restored would be lost."""
        for name in SPECS:
            if not self.external_url(name) and (self.folder / f"{name}.json").exists():
                self.embedded(name)

    def reset(self) -> None:
        for name in SPECS:
            if not self.external_url(name):
                self.embedded(name).reset()

    def health(self) -> dict[str, str]:
        return {name: self.external_url(name) or "embedded" for name in SPECS}


def aws_services(state: AppState) -> AwsServices:
    return state.singleton("aws", lambda: AwsServices(state.config))
