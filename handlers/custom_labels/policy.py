"""Project policies: the document checks, revision ids, and who a policy lets copy.

A project policy is an IAM resource policy that may only grant `rekognition:CopyProjectVersion`
on the project's model versions. The checks follow the Custom Labels guide: JSON, a
`Statement` (one object or a list) whose statements each have Effect, Principal, Action and
Resource; only that action; NotAction, NotResource and NotPrincipal are refused.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from typing import Any

from rekognition_emulator.emulator.server import errors

ACTION = "rekognition:CopyProjectVersion"
MAX_POLICIES = 5
REQUIRED = ("Effect", "Principal", "Action", "Resource")
FORBIDDEN = ("NotAction", "NotResource", "NotPrincipal")


def _malformed(why: str) -> errors.MalformedPolicyDocumentException:
    return errors.MalformedPolicyDocumentException(f"The policy document is malformed: {why}")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def parse(document: str) -> list[dict[str, Any]]:
    """The statements of a policy document; MalformedPolicyDocumentException says why not."""
    try:
        doc = json.loads(document)
    except ValueError as exc:
        raise _malformed(f"it is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(doc, dict):
        raise _malformed("it must be a JSON object")
    if "Statement" not in doc:
        raise _malformed("it has no Statement")
    statements = _as_list(doc["Statement"])
    if not statements:
        raise _malformed("Statement is empty")
    for n, st in enumerate(statements, 1):
        if not isinstance(st, dict):
            raise _malformed(f"statement {n} is not an object")
        for key in FORBIDDEN:
            if key in st:
                raise _malformed(f"statement {n} uses {key}, which project policies do not allow")
        for key in REQUIRED:
            if key not in st:
                raise _malformed(f"statement {n} has no {key}")
        if st["Effect"] not in ("Allow", "Deny"):
            raise _malformed(f"statement {n}: Effect must be Allow or Deny")
        for action in _as_list(st["Action"]):
            if not isinstance(action, str) or action.lower() != ACTION.lower():
                raise _malformed(
                    f"statement {n}: the only action a project policy may name is {ACTION}"
                )
        for resource in _as_list(st["Resource"]):
            if not isinstance(resource, str) or not resource:
                raise _malformed(f"statement {n}: Resource must be ARN strings")
        _principals(st["Principal"], n)
    return statements


def _principals(principal: Any, n: int) -> list[str]:
    """AWS principals as strings ("*", account ids, ARNs)."""
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict) and "AWS" in principal:
        values = _as_list(principal["AWS"])
        if all(isinstance(v, str) and v for v in values):
            return values
    raise _malformed(f'statement {n}: Principal must be "*" or {{"AWS": [...]}}')


def revision_id(name: str, document: str, sequence: int) -> str:
    """A new revision id (hex): different for every change, even to the same text."""
    return hashlib.sha256(f"{name}\n{sequence}\n{document}".encode()).hexdigest()[:32]


def _principal_matches(principal: str, account: str) -> bool:
    if principal == "*":
        return True
    if principal == account:
        return True
    # arn:aws:iam::<account>:root / :user/... / :role/...
    parts = principal.split(":")
    return len(parts) >= 5 and parts[4] == account


def allows_copy(documents: list[str], caller_account: str, version_arn: str) -> bool:
    """Whether the project's policies let `caller_account` copy `version_arn`: some
    statement allows it and none denies it (IAM's rule: an explicit deny wins)."""
    allowed = False
    for document in documents:
        for st in parse(document):
            if not any(_principal_matches(p, caller_account) for p in _principals(st["Principal"], 0)):  # fmt: skip
                continue
            if not any(fnmatch.fnmatchcase(version_arn, r) for r in _as_list(st["Resource"])):
                continue
            if st["Effect"] == "Deny":
                return False
            allowed = True
    return allowed
