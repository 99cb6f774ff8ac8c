"""Temporary access (break-glass grants) and the desired state they make with the baseline. Pure.

A grant gives one principal one access policy, at one scope, until a time. The desired state of a cluster is
its baseline plus its active grants, merged so that a grant only ever adds: a policy the baseline gives is
widened if the grant's scope is wider, never narrowed; a principal the baseline does not name gets an entry.
So remediation never removes a live grant, and no grant removes or narrows a path the baseline owns.

When grants end (their time is up, or they are revoked early), what they added goes, and only that: the
entry Guard created for them is deleted once no grant on that principal is active any more; a policy they
associated is disassociated once no active grant gives it, unless the baseline gives it or it was there
before the first grant. Overlapping grants on one principal end only when the last one ends.

Admins that exist only because of a grant never count as the baseline admins the safety rules need to see
working before an admin path may be removed (`Baseline.granted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from .model import STANDARD, AccessScope, Baseline, EndingGrant, EntrySpec, LiveEntry, PolicyAssociation
from .safety import grants_admin

GrantState = Literal["active", "ending", "revoked"]


@dataclass(frozen=True)
class Grant:
    grant_id: str
    cluster: str
    region: str
    principal_arn: str
    policy_arn: str
    scope: AccessScope
    reason: str
    requested_by: str  # the caller, as API Gateway named it (a session ARN for a role)
    created_at: datetime
    ends_at: datetime
    # Set when Guard made the principal's entry for this grant (it had none): the entry goes when grants end.
    created_entry: bool = False
    # The policy was already on the entry before this grant (from outside the baseline): it stays at the end.
    policy_was_there: bool = False
    ended_early_at: datetime | None = None  # revoked before its time (DELETE), by `ended_early_by`
    ended_early_by: str | None = None
    revoked_at: datetime | None = None  # when its access was seen gone: the grant is over
    revocation_error: str | None = None  # the last revocation attempt's failure (retried; alarmed)
    # Why the grant could not be given (set with ended_early_at: what it wrote is taken back at once).
    failure: str | None = None

    def state(self, now: datetime) -> GrantState:
        if self.revoked_at is not None:
            return "revoked"
        if self.ended_early_at is not None or now >= self.ends_at:
            return "ending"
        return "active"

    @property
    def association(self) -> PolicyAssociation:
        return PolicyAssociation(self.policy_arn, self.scope.normal())


def entry_facts(
    others: Iterable[Grant], principal_arn: str, policy_arn: str, live: LiveEntry | None
) -> tuple[bool, bool]:
    """(created_entry, policy_was_there) for a new grant, from the principal's live entry read before it.

    What another unrevoked grant of the principal gave is not "there before": a new grant inherits its
    facts, so access that only grants made goes when the last of them ends, whichever ends last.
    """
    mine = [g for g in others if g.principal_arn == principal_arn and g.revoked_at is None]
    created_entry = any(g.created_entry for g in mine) if mine else live is None
    same_policy = [g for g in mine if g.policy_arn == policy_arn]
    if same_policy:
        policy_was_there = any(g.policy_was_there for g in same_policy)
    else:
        policy_was_there = live is not None and any(p.policy_arn == policy_arn for p in live.policies)
    return created_entry, policy_was_there


@dataclass(frozen=True)
class Desired:
    """What one cluster should be: the baseline with the grants merged in."""

    baseline: Baseline
    active: tuple[Grant, ...] = field(default=())
    ending: tuple[Grant, ...] = field(default=())


def widest(a: AccessScope, b: AccessScope) -> AccessScope:
    """The scope that covers both: the cluster, or the union of the namespaces."""
    if a.type == "cluster" or b.type == "cluster":
        return AccessScope()
    return AccessScope.of("namespace", (*a.namespaces, *b.namespaces))


def desired_state(baseline: Baseline, grants: Iterable[Grant], now: datetime) -> Desired:
    """The baseline plus the active grants of its cluster; grants whose access must go as `ending`."""
    mine = [g for g in grants if (g.cluster, g.region) == (baseline.cluster, baseline.region)]
    active = tuple(g for g in mine if g.state(now) == "active")
    ending = tuple(g for g in mine if g.state(now) == "ending")
    if not active and not ending:
        return Desired(baseline)
    specs = {s.principal_arn: s for s in baseline.entries}
    granted: set[str] = set(baseline.granted)
    for grant in active:
        spec = specs.get(grant.principal_arn)
        if spec is None:
            spec = EntrySpec(grant.principal_arn)
            granted.add(grant.principal_arn)
        elif spec.type != STANDARD:
            continue  # a node entry takes no policy: the API refuses such grants; nothing to merge
        policies = {p.policy_arn: p.scope.normal() for p in spec.policies}
        have = policies.get(grant.policy_arn)
        scope = grant.scope.normal() if have is None else widest(have, grant.scope.normal())
        if have is None or scope != have:
            if grants_admin((PolicyAssociation(grant.policy_arn, scope),)):
                granted.add(grant.principal_arn)  # its cluster admin comes from the grant only
            policies[grant.policy_arn] = scope
        specs[grant.principal_arn] = replace(
            spec, policies=tuple(sorted(PolicyAssociation(arn, s) for arn, s in policies.items()))
        )
    endings = _endings(baseline, active, ending)
    entries = tuple(specs[s.principal_arn] for s in baseline.entries) + tuple(
        specs[arn] for arn in sorted(specs) if arn not in {s.principal_arn for s in baseline.entries}
    )
    merged = replace(baseline, entries=entries, granted=frozenset(granted), ending=endings)
    return Desired(merged, active, ending)


def _endings(
    baseline: Baseline, active: tuple[Grant, ...], ending: tuple[Grant, ...]
) -> tuple[EndingGrant, ...]:
    named = {s.principal_arn: s for s in baseline.entries}
    still = {(g.principal_arn, g.policy_arn) for g in active}
    principals_still = {g.principal_arn for g in active}
    out: dict[tuple[str, str], EndingGrant] = {}
    for grant in ending:
        arn = grant.principal_arn
        spec = named.get(arn)
        delete_entry = spec is None and arn not in principals_still and _made_entry(arn, ending)
        keep_policy = (
            (arn, grant.policy_arn) in still
            or (spec is not None and any(p.policy_arn == grant.policy_arn for p in spec.policies))
            or any(
                g.policy_was_there
                for g in ending
                if (g.principal_arn, g.policy_arn) == (arn, grant.policy_arn)
            )
        )
        if delete_entry or not keep_policy:
            out[(arn, grant.policy_arn)] = EndingGrant(arn, grant.policy_arn, delete_entry=delete_entry)
    return tuple(out[k] for k in sorted(out))


def _made_entry(arn: str, grants: tuple[Grant, ...]) -> bool:
    return any(g.created_entry for g in grants if g.principal_arn == arn)
