"""SQS: moto's, embedded on the port (its JSON protocol, `AmazonSQS.*`, which current SDKs
use, and the older query protocol), or an external one (`--sqs-endpoint-url`).

Kept across restarts: queues (name, every settable attribute including Policy and
RedrivePolicy, tags, creation time). Not kept: messages (in flight or waiting), receipt
handles, FIFO deduplication history. Queue URLs are made from the request's host, so they
follow the port the server runs on.
"""

from __future__ import annotations

from typing import Any

from rekognition_emulator.emulator.aws.embedded import ServiceSpec, groups, restore_each

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
    redrives: list[tuple[Any, str, str]] = []

    def restore_queue(backend: Any, saved: dict[str, Any]) -> None:
        attributes = dict(saved.get("attributes", {}))
        # A dead-letter queue may come later in the list: redrive policies are set last.
        redrive = attributes.pop("RedrivePolicy", None)
        queue = backend.create_queue(saved["name"], tags=saved.get("tags"), **attributes)
        queue.created_timestamp = saved.get("created", queue.created_timestamp)
        if redrive:
            redrives.append((backend, queue.name, redrive))

    for group in groups_:
        backend = backends[group["account"]][group["region"]]
        restore_each("SQS", "queue", group.get("queues", []), restore_queue, backend)
    restore_each(
        "SQS",
        "redrive policy of",
        [{"name": name, "backend": b, "policy": p} for b, name, p in redrives],
        lambda r: r["backend"].set_queue_attributes(r["name"], {"RedrivePolicy": r["policy"]}),
    )


SPEC = ServiceSpec(
    name="sqs",
    title="SQS",
    snapshot=snapshot,
    restore=restore,
    backends=_backends,
    traffic=MESSAGE_ACTIONS | {"PurgeQueue"},
    unlocked=MESSAGE_ACTIONS,
)
