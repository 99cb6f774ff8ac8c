"""The planner: what it takes to bring a live cluster to its baseline, as a pure function.

`plan(baseline, live)` reads nothing and writes nothing; the reconciler applies the actions in the order
given: mode upgrades, deletions that make room for a recreate, creates, updates, associations,
disassociations, and deletions of entries not in the baseline last of all.

Safety rules (held-back actions are listed in `Plan.refusals`):
- prune only when the baseline asks for it and has at least one entry;
- at most `max_deletions` not-in-baseline deletions per run, all or none;
- never delete an entry that grants cluster admin unless an admin path survives the plan: one the baseline
  asks for that exists or can be created, or (if the baseline asks for none) one left in place;
- the authentication mode only moves forward, one step per action.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import (
    MODE_ORDER,
    STANDARD,
    Action,
    AssociatePolicy,
    AuthenticationMode,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    EntrySpec,
    LiveEntry,
    LiveState,
    Plan,
    PolicyAssociation,
    UpdateEntry,
    UpgradeMode,
)
from .policies import policy_name
from .principals import default_username

ADMIN_POLICY_NAME = "AmazonEKSClusterAdminPolicy"
_DEAD = ("missing", "recreated")


def grants_admin(policies: Iterable[PolicyAssociation]) -> bool:
    """AmazonEKSClusterAdminPolicy at cluster scope (any partition)."""
    return any(policy_name(p.policy_arn) == ADMIN_POLICY_NAME and p.scope.type == "cluster" for p in policies)


def _mode_steps(current: AuthenticationMode, target: AuthenticationMode) -> list[UpgradeMode]:
    at, want = MODE_ORDER.index(current), MODE_ORDER.index(target)
    return [UpgradeMode(MODE_ORDER[i], MODE_ORDER[i + 1]) for i in range(at, want)]


def _principal_gone(arn: str, live: LiveState, entry: LiveEntry | None) -> bool:
    return arn in live.missing_principals or (entry is not None and entry.principal_status == "missing")


def plan(baseline: Baseline, live: LiveState) -> Plan:
    """The actions, in apply order, that bring `live` to `baseline`; deterministic, no I/O."""
    warnings: list[str] = []
    refusals: list[str] = []
    upgrades: list[Action] = []

    # 1. Authentication mode: forward only, one step per action.
    mode_after = live.authentication_mode
    target = baseline.authentication_mode
    if target is not None and MODE_ORDER.index(target) > MODE_ORDER.index(live.authentication_mode):
        if live.update_in_progress:
            warnings.append(
                f"an authentication mode update is in progress: the move from {live.authentication_mode} "
                f"to {target} waits for the next run"
            )
        else:
            upgrades.extend(_mode_steps(live.authentication_mode, target))
            mode_after = target

    if mode_after == "CONFIG_MAP":
        # No access-entry call works in CONFIG_MAP (and there are no entries to look at).
        if baseline.entries:
            warnings.append(
                "the cluster stays in CONFIG_MAP mode, where access entries cannot exist: "
                f"{_entries(len(baseline.entries))} of the baseline not applied"
            )
        return Plan(baseline.cluster, baseline.region, tuple(upgrades), tuple(warnings), tuple(refusals))

    recreate_deletes: list[Action] = []
    creates: list[Action] = []
    updates: list[Action] = []
    associates: list[Action] = []
    disassociates: list[Action] = []

    wanted: dict[str, EntrySpec] = {}
    for spec in baseline.entries:
        wanted.setdefault(spec.principal_arn, spec)

    # Baseline admins that will hold after this plan: existing with a live principal, or creatable.
    viable_admin = False

    def create(spec: EntrySpec) -> None:
        creates.append(CreateEntry(spec))
        if spec.type == STANDARD:
            for assoc in sorted(set(spec.policies)):
                associates.append(
                    AssociatePolicy(
                        spec.principal_arn, PolicyAssociation(assoc.policy_arn, assoc.scope.normal())
                    )
                )

    # 2. Entries the baseline wants.
    for arn in sorted(wanted):
        spec = wanted[arn]
        entry = live.entries.get(arn)
        if _principal_gone(arn, live, entry):
            if entry is None:
                warnings.append(f"cannot create the entry for {arn}: the IAM principal does not exist")
            else:
                warnings.append(
                    f"the entry for {arn} is bound to a deleted IAM principal and grants nothing; "
                    "it can be restored once the principal exists again"
                )
            continue
        if not viable_admin and spec.type == STANDARD and grants_admin(spec.policies):
            viable_admin = True
        if entry is None:
            create(spec)
            continue
        if entry.principal_status == "recreated":
            recreate_deletes.append(DeleteEntry(arn, "principal-recreated", entry.type))
            create(spec)
            continue
        if entry.type != spec.type:
            recreate_deletes.append(DeleteEntry(arn, "type-changed", entry.type))
            create(spec)
            continue
        if spec.type != STANDARD:
            continue  # for node types only existence and type matter
        username = spec.username if spec.username is not None else default_username(arn)
        groups = tuple(sorted(set(spec.kubernetes_groups)))
        if entry.username != username or set(entry.kubernetes_groups) != set(groups):
            updates.append(
                UpdateEntry(
                    arn,
                    username,
                    groups,
                    before_username=entry.username,
                    before_groups=tuple(sorted(set(entry.kubernetes_groups))),
                )
            )
        have = {p.policy_arn: p.scope.normal() for p in entry.policies}
        want = {p.policy_arn: p.scope.normal() for p in spec.policies}
        for policy_arn in sorted(want):
            scope = want[policy_arn]
            if policy_arn not in have:
                associates.append(AssociatePolicy(arn, PolicyAssociation(policy_arn, scope)))
            elif have[policy_arn] != scope:
                associates.append(
                    AssociatePolicy(arn, PolicyAssociation(policy_arn, scope), before_scope=have[policy_arn])
                )
        for policy_arn in sorted(have):
            if policy_arn not in want:
                disassociates.append(DisassociatePolicy(arn, policy_arn))

    # 3. Entries not in the baseline: pruned only when asked, never kept ones, within the limits.
    settings = baseline.settings
    candidates: list[LiveEntry] = []
    surviving_admin = False  # a live admin not in the baseline that this plan leaves in place
    for arn in sorted(live.entries):
        if arn in wanted:
            continue
        entry = live.entries[arn]
        if settings.prune and not settings.keeps(arn, entry.type):
            candidates.append(entry)
        elif _is_live_admin(entry, live):
            surviving_admin = True

    prunes: list[Action] = []
    if candidates and not baseline.entries:
        refusals.append(
            "prune is on but the baseline has no entries: refusing to delete "
            f"{_entries(len(candidates))} from an empty baseline"
        )
        candidates = []
    if len(candidates) > settings.max_deletions:
        refusals.append(
            f"{_entries(len(candidates))} not in the baseline but maxDeletions is {settings.max_deletions}: "
            "deleting none of them (add them to the baseline or a keep rule, or raise "
            "accessGuard.maxDeletions)"
        )
        candidates = []
    admins = [e for e in candidates if _is_live_admin(e, live)]
    if admins:
        baseline_wants_admin = any(s.type == STANDARD and grants_admin(s.policies) for s in wanted.values())
        if baseline_wants_admin:
            safe = viable_admin
            why = "no cluster admin the baseline asks for exists or can be created"
        else:
            safe = surviving_admin
            why = "the baseline asks for no cluster admin and none would be left"
        if not safe:
            names = ", ".join(e.principal_arn for e in admins)
            refusals.append(f"not deleting {names}: it grants cluster admin and {why}")
            candidates = [e for e in candidates if not _is_live_admin(e, live)]
    for entry in candidates:
        prunes.append(DeleteEntry(entry.principal_arn, "not-in-baseline", entry.type))

    actions = (*upgrades, *recreate_deletes, *creates, *updates, *associates, *disassociates, *prunes)
    return Plan(baseline.cluster, baseline.region, actions, tuple(warnings), tuple(refusals))


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def _is_live_admin(entry: LiveEntry, live: LiveState) -> bool:
    """The entry really grants cluster admin now (its principal is neither deleted nor recreated)."""
    return (
        entry.principal_status not in _DEAD
        and entry.principal_arn not in live.missing_principals
        and grants_admin(entry.policies)
    )
