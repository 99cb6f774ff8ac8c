"""Access outside the baseline that Guard keeps: entries a baseline does not name, left in place because
its `prune` is off (or a keep rule matches them). Pure.

Guard does not change them, but nobody should be surprised by them: the plan, the break-glass drift and
cluster list, and the notes show them, cluster admins first (cluster admin as `core.safety` defines it).
Node entries are left out: EKS makes them for node groups and Fargate profiles, and they are never kept
"by surprise".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import safety
from .model import NODE_ENTRY_TYPES, Action, Baseline, DeleteEntry, LiveState
from .policies import policy_name

KEPT_PRUNE_OFF = "not in the baseline; kept: prune is off"
KEPT_BY_RULE = "not in the baseline; kept: a keep rule matches it"


@dataclass(frozen=True)
class UnmanagedEntry:
    principal_arn: str
    entry_type: str
    admin: bool  # cluster admin, per core.safety
    policies: tuple[str, ...]  # "AmazonEKSViewPolicy (cluster)", one per association
    kept: str  # why it stays: KEPT_PRUNE_OFF or KEPT_BY_RULE

    def line(self) -> str:
        what = "cluster admin" if self.admin else (", ".join(self.policies) or "no access policy")
        return f"{self.principal_arn} ({what}): {self.kept}"

    def to_json(self) -> dict[str, Any]:
        return {
            "principalArn": self.principal_arn,
            "type": self.entry_type,
            "clusterAdmin": self.admin,
            "policies": list(self.policies),
            "kept": self.kept,
        }


def unmanaged(desired: Baseline, live: LiveState) -> tuple[UnmanagedEntry, ...]:
    """The entries of `live` outside `desired` that Guard keeps, cluster admins first, then by ARN."""
    named = {s.principal_arn for s in desired.entries} | set(desired.granted)
    named |= {e.principal_arn for e in desired.ending}
    found = []
    for arn, entry in live.entries.items():
        if arn in named or entry.type in NODE_ENTRY_TYPES:
            continue
        if not desired.settings.prune:
            kept = KEPT_PRUNE_OFF
        elif desired.settings.keeps(arn, entry.type):
            kept = KEPT_BY_RULE
        else:
            continue  # pruned: the plan deletes it
        policies = tuple(
            f"{policy_name(p.policy_arn)} ({'cluster' if p.scope.type == 'cluster' else 'namespaces'})"
            for p in entry.policies
        )
        found.append(UnmanagedEntry(arn, entry.type, safety.grants_admin(entry.policies), policies, kept))
    return tuple(sorted(found, key=lambda u: (not u.admin, u.principal_arn)))


def admins_outside(
    unmanaged_entries: Iterable[UnmanagedEntry], actions: Iterable[Action], live: LiveState
) -> list[str]:
    """The cluster admins outside the baseline a run saw, kept (prune off) or deleted (prune on), sorted."""
    kept = {u.principal_arn for u in unmanaged_entries if u.admin}
    pruned = {
        a.principal_arn
        for a in actions
        if isinstance(a, DeleteEntry)
        and a.reason == "not-in-baseline"
        and (entry := live.entries.get(a.principal_arn)) is not None
        and safety.grants_admin(entry.policies)
    }
    return sorted(kept | pruned)
