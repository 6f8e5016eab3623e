"""Clients for services the user runs elsewhere (`--sns-endpoint-url` and friends): LocalStack,
moto server, or anything that speaks the service's API."""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.Lock()


@functools.cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


_clients: dict[tuple[str, str, str, str], Any] = {}


def client(service: str, endpoint_url: str, region: str, account: str) -> Any:
    """A botocore client for `service` at `endpoint_url`, acting as `account`.

    The access key is the account id: LocalStack and moto both read a 12-digit access key as
    that account, the same rule the emulator applies to its own callers; the secret is not
    checked by either."""
    from botocore.config import Config as BotoConfig

    key = (service, endpoint_url, region, account)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = _session().create_client(
                service,
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=account,
                aws_secret_access_key="rekognition-emulator",
                config=BotoConfig(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
            )
        return found
