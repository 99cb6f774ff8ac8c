"""Temporary access (break-glass grants): their states, and the desired state they make with the baseline.
Pure.

A grant gives one principal one access policy, at one scope, until a time. Its life is a state machine, kept
in the grants table with a conditional write for every transition (`adapters.grants_table`):

    requested -> active -> ending -> ended        (its time is up; its access is gone)
        |          |          |----> revoked      (ended early; its access is gone)
        |          |          '----> failed       (it could not be given; what it wrote is gone)
        '-> pending (waits for a mode update) -> active

`requested` is a grant whose run is giving it right now, under the cluster's lock; any other run that finds a
`requested` grant holds the lock itself, so that run died: the grant is taken back (`failed`). `pending` waits
for an authentication-mode update to land; the run that sees its access live makes it `active`. A grant past
its end (or ended early) is `ending` whatever its stored state says, until its access is seen gone.

A grant only adds. The desired state of a cluster is its baseline plus its holding grants (pending, active,
and the one being given): a policy the baseline gives is widened if the grant's scope is wider, never
narrowed; a principal the baseline does not name gets an entry that only adds (`EntrySpec.only_adds`): its
username, groups and other policies are left as they are. What a grant added is recorded with it (the entry,
if it made it; the association, if it made it; the scope the association had, if it widened it), and when
grants end exactly that goes: the entry Guard created for them once no grant on that principal holds any
more; an association they made once no holding grant gives it, unless the baseline gives it; a widened scope
back to what it was. Overlapping grants on one principal end only when the last one ends.

Admins that exist only because of a grant never count as the baseline admins the safety rules need to see
working before an admin path may be removed (`Baseline.granted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from .model import (
    STANDARD,
    AccessScope,
    Action,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    EndingGrant,
    EntrySpec,
    LiveEntry,
    LiveState,
    PolicyAssociation,
    UpgradeMode,
)
from .safety import grants_admin

GrantStatus = Literal["requested", "pending", "active", "ending", "ended", "revoked", "failed"]
GRANT_STATUSES: tuple[GrantStatus, ...] = (
    "requested",
    "pending",
    "active",
    "ending",
    "ended",
    "revoked",
    "failed",
)
CLOSED: tuple[GrantStatus, ...] = ("ended", "revoked", "failed")  # terminal: the grant's access is gone
HOLDING: tuple[GrantStatus, ...] = ("pending", "active")  # its access is given (or about to be)


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
    status: GrantStatus = "requested"
    version: int = 0  # the number of transitions so far: every write is conditional on it
    # Set when Guard made the principal's entry for this grant (it had none): the entry goes when grants end.
    created_entry: bool = False
    # The policy was already on the entry at this scope or wider (from outside the baseline): the grant added
    # nothing for it, and it stays at the end.
    policy_was_there: bool = False
    # The policy's scope on the entry before the first grant that touched it (None: it was not there): the
    # association goes back to it at the end.
    scope_before: AccessScope | None = None
    activated_at: datetime | None = None  # when its access was seen live
    pending_reason: str | None = None  # why it is not active yet (a mode update running)
    ended_early_at: datetime | None = None  # revoked before its time (DELETE), by `ended_early_by`
    ended_early_by: str | None = None
    revoked_at: datetime | None = None  # when its access was seen gone: the grant is over (closed)
    revocation_error: str | None = None  # the last revocation attempt's failure (retried; alarmed)
    # Why the grant could not be given (set with ended_early_at: what it wrote is taken back at once).
    failure: str | None = None

    def state(self, now: datetime) -> GrantStatus:
        """The stored status, except that a grant past its end or ended early is `ending` until closed."""
        if self.status in CLOSED:
            return self.status
        if self.status == "ending" or self.ended_early_at is not None or now >= self.ends_at:
            return "ending"
        return self.status

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    def closing_status(self) -> GrantStatus:
        """The terminal status this grant reaches once its access is gone."""
        if self.failure is not None:
            return "failed"
        return "revoked" if self.ended_early_at is not None else "ended"

    @property
    def association(self) -> PolicyAssociation:
        return PolicyAssociation(self.policy_arn, self.scope.normal())


@dataclass(frozen=True)
class EntryFacts:
    """What the principal's entry held before a grant, so that its end takes back exactly what it added."""

    created_entry: bool
    policy_was_there: bool
    scope_before: AccessScope | None


