"""A pure model of what EKS does with each plan action, for the planner's property tests.

It enforces the EKS rules a wrong plan would trip over (entry calls in CONFIG_MAP, mode moves that skip or
go back, creating an entry that exists, STANDARD-only calls on node entries, creating for a principal IAM
does not know), so "the plan applies cleanly" is part of what the properties check.
"""

from __future__ import annotations

from dataclasses import replace

from access_guard.core.model import (
    MODE_ORDER,
    STANDARD,
    Action,
    AssociatePolicy,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    LiveEntry,
    LiveState,
    PolicyAssociation,
    UpdateEntry,
    UpgradeMode,
)
from access_guard.core.principals import default_username

NODE_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "EC2_LINUX": ("system:node:{{EC2PrivateDNSName}}", ("system:nodes",)),
    "EC2_WINDOWS": ("system:node:{{EC2PrivateDNSName}}", ("eks:kube-proxy-windows", "system:nodes")),
    "EC2": ("system:node:{{EC2PrivateDNSName}}", ("system:nodes",)),
    "FARGATE_LINUX": ("system:node:{{SessionName}}", ("system:nodes",)),
    "HYBRID_LINUX": ("system:node:{{SessionName}}", ("system:nodes",)),
    "HYPERPOD_LINUX": ("system:node:{{EC2PrivateDNSName}}", ("system:nodes",)),
}


class EKSRefused(Exception):
    """The call would fail against EKS."""


def apply_to_live(live: LiveState, actions: tuple[Action, ...] | list[Action]) -> LiveState:
    mode = live.authentication_mode
    entries = dict(live.entries)
    for action in actions:
        if isinstance(action, UpgradeMode):
            if live.update_in_progress:
                raise EKSRefused("ResourceInUse: an update is in progress")
            if action.current != mode or MODE_ORDER.index(action.target) != MODE_ORDER.index(mode) + 1:
                raise EKSRefused(f"Unsupported authentication mode update from {mode} to {action.target}")
            mode = action.target
            continue
        if mode == "CONFIG_MAP":
            raise EKSRefused(f"{type(action).__name__} in CONFIG_MAP mode")
        if isinstance(action, CreateEntry):
            spec = action.spec
            if spec.principal_arn in entries:
                raise EKSRefused(f"ResourceInUse: {spec.principal_arn}")
            if spec.principal_arn in live.missing_principals:
                raise EKSRefused(f"invalid principal: {spec.principal_arn}")
            if spec.type == STANDARD:
                username = spec.username or default_username(spec.principal_arn)
                groups = tuple(sorted(set(spec.kubernetes_groups)))
            else:
                username, groups = NODE_DEFAULTS[spec.type]
            entries[spec.principal_arn] = LiveEntry(
                spec.principal_arn, spec.type, username, groups, (), principal_status="ok"
            )
        elif isinstance(action, UpdateEntry):
            entry = _standard(entries, action.principal_arn)
            entries[action.principal_arn] = replace(
                entry, username=action.username, kubernetes_groups=tuple(action.kubernetes_groups)
            )
        elif isinstance(action, AssociatePolicy):
            entry = _standard(entries, action.principal_arn)
            kept = tuple(p for p in entry.policies if p.policy_arn != action.association.policy_arn)
            new = PolicyAssociation(action.association.policy_arn, action.association.scope)
            entries[action.principal_arn] = replace(entry, policies=(*kept, new))
        elif isinstance(action, DisassociatePolicy):
            entry = _standard(entries, action.principal_arn)
            if all(p.policy_arn != action.policy_arn for p in entry.policies):
                raise EKSRefused(f"ResourceNotFound: {action.policy_arn} on {action.principal_arn}")
            entries[action.principal_arn] = replace(
                entry, policies=tuple(p for p in entry.policies if p.policy_arn != action.policy_arn)
            )
        elif isinstance(action, DeleteEntry):
            if action.principal_arn not in entries:
                raise EKSRefused(f"ResourceNotFound: {action.principal_arn}")
            del entries[action.principal_arn]
        else:  # pragma: no cover - a new action type the simulator does not know
            raise AssertionError(f"unknown action {action!r}")
    return replace(live, authentication_mode=mode, entries=entries)


def _standard(entries: dict[str, LiveEntry], arn: str) -> LiveEntry:
    entry = entries.get(arn)
    if entry is None:
        raise EKSRefused(f"ResourceNotFound: {arn}")
    if entry.type != STANDARD:
        raise EKSRefused(
            f'This operation can only be performed on Access Entries with a type of "STANDARD": {arn}'
        )
    return entry
