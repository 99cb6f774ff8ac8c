"""The planner: what it takes to bring a live cluster to its desired state, as a pure function.

`diff(desired, live)` lists every EKS write that closes the gap, in the order they must run; `plan` is that
diff after `safety.review`, which leaves out what the safety rules forbid and says why. The planner orders
and annotates; the safety module decides.

The order (`phases`), chosen so that the admins the baseline asks for are in place first and nothing that
could remove someone's admin path runs before everything that builds the desired state has run:

  MODE_UP        mode CONFIG_MAP -> API_AND_CONFIG_MAP (removes nothing; entries become possible)
  RESET          deletions that remove no working path: entries bound to a recreated principal, type
                 changes of entries that hold no admin (each created again later)
  CREATE         creates that cannot take an admin path away (entries that grant admin; any entry in API)
  GRANT          their policies, right after; and admin policies given back to baseline admins
  UPDATE         username and groups          ASSOCIATE   other associations that add or widen
  OVERRIDE       creates that may take an aws-auth or creator admin path away (the rest, while aws-auth
                 counts), then OVERRIDE_ASSOCIATE their policies
  NARROW         disassociations, and re-scopes that narrow an admin policy
  RETYPE_DELETE  type changes of entries that may hold admin: the delete, then RETYPE_CREATE the create
  PRUNE          deletions of entries not in the desired state, and a re-provisioned permission set's old
                 role's entry (its new one is verified live first: `safety`)
  MODE_API       mode API_AND_CONFIG_MAP -> API (ends every aws-auth and creator path)

A LiveState from a targeted read covers some principals only: the plan then touches only those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import identity_center, safety
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
from .principals import default_username
from .unmanaged import unmanaged

PlanFn = Callable[[Baseline, LiveState], Plan]


def plan(desired: Baseline, live: LiveState) -> Plan:
    """The actions, in apply order, that bring `live` to `desired`, as far as the safety rules allow."""
    return safety.review(desired, live, diff(desired, live))


def diff(desired: Baseline, live: LiveState) -> Plan:
    """Every action that brings `live` to `desired`, in apply order, before the safety rules; no I/O."""
    warnings: list[str] = []
    actions: list[Action] = []

    # Authentication mode: forward only, one step per action.
    mode_after: AuthenticationMode = live.authentication_mode
    target = desired.authentication_mode
    if target is not None and MODE_ORDER.index(target) > MODE_ORDER.index(live.authentication_mode):
        at, want = MODE_ORDER.index(live.authentication_mode), MODE_ORDER.index(target)
        actions.extend(UpgradeMode(MODE_ORDER[i], MODE_ORDER[i + 1]) for i in range(at, want))
        mode_after = target

    if mode_after == "CONFIG_MAP":
        # No access-entry call works in CONFIG_MAP (and there are no entries to look at).
        if desired.entries:
            warnings.append(
                "the cluster stays in CONFIG_MAP mode, where access entries cannot exist: "
                f"{_entries(len(desired.entries))} of the baseline not applied"
            )
        return _ordered(desired, live, actions, warnings)

    wanted: dict[str, EntrySpec] = {}
    for spec in desired.entries:
        if live.only_principals is None or spec.principal_arn in live.only_principals:
            wanted.setdefault(spec.principal_arn, spec)

    for arn in sorted(wanted):
        spec = wanted[arn]
        entry = live.entries.get(arn)
        if arn in live.missing_principals or (entry is not None and entry.principal_status == "missing"):
            if entry is None:
                warnings.append(f"cannot create the entry for {arn}: the IAM principal does not exist")
            else:
                warnings.append(
                    f"the entry for {arn} is bound to a deleted IAM principal and grants nothing; "
                    "it can be restored once the principal exists again"
                )
            continue
        if entry is None:
            actions.extend(_create(spec))
        elif entry.principal_status == "recreated":
            actions.append(DeleteEntry(arn, "principal-recreated", entry.type))
            actions.extend(_create(spec))
        elif entry.type != spec.type:
            actions.append(DeleteEntry(arn, "type-changed", entry.type))
            actions.extend(_create(spec))
        elif spec.type == STANDARD:
            actions.extend(_adds(spec, entry) if spec.only_adds else _changes(spec, entry))
        # for node types only existence and type matter

    # Entries not in the desired state: pruned when the baseline asks, unless kept (node entries, keep
    # rules); the safety rules decide the rest (empty baseline, maxDeletions, admin paths).
    named = {s.principal_arn for s in desired.entries}
    owned = {s.principal_arn for s in desired.entries if not s.only_adds}
    # Access of ended grants: the entry Guard made for them, the policy they associated, or the scope they
    # widened (for principals the baseline owns, the diff above already puts their entry back as it should
    # be).
    ending: set[str] = set()
    for end in desired.ending:
        entry = live.entries.get(end.principal_arn)
        if end.principal_arn in owned or entry is None:
            continue
        if live.only_principals is not None and end.principal_arn not in live.only_principals:
            continue
        ending.add(end.principal_arn)
        have = next((p.scope.normal() for p in entry.policies if p.policy_arn == end.policy_arn), None)
        if end.delete_entry:
            actions.append(DeleteEntry(end.principal_arn, "grant-ended", entry.type))
        elif have is None:
            continue
        elif end.restore_scope is None:
            actions.append(DisassociatePolicy(end.principal_arn, end.policy_arn))
        elif have != end.restore_scope.normal():
            association = PolicyAssociation(end.policy_arn, end.restore_scope.normal())
            actions.append(AssociatePolicy(end.principal_arn, association, before_scope=have))
    actions = list(dict.fromkeys(actions))  # two ended grants may end one entry
    # A re-provisioned permission set: its entry now lives on the resolved role (created above); the old
    # role's entry goes last, once the safety gate has seen the new one working.
    moved: set[str] = set()
    for name, old, new in identity_center.moved_from(desired, live.entries, live.account_id):
        moved.add(old)
        entry_type = live.entries[old].type
        actions.append(
            DeleteEntry(old, "permission-set-moved", entry_type, permission_set=name, moved_to=new)
        )
    # The entries of a permission set the baseline names are its to move, never pruned (an unresolved
    # set's entry is left as it is).
    sets = {s.name for s in desired.permission_sets}
    if desired.settings.prune:
        for arn, entry in sorted(live.entries.items()):
            if arn in named or arn in ending or arn in moved or desired.settings.keeps(arn, entry.type):
                continue
            if identity_center.permission_set_of(arn, live.account_id) in sets:
                continue
            actions.append(DeleteEntry(arn, "not-in-baseline", entry.type))
    return _ordered(desired, live, actions, warnings)


def _create(spec: EntrySpec) -> list[Action]:
    out: list[Action] = [CreateEntry(spec)]
    if spec.type == STANDARD:
        out.extend(
            AssociatePolicy(spec.principal_arn, PolicyAssociation(p.policy_arn, p.scope.normal()))
            for p in sorted(set(spec.policies))
        )
    return out


def _adds(spec: EntrySpec, entry: LiveEntry) -> list[Action]:
    """For an entry the baseline does not own (grants only add): its policies associated or widened; its
    username, groups and other policies left alone."""
    have = {p.policy_arn: p.scope.normal() for p in entry.policies}
    out: list[Action] = []
    for association in sorted(set(spec.policies)):
        scope = association.scope.normal()
        now = have.get(association.policy_arn)
        if now is None:
            out.append(AssociatePolicy(spec.principal_arn, PolicyAssociation(association.policy_arn, scope)))
        elif not now.covers(scope):
            wider = PolicyAssociation(association.policy_arn, now.union(scope).normal())
            out.append(AssociatePolicy(spec.principal_arn, wider, before_scope=now))
    return out


def _changes(spec: EntrySpec, entry: LiveEntry) -> list[Action]:
    arn = spec.principal_arn
    out: list[Action] = []
    username = spec.username if spec.username is not None else default_username(arn)
    groups = tuple(sorted(set(spec.kubernetes_groups)))
    if entry.username != username or set(entry.kubernetes_groups) != set(groups):
        out.append(
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
            out.append(AssociatePolicy(arn, PolicyAssociation(policy_arn, scope)))
        elif have[policy_arn] != scope:
            out.append(
                AssociatePolicy(arn, PolicyAssociation(policy_arn, scope), before_scope=have[policy_arn])
            )
    out.extend(DisassociatePolicy(arn, policy_arn) for policy_arn in sorted(have) if policy_arn not in want)
    return out


# The phases, in run order.
(
    MODE_UP,
    RESET,
    CREATE,
    GRANT,
    UPDATE,
    ASSOCIATE,
    OVERRIDE,
    OVERRIDE_ASSOCIATE,
    NARROW,
    RETYPE_DELETE,
    RETYPE_CREATE,
    PRUNE,
    MODE_API,
) = range(13)


def phase_numbers(actions: Sequence[Action], live: LiveState) -> list[int]:
    """Each action's phase (see the module's docstring); an association goes with the create it follows."""
    created: dict[str, int] = {}
    numbers = []
    for action in actions:
        number = _phase(action, live, created)
        if isinstance(action, CreateEntry):
            created[action.spec.principal_arn] = number
        numbers.append(number)
    return numbers


def _phase(action: Action, live: LiveState, created: dict[str, int]) -> int:
    if isinstance(action, UpgradeMode):
        return MODE_API if action.target == "API" else MODE_UP
    if isinstance(action, DeleteEntry):
        if action.reason in ("not-in-baseline", "grant-ended", "permission-set-moved"):
            return PRUNE
        return RETYPE_DELETE if safety.removes_admin_path(action, live) else RESET
    if isinstance(action, CreateEntry):
        entry = live.entries.get(action.spec.principal_arn)
        if entry is not None and entry.type != action.spec.type and safety.may_hold_admin(entry):
            return RETYPE_CREATE
        return OVERRIDE if safety.removes_admin_path(action, live) else CREATE
    if isinstance(action, UpdateEntry):
        return UPDATE
    if isinstance(action, AssociatePolicy):
        if safety.removes_admin_path(action, live):
            return NARROW
        after_create = created.get(action.principal_arn)
        if after_create is not None:
            return (
                OVERRIDE_ASSOCIATE
                if after_create == OVERRIDE
                else GRANT
                if after_create == CREATE
                else after_create
            )
        # Giving a baseline admin its admin policy back comes before anything else touches entries.
        return GRANT if safety.grants_admin((action.association,)) else ASSOCIATE
    return NARROW  # DisassociatePolicy


def phases(actions: Sequence[Action], live: LiveState) -> list[list[Action]]:
    """The actions grouped by phase, phases in run order, the plan's order kept within a phase."""
    grouped: dict[int, list[Action]] = {}
    for action, number in zip(actions, phase_numbers(actions, live), strict=True):
        grouped.setdefault(number, []).append(action)
    return [grouped[k] for k in sorted(grouped)]


def _ordered(desired: Baseline, live: LiveState, actions: list[Action], warnings: list[str]) -> Plan:
    """Phase order; within a phase, by kind then principal, so plans are deterministic and readable."""
    kinds = (UpgradeMode, DeleteEntry, CreateEntry, UpdateEntry, AssociatePolicy, DisassociatePolicy)
    numbers = phase_numbers(actions, live)

    def key(item: tuple[Action, int]) -> tuple[int, int, str]:
        action, number = item
        kind = next(i for i, k in enumerate(kinds) if isinstance(action, k))
        return (number, kind, safety.target(action) or "")

    ordered = [a for a, _ in sorted(zip(actions, numbers, strict=True), key=key)]  # stable within a key
    kept = unmanaged(desired, live)
    # A permission set with no single live role: a refused step (the reason says what IAM holds).
    return Plan(
        desired.cluster, desired.region, tuple(ordered), tuple(warnings), desired.unresolved, unmanaged=kept
    )


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"
