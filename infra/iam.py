"""IAM as a reviewer reads it: every statement has a Sid, names its actions one by one (no `*` in any
action) and its resources by ARN. Where a resource must contain a wildcard (an access entry's ARN ends in
a UUID EKS makes; a log group's streams are named by Lambda), the statement says why, and that reason
becomes the cdk-nag acknowledgment of exactly that wildcard on exactly that policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from access_guard.core import limits
from access_guard.core.limits import LimitExceeded
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from .limits import WAY_OUT_CLUSTERS, realistic
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


def attach(
    scope: Construct, id: str, *, role: iam.IRole, permissions: Permissions
) -> list[iam.Policy | iam.ManagedPolicy]:
    """Write `permissions` on `role`, acknowledging each declared wildcard with its reason.

    As one inline policy while they fit IAM's 10,240 characters a role (every small deployment); beyond,
    the statements go on, in order, into customer managed policies of at most 6,144 characters each, a
    statement whose resource list does not fit split over several (its Sid numbered). Sizes are measured
    with CloudFormation's values at their realistic lengths (infra.limits); more managed policies than a
    role may have refuses the synth with the way out.
    """
    sids = [s.sid for s in permissions.statements]
    duplicates = sorted({s for s in sids if sids.count(s) > 1})
    if duplicates:
        raise ValueError(f"{scope.node.path}/{id}: statements share a Sid: {duplicates}")
    stack = Stack.of(scope)
    documents = pack(stack, permissions.statements, what=f"{scope.node.path} role")
    made: list[iam.Policy | iam.ManagedPolicy] = []
    for index, parts in enumerate(documents):
        statements = [allow.statement() for allow in parts]
        if index == 0:
            policy: iam.Policy | iam.ManagedPolicy = iam.Policy(
                scope, id, roles=[role], statements=statements
            )
        else:
            policy = iam.ManagedPolicy(
                scope,
                f"{id}{index + 1}",
                roles=[role],
                statements=statements,
                description=f"EKS Access Guard: {scope.node.id}'s permissions, part {index + 1} "
                "(the role's inline policy is full; IAM limits in access_guard.core.limits)",
            )
        _acknowledge_wildcards(stack, policy, parts)
        made.append(policy)
    return made


def _acknowledge_wildcards(stack: Stack, policy: Construct, statements: Sequence[Allow]) -> None:
    reasons: dict[str, list[str]] = {}
    for allow in statements:
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


_DOCUMENT = {"Version": "2012-10-17", "Statement": []}


def _rendered(stack: Stack, allow: Allow, resources: Sequence[Any]) -> dict[str, Any]:
    """The statement as IAM will store it, with CloudFormation's values at realistic lengths."""
    statement: dict[str, Any] = {
        "Sid": allow.sid + "Part00",  # room for a part number
        "Effect": "Allow",
        "Action": list(allow.actions) if len(allow.actions) > 1 else allow.actions[0],
        "Resource": list(resources) if len(resources) > 1 else resources[0],
    }
    if allow.conditions:
        statement["Condition"] = allow.conditions
    return realistic(stack.resolve(statement))


def pack(stack: Stack, statements: Sequence[Allow], *, what: str) -> list[list[Allow]]:
    """The statements laid out over documents: the first inline (10,240), the rest managed (6,144 each)."""
    overhead = limits.iam_policy_size(_DOCUMENT)
    documents: list[list[Allow]] = [[]]
    room = [limits.IAM_ROLE_INLINE_POLICIES.value - overhead]
    for allow in statements:
        remaining, part = list(allow.resources), 1
        while remaining:

            def size(count: int, remaining: list[Any] = remaining, allow: Allow = allow) -> int:
                return limits.iam_policy_size(_rendered(stack, allow, remaining[:count])) + 1  # its comma

            low, high = 0, len(remaining)  # the most resources that fit the current document
            while low < high:
                middle = (low + high + 1) // 2
                if size(middle) <= room[-1]:
                    low = middle
                else:
                    high = middle - 1
            if low == 0:
                if not documents[-1]:
                    raise LimitExceeded(
                        limits.IAM_MANAGED_POLICY,
                        what=f"{what}: statement {allow.sid}",
                        measured=size(1),
                        way_out="shorten the names it holds",
                    )
                documents.append([])
                room.append(limits.IAM_MANAGED_POLICY.value - overhead)
                continue
            sid = allow.sid if part == 1 else f"{allow.sid}Part{part}"
            documents[-1].append(replace(allow, sid=sid, resources=tuple(remaining[:low])))
            room[-1] -= size(low)
            remaining, part = remaining[low:], part + 1
    managed = len(documents) - 1
    if managed > limits.IAM_MANAGED_POLICIES_PER_ROLE.value:
        raise LimitExceeded(
            limits.IAM_MANAGED_POLICIES_PER_ROLE,
            what=f"{what}: its permissions beyond the inline policy",
            measured=managed,
            way_out=WAY_OUT_CLUSTERS,
        )
    return documents


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
