"""Kinesis Data Streams: moto's, embedded on the port, or an external one
(`--kinesis-endpoint-url`); and the emulator's own `put_record` (stream processor output).

Kept across restarts: streams (name, open shard count, capacity mode, retention period,
tags, encryption, enhanced monitoring, creation time) and registered consumers' names. Not
kept: records, sequence numbers and shard iterators, and the shard history of resharding
(a restored stream starts again with its open shard count in fresh shards).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.aws import arns, external
from rekognition_emulator.emulator.aws.embedded import ServiceSpec, groups, restore_each

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

MAX_RECORD_BYTES = 1_048_576


def _backends() -> Any:
    from moto.kinesis.models import kinesis_backends

    return kinesis_backends


def snapshot() -> list[dict[str, Any]]:
    out = []
    for account, region, backend in groups(_backends()):
        streams = [
            {
                "name": s.stream_name,
                "shards": sum(1 for shard in s.shards.values() if shard.is_open),
                "mode": dict(s.stream_mode),
                "retention_hours": s.retention_period_hours,
                "tags": dict(s.tags),
                "encryption": s.encryption_type,
                "key_id": s.key_id,
                "metrics": list(s.shard_level_metrics),
                "consumers": [c.consumer_name for c in s.consumers],
                "created": s.creation_datetime.isoformat(),
            }
            for s in list(backend.streams.values())
        ]
        if streams:
            out.append({"account": account, "region": region, "streams": streams})
    return out


def restore(groups_: list[dict[str, Any]]) -> None:
    backends = _backends()
    for group in groups_:
        backend = backends[group["account"]][group["region"]]
        restore_each("Kinesis", "stream", group.get("streams", []), _restore_stream, backend)


def _restore_stream(backend: Any, saved: dict[str, Any]) -> None:
    stream = backend.create_stream(
        saved["name"],
        saved.get("shards") or 1,
        stream_mode=saved.get("mode") or None,
        retention_period_hours=saved.get("retention_hours"),
    )
    stream.tags.update(saved.get("tags") or {})
    stream.encryption_type = saved.get("encryption") or "NONE"
    stream.key_id = saved.get("key_id")
    stream.shard_level_metrics = list(saved.get("metrics") or [])
    if saved.get("created"):
        stream.creation_datetime = dt.datetime.fromisoformat(saved["created"])
    for name in saved.get("consumers") or []:
        backend.register_stream_consumer(stream.arn, name)


SPEC = ServiceSpec(
    name="kinesis",
    title="Kinesis",
    snapshot=snapshot,
    restore=restore,
    backends=_backends,
    traffic=frozenset({"PutRecord", "PutRecords", "SubscribeToShard"}),
)


# -- the emulator's own put ----------------------------------------------------------------
class PutRecordError(RuntimeError):
    """The stream exists but refused the record (too large, not active ...)."""


def put_record(
    state: AppState, account: str, region: str, stream_arn: str, data: bytes, partition_key: str
) -> None:
    """Write one record to the stream `stream_arn` (embedded, or `--kinesis-endpoint-url`).

    Raises LookupError when the stream does not exist, PutRecordError when it refuses the
    record. `account` and `region` are the caller's, used to reach an external Kinesis."""
    from rekognition_emulator.emulator.aws.services import aws_services

    if not 1 <= len(partition_key) <= 256:
        raise PutRecordError("a partition key is 1 to 256 characters long")
    if len(data) + len(partition_key.encode()) > MAX_RECORD_BYTES:
        raise PutRecordError(f"a record is at most {MAX_RECORD_BYTES} bytes")
    try:
        arn = arns.parse(stream_arn)
    except ValueError as exc:
        raise LookupError(f"no Kinesis stream {stream_arn!r}: {exc}") from None
    if arn.service != "kinesis" or not arn.resource.startswith("stream/"):
        raise LookupError(f"{stream_arn} is not a Kinesis stream ARN")
    hub = aws_services(state)
    url = hub.external_url("kinesis")
    if url:
        _put_external(url, arn, account, data, partition_key)
        return
    with hub.embedded("kinesis").locked() as backends:
        try:
            backend = backends[arn.account][arn.region]
        except KeyError:
            raise LookupError(f"no Kinesis stream {stream_arn} (unknown region)") from None
        stream = backend.streams.get(arn.resource.split("/", 1)[1])
        if stream is None or stream.arn != stream_arn:
            raise LookupError(f"no Kinesis stream {stream_arn}")
        # The stream's own put: moto's backend method also files CloudWatch metrics, which
        # would grow without bound under a stream processor's steady output.
        stream.put_record(partition_key, None, base64.b64encode(data).decode("ascii"))


def _put_external(url: str, arn: arns.Arn, account: str, data: bytes, partition_key: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = external.client("kinesis", url, arn.region, arn.account or account)
    try:
        client.put_record(StreamARN=str(arn), Data=data, PartitionKey=partition_key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise LookupError(f"no Kinesis stream {arn} at {url}") from None
        raise PutRecordError(f"the Kinesis at {url} refused the record for {arn}: {exc}") from exc
    except BotoCoreError as exc:
        raise PutRecordError(f"the Kinesis at {url} could not be reached: {exc}") from exc
