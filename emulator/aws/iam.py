"""IAM: moto's, embedded on the port (the role a video job's NotificationChannel names).

AWS managed policies (e.g. service-role/AmazonRekognitionServiceRole) are loaded, so the AWS
examples that attach one work. Kept across restarts: roles (name, path, id, trust policy,
description, maximum session duration, permissions boundary, tags, inline policies, attached
managed policies) and customer managed policies (every version, the default one, tags).
Not kept: users, groups, access keys, instance profiles, OIDC/SAML providers and account
settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rekognition_emulator.emulator.aws.embedded import ServiceSpec, groups, restore_each


def _backends() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends


def prepare() -> None:
    """Load AWS managed policies into every account's IAM (about 0.2 s and 14 MB per account,
    on its first request to any embedded service)."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True


def _when(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else None


def _date(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def snapshot() -> list[dict[str, Any]]:
    from moto.iam.models import AWSManagedPolicy

    out = []
    for account, partition, backend in groups(_backends()):
        policies = [
            {
                "name": p.name,
                "path": p.path,
                "id": p.id,
                "description": p.description,
                "tags": p.tags,
                "created": _when(p.create_date),
                "updated": _when(p.update_date),
                "default_version": p.default_version_id,
                "next_version": p.next_version_num,
                "versions": [
                    {
                        "id": v.version_id,
                        "document": v.document,
                        "default": v.is_default,
                        "created": _when(v.create_date),
                    }
                    for v in p.versions
                ],
            }
            for p in list(backend.managed_policies.values())
            if not isinstance(p, AWSManagedPolicy)
        ]
        roles = [
            {
                "name": r.name,
                "path": r.path,
                "id": r.id,
                "trust": r.assume_role_policy_document,
                "description": r.description,
                "max_session": r.max_session_duration,
                "boundary": r.permissions_boundary_arn,
                "tags": r.tags,
                "created": _when(r.create_date),
                "inline": dict(r.policies),
                "attached": list(r.managed_policies),
            }
            for r in list(backend.roles.values())
        ]
        if policies or roles:
            out.append(
                {"account": account, "partition": partition, "policies": policies, "roles": roles}
            )
    return out


def restore(groups_: list[dict[str, Any]]) -> None:
    backends = _backends()
    for group in groups_:
        backend = backends[group["account"]][group.get("partition", "aws")]
        # Policies first: roles attach them.
        restore_each("IAM", "policy", group.get("policies", []), _restore_policy, backend)
        restore_each("IAM", "role", group.get("roles", []), _restore_role, backend)


def _restore_policy(backend: Any, saved: dict[str, Any]) -> None:
    from moto.iam.models import PolicyVersion

    versions = saved["versions"]
    first = next((v for v in versions if v["default"]), versions[0])
    policy = backend.create_policy(
        description=saved.get("description") or "",
        path=saved.get("path") or "/",
        policy_document=first["document"],
        policy_name=saved["name"],
        tags=list((saved.get("tags") or {}).values()),
    )
    policy.id = saved.get("id") or policy.id
    policy.versions = [
        PolicyVersion(policy.arn, v["document"], v["default"], v["id"], _date(v.get("created")))
        for v in versions
    ]
    policy.default_version_id = saved.get("default_version") or first["id"]
    policy.next_version_num = saved.get("next_version") or len(versions) + 1
    policy.create_date = _date(saved.get("created")) or policy.create_date
    policy.update_date = _date(saved.get("updated")) or policy.update_date


def _restore_role(backend: Any, saved: dict[str, Any]) -> None:
    role = backend.create_role(
        role_name=saved["name"],
        assume_role_policy_document=saved["trust"],
        path=saved.get("path") or "/",
        permissions_boundary=saved.get("boundary"),
        description=saved.get("description") or "",
        tags=saved.get("tags") or [],
        max_session_duration=saved.get("max_session"),
    )
    # moto draws a new role id (AROA...); give back the one the client was told.
    if saved.get("id"):
        backend.roles.pop(role.id, None)
        role.id = saved["id"]
        backend.roles[role.id] = role
    role.create_date = _date(saved.get("created")) or role.create_date
    for name, document in (saved.get("inline") or {}).items():
        backend.put_role_policy(role.name, name, document)
    for policy_arn in saved.get("attached") or []:
        backend.attach_role_policy(policy_arn, role.name)


SPEC = ServiceSpec(
    name="iam",
    title="IAM",
    snapshot=snapshot,
    restore=restore,
    backends=_backends,
    prepare=prepare,
    traffic=frozenset({"SimulatePrincipalPolicy", "SimulateCustomPolicy"}),
)
