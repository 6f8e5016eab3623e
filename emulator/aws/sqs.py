"""SQS: moto's, embedded on the port (its JSON protocol, `AmazonSQS.*`, which current SDKs
use, and the older query protocol), or an external one (`--sqs-endpoint-url`).

Kept across restarts: queues (name, every settable attribute including Policy and
RedrivePolicy, tags, creation time). Not kept: messages (in flight or waiting), receipt
handles, FIFO deduplication history. Queue URLs are made from the request's host, so they
follow the port the server runs on.
"""

from __future__ import annotations

import logging
from typing import Any

from rekognition_emulator.emulator.aws.embedded import ServiceSpec, groups

log = logging.getLogger("rekognition_emulator.aws")

# Attributes SQS computes; the rest are what CreateQueue / SetQueueAttributes set.
_COMPUTED = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "QueueArn",
    }
)
# Message traffic: persists nothing; may wait (ReceiveMessage long polls), so runs unlocked.
MESSAGE_ACTIONS = frozenset(
    {
        "SendMessage",
        "SendMessageBatch",
        "ReceiveMessage",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    }
)


def _backends() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends


def snapshot() -> list[dict[str, Any]]:
    out = []
    for account, region, backend in groups(_backends()):
        queues = [
            {
                "name": queue.name,
                "attributes": {
                    k: v
                    for k, v in queue.attributes.items()
                    if k not in _COMPUTED and v is not None
                },
                "tags": dict(queue.tags),
                "created": queue.created_timestamp,
            }
            for queue in list(backend.queues.values())
        ]
        if queues:
            out.append({"account": account, "region": region, "queues": queues})
    return out


def restore(groups_: list[dict[str, Any]]) -> None:
    backends = _backends()
    redrives = []
    for group in groups_:
        backend = backends[group["account"]][group["region"]]
        for saved in group.get("queues", []):
            attributes = dict(saved.get("attributes", {}))
            # A dead-letter queue may come later in the list: set redrive policies last.
            redrive = attributes.pop("RedrivePolicy", None)
            try:
                queue = backend.create_queue(saved["name"], tags=saved.get("tags"), **attributes)
                queue.created_timestamp = saved.get("created", queue.created_timestamp)
            except Exception:
                log.exception("SQS: could not restore queue %s", saved.get("name"))
                continue
            if redrive:
                redrives.append((backend, queue, redrive))
    for backend, queue, redrive in redrives:
        try:
            backend.set_queue_attributes(queue.name, {"RedrivePolicy": redrive})
        except Exception:
            log.exception("SQS: could not restore the redrive policy of %s", queue.name)


SPEC = ServiceSpec(
    name="sqs",
    title="SQS",
    snapshot=snapshot,
    restore=restore,
    backends=_backends,
    traffic=MESSAGE_ACTIONS | {"PurgeQueue"},
    unlocked=MESSAGE_ACTIONS,
)
