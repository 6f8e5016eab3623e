"""ARNs of Rekognition's resources, and reading any ARN back into its parts.

Formats are the service model's patterns (botocore rekognition 2016-06-27: ProjectArn,
ProjectVersionArn, DatasetArn, StreamProcessorArn) and AWS's documented outputs, e.g.
`arn:aws:rekognition:us-east-1:111122223333:collection/my-collection`. Project, version and
dataset ARNs end in the creation time in milliseconds since the epoch, as AWS's do.
"""

from __future__ import annotations

from dataclasses import dataclass


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _rekognition(region: str, account: str, resource: str) -> str:
    return f"arn:{partition(region)}:rekognition:{region}:{account}:{resource}"


def collection(region: str, account: str, collection_id: str) -> str:
    return _rekognition(region, account, f"collection/{collection_id}")


def project(region: str, account: str, name: str, created_ms: int) -> str:
    return _rekognition(region, account, f"project/{name}/{created_ms}")


def project_version(
    region: str, account: str, project_name: str, version_name: str, created_ms: int
) -> str:
    return _rekognition(
        region, account, f"project/{project_name}/version/{version_name}/{created_ms}"
    )


def dataset(region: str, account: str, project_name: str, kind: str, created_ms: int) -> str:
    """`kind` is "train" or "test" (DatasetType in lower case, as the pattern has it)."""
    kind = kind.lower()
    if kind not in ("train", "test"):
        raise ValueError(f"a dataset is train or test, not {kind!r}")
    return _rekognition(region, account, f"project/{project_name}/dataset/{kind}/{created_ms}")


def stream_processor(region: str, account: str, name: str) -> str:
    return _rekognition(region, account, f"streamprocessor/{name}")


def sns_topic(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:sns:{region}:{account}:{name}"


def sqs_queue(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:sqs:{region}:{account}:{name}"


def kinesis_stream(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:kinesis:{region}:{account}:stream/{name}"


def iam_role(account: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str  # everything after the account: "collection/x", "stream/s", "topic-name"

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse(text: str) -> Arn:
    """The parts of `arn:partition:service:region:account:resource` (ValueError if not one)."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise ValueError(f"{text!r} is not an ARN (arn:partition:service:region:account:resource)")
    return Arn(*parts[1:])
