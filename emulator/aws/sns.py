"""SNS: moto's, embedded on the port, or an external one (`--sns-endpoint-url`); and the
emulator's own `publish` (video and other job completion notifications).

Kept across restarts: topics (name, every attribute set through CreateTopic or
SetTopicAttributes, policy, tags) and subscriptions (topic, protocol, endpoint, attributes
such as RawMessageDelivery and FilterPolicy, and their ARNs). Not kept: messages already
published (they live in the subscribed queues, which do not keep messages either), platform
applications and endpoints, SMS settings and opted-out numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rekognition_emulator.emulator.aws import arns, external
from rekognition_emulator.emulator.aws.embedded import ServiceSpec, groups, restore_each

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

# Topic fields that are moto's bookkeeping, not attributes a user set.
_TOPIC_INTERNAL = frozenset(
    {
        "name",
        "sns_backend",
        "account_id",
        "arn",
        "subscriptions_pending",
        "subscriptions_confimed",
        "subscriptions_deleted",
        "sent_notifications",
        "_policy_json",
        "_tags",
    }
)
_PLAIN = (str, bool, int, float)


def _backends() -> Any:
    from moto.sns.models import sns_backends

    return sns_backends


def snapshot() -> list[dict[str, Any]]:
    out = []
    for account, region, backend in groups(_backends()):
        topics = [
            {
                "name": topic.name,
                "attributes": {
                    k: v
                    for k, v in vars(topic).items()
                    if k not in _TOPIC_INTERNAL and (v is None or isinstance(v, _PLAIN))
                },
                "policy": topic.policy,
                "tags": dict(topic._tags),
            }
            for topic in list(backend.topics.values())
        ]
        subscriptions = [
            {
                "arn": sub.arn,
                "topic_arn": sub.topic.arn,
                "protocol": sub.protocol,
                "endpoint": sub.endpoint,
                "confirmed": sub.confirmed,
                "attributes": {
                    k: v for k, v in sub.attributes.items() if v is None or isinstance(v, _PLAIN)
                },
            }
            for sub in list(backend.subscriptions.values())
        ]
        if topics or subscriptions:
            out.append(
                {
                    "account": account,
                    "region": region,
                    "topics": topics,
                    "subscriptions": subscriptions,
                }
            )
    return out


# Set first: FilterPolicy is checked against the scope already in place.
_SUBSCRIPTION_SETTABLE = (
    "FilterPolicyScope",
    "FilterPolicy",
    "RawMessageDelivery",
    "DeliveryPolicy",
    "RedrivePolicy",
    "SubscriptionRoleArn",
)


def restore(groups_: list[dict[str, Any]]) -> None:
    backends = _backends()
    for group in groups_:
        backend = backends[group["account"]][group["region"]]
        restore_each("SNS", "topic", group.get("topics", []), _restore_topic, backend)
        restore_each(
            "SNS",
            "subscription",
            group.get("subscriptions", []),
            _restore_subscription,
            backend,
        )


def _restore_topic(backend: Any, saved: dict[str, Any]) -> None:
    topic = backend.create_topic(saved["name"], tags=dict(saved.get("tags") or {}))
    for name, value in saved.get("attributes", {}).items():
        setattr(topic, name, value)
    topic.policy = saved["policy"]


def _restore_subscription(backend: Any, saved: dict[str, Any]) -> None:
    sub = backend.subscribe(saved["topic_arn"], saved["endpoint"], saved["protocol"])
    # moto draws a new ARN; give back the one the client was told.
    backend.subscriptions.pop(sub.arn, None)
    sub.arn = saved["arn"]
    backend.subscriptions[sub.arn] = sub
    sub.confirmed = saved.get("confirmed", sub.confirmed)
    attributes = saved.get("attributes", {})
    for name in _SUBSCRIPTION_SETTABLE:
        if attributes.get(name) not in (None, ""):
            backend.set_subscription_attributes(sub.arn, name, attributes[name])
    sub.attributes.update(attributes)
    sub.attributes["SubscriptionArn"] = sub.arn


SPEC = ServiceSpec(
    name="sns",
    title="SNS",
    snapshot=snapshot,
    restore=restore,
    backends=_backends,
    traffic=frozenset({"Publish", "PublishBatch", "CheckIfPhoneNumberIsOptedOut"}),
)


# -- the emulator's own publish ------------------------------------------------------------
class PublishError(RuntimeError):
    """The topic exists but the message was refused (a FIFO topic, a message too long ...)."""


def publish(state: AppState, account: str, region: str, topic_arn: str, message: str) -> str:
    """Publish `message` to `topic_arn`, as Rekognition does on a job's completion.

    The topic is found by its ARN (account and region in it), in the embedded SNS or the one
    `--sns-endpoint-url` names; `account` and `region` are the caller's, used to reach an
    external SNS as that account. Returns the MessageId. Raises LookupError when the topic does
    not exist, PublishError when SNS refuses the message."""
    from rekognition_emulator.emulator.aws.services import aws_services

    try:
        arn = arns.parse(topic_arn)
    except ValueError as exc:
        raise LookupError(f"no SNS topic {topic_arn!r}: {exc}") from None
    if arn.service != "sns":
        raise LookupError(f"{topic_arn} is not an SNS topic ARN")
    hub = aws_services(state)
    url = hub.external_url("sns")
    if url:
        return _publish_external(url, arn, account, message)
    from moto.sns.exceptions import SNSNotFoundError

    with hub.embedded("sns").locked() as backends:
        try:
            backend = backends[arn.account][arn.region]
        except KeyError:
            raise LookupError(f"no SNS topic {topic_arn} (unknown region {arn.region})") from None
        if topic_arn not in backend.topics:
            raise LookupError(f"no SNS topic {topic_arn}")
        try:
            return backend.publish(message, arn=topic_arn)
        except SNSNotFoundError:
            raise LookupError(f"no SNS topic {topic_arn}") from None
        except Exception as exc:
            raise PublishError(f"SNS refused the message for {topic_arn}: {exc}") from exc


def _publish_external(url: str, arn: arns.Arn, account: str, message: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    client = external.client("sns", url, arn.region, arn.account or account)
    try:
        return client.publish(TopicArn=str(arn), Message=message)["MessageId"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NotFound", "NotFoundException", "TopicNotFound"):
            raise LookupError(f"no SNS topic {arn} at {url}") from None
        raise PublishError(f"the SNS at {url} refused the message for {arn}: {exc}") from exc
    except BotoCoreError as exc:
        raise PublishError(f"the SNS at {url} could not be reached: {exc}") from exc