def entry_facts(
    others: Iterable[Grant], principal_arn: str, policy_arn: str, scope: AccessScope, live: LiveEntry | None
) -> EntryFacts:
    """The facts of a new grant, from the principal's live entry read (under the lock) before it.

    What another unclosed grant of the principal gave is not "there before": a new grant inherits its facts,
    so access that only grants made goes when the last of them ends, whichever ends last.
    """
    mine = [g for g in others if g.principal_arn == principal_arn and not g.closed]
    created_entry = any(g.created_entry for g in mine) if mine else live is None
    same_policy = [g for g in mine if g.policy_arn == policy_arn]
    if same_policy:
        first = min(same_policy, key=lambda g: g.created_at)
        return EntryFacts(created_entry, first.policy_was_there, first.scope_before)
    before = (
        None if live is None else next((p.scope for p in live.policies if p.policy_arn == policy_arn), None)
    )
    if before is None:
        return EntryFacts(created_entry, False, None)
    return EntryFacts(created_entry, before.covers(scope), before.normal())


def widest(a: AccessScope, b: AccessScope) -> AccessScope:
    """The scope that covers both: the cluster, or the union of the namespaces."""
    return a.union(b)


@dataclass(frozen=True)
class Desired:
    """What one cluster should be: the baseline with the grants merged in."""

    baseline: Baseline
    holding: tuple[Grant, ...] = field(default=())  # pending, active, and the one being given
    ending: tuple[Grant, ...] = field(default=())  # their access goes now
    source: Baseline | None = None  # the stored baseline, before the grants (None: the same as `baseline`)

    @property
    def owned(self) -> Baseline:
        """What the baseline itself asks for, without the grants."""
        return self.source or self.baseline

    @property
    def active(self) -> tuple[Grant, ...]:
        return self.holding

    @property
    def grants(self) -> tuple[Grant, ...]:
        return self.holding + self.ending


def split(
    grants: Iterable[Grant], now: datetime, giving: str | None = None
) -> tuple[list[Grant], list[Grant]]:
    """(holding, ending): a `requested` grant other than the one being given belongs to a run that died, and
    is taken back."""
    holding: list[Grant] = []
    ending: list[Grant] = []
    for grant in grants:
        state = grant.state(now)
        if state in HOLDING or (state == "requested" and grant.grant_id == giving):
            holding.append(grant)
        elif state == "ending" or state == "requested":
            ending.append(grant)
    return holding, ending


def desired_state(
    baseline: Baseline, grants: Iterable[Grant], now: datetime, *, giving: str | None = None
) -> Desired:
    """The baseline plus the holding grants of its cluster; grants whose access must go as `ending`."""
    mine = [
        g for g in grants if (g.cluster, g.region) == (baseline.cluster, baseline.region) and not g.closed
    ]
    holding, ending = split(mine, now, giving)
    if not holding and not ending:
        return Desired(baseline, source=baseline)
    specs = {s.principal_arn: s for s in baseline.entries}
    owned = set(specs)
    granted: set[str] = set(baseline.granted)
    for grant in holding:
        spec = specs.get(grant.principal_arn)
        if spec is None:
            spec = EntrySpec(grant.principal_arn, only_adds=True)
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
    mode = baseline.authentication_mode
    if holding and mode in (None, "CONFIG_MAP"):
        mode = "API_AND_CONFIG_MAP"  # access entries need it: a grant never answers "given" without access
    entries = tuple(specs[s.principal_arn] for s in baseline.entries) + tuple(
        specs[arn] for arn in sorted(specs) if arn not in owned
    )
    merged = replace(
        baseline,
        authentication_mode=mode,
        entries=entries,
        granted=frozenset(granted),
        ending=_endings(baseline, tuple(holding), tuple(ending)),
    )
    return Desired(merged, tuple(holding), tuple(ending), source=baseline)


