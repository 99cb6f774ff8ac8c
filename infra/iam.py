"""IAM as a reviewer reads it: every statement has a Sid, names its actions one by one (no `*` in any
action) and its resources by ARN. Where a resource must contain a wildcard (an access entry's ARN ends in
a UUID EKS makes; a log group's streams are named by Lambda), the statement says why, and that reason
becomes the cdk-nag acknowledgment of exactly that wildcard on exactly that policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from .nag import acknowledge

PARTITION = (
    "aws"  # the runtime knows the aws partition only (its access policy ARNs are arn:aws:eks::aws:...)
)


@dataclass(frozen=True)
class Allow:
    """One Allow statement. `wildcard_reason` is required when a resource contains `*`."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[str]
    conditions: Mapping[str, Mapping[str, Any]] | None = None
    wildcard_reason: str | None = None

    def __post_init__(self) -> None:
        if not self.sid.isalnum():
            raise ValueError(f"a Sid is alphanumeric: {self.sid!r}")
        for action in self.actions:
            if "*" in action or ":" not in action:
                raise ValueError(f"{self.sid}: name every action in full, got {action!r}")
        if not self.resources:
            raise ValueError(f"{self.sid}: no resources")

    def statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=self.sid,
            actions=list(self.actions),
            resources=list(self.resources),
            conditions=dict(self.conditions) if self.conditions else None,
        )


@dataclass
class Permissions:
    """The statements one role gets, gathered by the stack, then written as one policy."""

    statements: list[Allow] = field(default_factory=list)

    def add(self, *statements: Allow | Iterable[Allow]) -> Permissions:
        for item in statements:
            if isinstance(item, Allow):
                self.statements.append(item)
            else:
                self.statements.extend(item)
        return self


def attach(scope: Construct, id: str, *, role: iam.IRole, permissions: Permissions) -> iam.Policy:
    """Write `permissions` as one policy on `role`, acknowledging each declared wildcard with its reason."""
    sids = [s.sid for s in permissions.statements]
    duplicates = sorted({s for s in sids if sids.count(s) > 1})
    if duplicates:
        raise ValueError(f"{scope.node.path}/{id}: statements share a Sid: {duplicates}")
    policy = iam.Policy(scope, id, roles=[role], statements=[s.statement() for s in permissions.statements])
    stack = Stack.of(scope)
    reasons: dict[str, list[str]] = {}
    for allow in permissions.statements:
        for resource in allow.resources:
            flat = flatten(stack.resolve(resource))
            if "*" not in flat:
                continue
            if not allow.wildcard_reason:
                raise ValueError(f"{allow.sid}: resource {flat} has a wildcard: say why (wildcard_reason)")
            reasons.setdefault(flat, [])
            if allow.wildcard_reason not in reasons[flat]:
                reasons[flat].append(allow.wildcard_reason)
    for flat, why in reasons.items():
        acknowledge(policy, f"IAM5[Resource::{flat}]", " ".join(why))
    return policy


def flatten(node: Any) -> str:
    """A resolved CloudFormation value as one string, the way cdk-nag names its IAM5 findings."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(flatten(item) for item in items)
    if isinstance(node, dict) and "Fn::Sub" in node:
        return flatten(node["Fn::Sub"])
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        resource, attribute = node["Fn::GetAtt"]
        return f"<{flatten(resource)}.{flatten(attribute)}>"
    if isinstance(node, dict) and "Fn::ImportValue" in node:
        return flatten(node["Fn::ImportValue"])
    if isinstance(node, dict) and "Ref" in node:
        return f"<{flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"