def _endings(
    baseline: Baseline, holding: tuple[Grant, ...], ending: tuple[Grant, ...]
) -> tuple[EndingGrant, ...]:
    """For each (principal, policy) an ending grant touched: what the association must go back to.

    It goes back to the union of what still gives it (holding grants, the baseline) and what it was before
    the first grant; with nothing left, it goes (and the entry with it, when grants made the entry and no
    grant holds on the principal any more)."""
    named = {s.principal_arn: s for s in baseline.entries}
    principals_still = {g.principal_arn for g in holding}
    out: dict[tuple[str, str], EndingGrant] = {}
    for arn, policy in sorted({(g.principal_arn, g.policy_arn) for g in ending}):
        pair = [g for g in ending if (g.principal_arn, g.policy_arn) == (arn, policy)]
        spec = named.get(arn)
        if (
            spec is None
            and arn not in principals_still
            and any(g.created_entry for g in ending if g.principal_arn == arn)
        ):
            out[(arn, policy)] = EndingGrant(arn, policy, delete_entry=True)
            continue
        keep: list[AccessScope] = [
            g.scope.normal() for g in holding if (g.principal_arn, g.policy_arn) == (arn, policy)
        ]
        if spec is not None:
            keep += [p.scope.normal() for p in spec.policies if p.policy_arn == policy]
        else:  # the baseline owns a named principal's entry: what was there before is its spec
            keep += [g.scope_before for g in pair if g.scope_before is not None]
        target: AccessScope | None = None
        for scope in keep:
            target = scope if target is None else target.union(scope)
        if target is not None and all(target.covers(g.scope) for g in pair):
            continue  # what the grants gave is still given (or was there before): nothing of theirs to take
        out[(arn, policy)] = EndingGrant(arn, policy, restore_scope=target.normal() if target else None)
    return tuple(out[k] for k in sorted(out))


# --- judging a grant against the live state (what the run verifies before it says "given" or "gone") -------


def holds(grant: Grant, live: LiveState) -> bool:
    """The grant's access is live: the entry exists and has the policy at the grant's scope or wider."""
    entry = live.entries.get(grant.principal_arn)
    if entry is None or entry.type != STANDARD or entry.principal_status in ("missing", "recreated"):
        return False
    return any(p.policy_arn == grant.policy_arn and p.scope.covers(grant.scope) for p in entry.policies)


def taken_back(grant: Grant, desired: Baseline, live: LiveState) -> bool:
    """What the ending grant added is gone (or was not the grant's to take: another grant or the baseline
    still gives it)."""
    end = next(
        (
            e
            for e in desired.ending
            if (e.principal_arn, e.policy_arn) == (grant.principal_arn, grant.policy_arn)
        ),
        None,
    )
    if end is None:
        return True
    entry = live.entries.get(grant.principal_arn)
    if entry is None:
        return True
    if end.delete_entry:
        return False
    have = next((p.scope.normal() for p in entry.policies if p.policy_arn == grant.policy_arn), None)
    if end.restore_scope is None:
        return have is None
    return have is not None and end.restore_scope.covers(have)


def grant_work(desired: Desired, actions: Iterable[Action]) -> list[Action]:
    """Of a plan's actions, those that give holding grants or take back ending ones: what a run on a
    detect-only cluster still does (the guard takes back what it gave, and gives what people asked for)."""
    giving = {g.principal_arn for g in desired.holding}
    policies = {(g.principal_arn, g.policy_arn) for g in desired.holding}
    ending = {(e.principal_arn, e.policy_arn) for e in desired.baseline.ending}
    out: list[Action] = []
    for action in actions:
        if isinstance(action, UpgradeMode):
            keep = action.target == "API_AND_CONFIG_MAP" and bool(giving)
        elif isinstance(action, CreateEntry):
            keep = action.spec.principal_arn in giving
        elif isinstance(action, AssociatePolicy):
            pair = (action.principal_arn, action.association.policy_arn)
            keep = pair in policies or pair in ending
        elif isinstance(action, DisassociatePolicy):
            keep = (action.principal_arn, action.policy_arn) in ending
        elif isinstance(action, DeleteEntry):
            keep = action.reason == "grant-ended"
        else:
            keep = False
        if keep:
            out.append(action)
    return out
