"""The safety rules every writer of the service goes through (CLI apply, remediation, sweep, break glass).

THE INVARIANT. No action of the service, and no prefix of a run cut short at any write, reduces the set of
principals that can administer the cluster to empty when it was not empty; and no admin path that the
baseline does not ask to keep is removed unless at least one baseline admin holds a working admin path at
that moment, verified live: the entry exists and is bound to the live principal, the principal is confirmed
to exist, and the policy is ClusterAdmin-equivalent at cluster scope.

Removing an admin path means: deleting an entry that may hold cluster admin (whatever the reason: not in the
baseline, or a type change, which EKS can only do as a delete and a create), disassociating its admin
policy, re-scoping that policy from the cluster to namespaces, moving the authentication mode to `API`
(which ends every aws-auth mapping and the cluster creator's hidden admin, none of which the EKS API shows),
and, while aws-auth counts, creating an entry that grants no admin (an access entry takes the place of the
principal's aws-auth mapping or hidden creator admin). Moving to `API_AND_CONFIG_MAP` removes nothing.

One window the EKS API does not let anyone close: an entry is created without policies and given them by a
second call, so a principal whose admin moves from aws-auth into its baseline entry has none between the
two. The planner runs each such pair back to back, before anything else; a run cut short between them is
completed by the next run's first write. A principal whose existence cannot be confirmed (another
account's, which this account's IAM cannot see) never counts as working; its entry still counts as a path
that removing would remove.

How the invariant is kept: every admin-path removal needs a *verifier*, a baseline admin other than what the
plan removes that holds a working admin path in a state read after the last write. Removals come after
every non-removing action of a run (the planner orders them last), so a run cut short before a removal
removed nothing, and one cut short after it still has its verifier. `review` judges a plan when it is made
(counting baseline admins the plan itself will establish); `gate` judges each removing phase just before it
runs, against fresh state, and counts only what it sees.

A re-provisioned IAM Identity Center permission set moves its entry: the new role's entry is created and
given its policies, and the old role's entry is deleted only when the new one is verified live (it exists,
bound to a principal IAM confirms, of the wanted type, with every policy the set asks for at its scope), in
a state read after the last write; the admin rule above judges that delete too, like any other.

The other rules (also here, so one module decides): never prune when pruning is off or from an empty
baseline; never delete a node entry or an entry a keep rule matches that the baseline does not name; at
most `maxDeletions` prunes per run, all or none.

When a rule forbids a step, the step is left out with one line saying why, and the rest goes ahead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from . import identity_center, principals
from .model import (
    STANDARD,
    Action,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    EntrySpec,
    LiveEntry,
    LiveState,
    Plan,
    PolicyAssociation,
    UpgradeMode,
)
from .policies import ADMIN_POLICY_NAME, policy_name

_DEAD = ("missing", "recreated")


# --- what "cluster admin" means: the one definition in the product --------------------------------------


def is_admin_policy(policy_arn: str) -> bool:
    """The ClusterAdmin-equivalent access policy (in any partition)."""
    return policy_name(policy_arn) == ADMIN_POLICY_NAME


def grants_admin(policies: Iterable[PolicyAssociation]) -> bool:
    """The policies give cluster admin: the admin policy at cluster scope."""
    return any(is_admin_policy(p.policy_arn) and p.scope.type == "cluster" for p in policies)


def is_working_admin(entry: LiveEntry) -> bool:
    """Verified: a STANDARD entry, bound to a principal IAM confirms exists, with admin at cluster scope."""
    return entry.type == STANDARD and entry.principal_status == "ok" and grants_admin(entry.policies)


def may_hold_admin(entry: LiveEntry) -> bool:
    """The entry may be someone's admin path (its principal is not known to be dead): removing it counts."""
    return entry.type == STANDARD and entry.principal_status not in _DEAD and grants_admin(entry.policies)


def baseline_admins(desired: Baseline) -> tuple[EntrySpec, ...]:
    """The admins the baseline asks for: the paths it asks to keep (not those a grant alone makes)."""
    return tuple(
        s
        for s in desired.entries
        if s.type == STANDARD and grants_admin(s.policies) and s.principal_arn not in desired.granted
    )


def verified_admins(desired: Baseline, live: LiveState) -> frozenset[str]:
    """Baseline admins holding a working admin path in `live`."""
    return frozenset(
        s.principal_arn
        for s in baseline_admins(desired)
        if (entry := live.entries.get(s.principal_arn)) is not None and is_working_admin(entry)
    )


def removes_admin_path(action: Action, live: LiveState) -> bool:
    """Whether `action` would (or may: what the EKS API cannot show counts) remove someone's admin path."""
    if isinstance(action, UpgradeMode):
        return action.target == "API"
    if isinstance(action, CreateEntry):
        # While aws-auth counts, an access entry takes the place of the principal's aws-auth mapping (and of
        # a creator's hidden admin); either may grant cluster admin, and the EKS API shows neither. An entry
        # that itself grants admin keeps the principal admin; any other may take admin away.
        return live.authentication_mode != "API" and not grants_admin(action.spec.policies)
    entry = live.entries.get(action.principal_arn)
    if entry is None or not may_hold_admin(entry):
        return False
    if isinstance(action, DeleteEntry):
        return True
    if isinstance(action, DisassociatePolicy):
        return is_admin_policy(action.policy_arn) and any(
            p.policy_arn == action.policy_arn and p.scope.type == "cluster" for p in entry.policies
        )
    if isinstance(action, AssociatePolicy):
        return (
            is_admin_policy(action.association.policy_arn)
            and action.association.scope.type != "cluster"
            and any(
                p.policy_arn == action.association.policy_arn and p.scope.type == "cluster"
                for p in entry.policies
            )
        )
    return False


def target(action: Action) -> str | None:
    """The principal an entry action is about (None for a mode move)."""
    if isinstance(action, UpgradeMode):
        return None
    return action.spec.principal_arn if isinstance(action, CreateEntry) else action.principal_arn


# --- plan time and run time -------------------------------------------------------------------------------


def review(desired: Baseline, live: LiveState, plan: Plan) -> Plan:
    """The plan with every step a rule forbids left out, and one line each saying why.

    Admin-path removals may count on baseline admins the plan itself establishes (created, or given the
    admin policy, by earlier phases); `gate` checks them again, live, before they run. After a targeted read
    that did not look at a baseline admin, that admin may count too: `gate` reads it before any removal.
    """
    actions, refusals = _prune_rules(desired, live, plan.actions)
    actions, moves = _move_rule(desired, live, actions, planned=actions)
    refusals.extend(moves)
    possible = (
        verified_admins(desired, live)
        | _established_by(desired, live, actions)
        | _unread_admins(desired, live)
    )
    actions, more = _admin_rule(desired, live, actions, possible)
    held = tuple(a for a in plan.actions if a not in actions)
    return replace(
        plan, actions=actions, refusals=(*plan.refusals, *refusals, *more), held=(*plan.held, *held)
    )


def gate(
    desired: Baseline, live: LiveState, actions: Sequence[Action]
) -> tuple[tuple[Action, ...], tuple[str, ...]]:
    """(allowed, refusals) for a phase about to run; `live` must have been read after the last write."""
    allowed, refusals = _prune_rules(desired, live, tuple(actions))
    allowed, moves = _move_rule(desired, live, allowed, planned=())
    allowed, more = _admin_rule(desired, live, allowed, verified_admins(desired, live))
    return allowed, (*refusals, *moves, *more)


def needs_gate(actions: Iterable[Action], live: LiveState) -> bool:
    return any(removes_admin_path(a, live) or _is_move(a) for a in actions)


def to_reread(desired: Baseline, live: LiveState) -> list[str]:
    """What the gate reads again before a removing phase: the baseline admins, and the new role of every
    permission set whose old entry `live` shows (its move waits for the new entry, verified live)."""
    admins = [s.principal_arn for s in baseline_admins(desired)]
    moves = [new for _, _, new in identity_center.moved_from(desired, live.entries, live.account_id)]
    return list(dict.fromkeys([*admins, *moves]))


# --- the rules --------------------------------------------------------------------------------------------


def _is_move(action: Action) -> bool:
    return isinstance(action, DeleteEntry) and action.reason == "permission-set-moved"


def _move_rule(
    desired: Baseline, live: LiveState, actions: tuple[Action, ...], planned: tuple[Action, ...]
) -> tuple[tuple[Action, ...], list[str]]:
    """A moved permission set's old entry goes only when its new entry is verified live; at plan time
    (`planned` non-empty) the plan's own create and associations of the new entry count."""
    specs = {s.principal_arn: s for s in desired.entries}
    refusals: list[str] = []
    held: set[Action] = set()
    for action in actions:
        if not isinstance(action, DeleteEntry) or not _is_move(action):
            continue
        new = action.moved_to or ""
        spec = specs.get(new)
        why = "the baseline does not name it" if spec is None else _not_verified(spec, live, planned)
        if why is not None:
            refusals.append(
                f"not moving {action.permission_set} from {action.principal_arn} to {new} yet: {why}"
            )
            held.add(action)
    return tuple(a for a in actions if a not in held), refusals


def _not_verified(spec: EntrySpec, live: LiveState, planned: tuple[Action, ...]) -> str | None:
    """Why `spec`'s entry is not verified working in `live` (or, with `planned`, will not be once the plan
    ran), or None when it is."""
    arn = spec.principal_arn
    entry = live.entries.get(arn)
    want = {p.policy_arn: p.scope.normal() for p in spec.policies}
    if planned:
        creates = any(isinstance(a, CreateEntry) and a.spec.principal_arn == arn for a in planned)
        associated = {
            a.association.policy_arn: a.association.scope.normal()
            for a in planned
            if isinstance(a, AssociatePolicy) and a.principal_arn == arn
        }
        if creates or (entry is not None and entry.principal_status == "ok" and entry.type == spec.type):
            have = {}
            if not creates and entry is not None:
                have = {p.policy_arn: p.scope.normal() for p in entry.policies}
            have.update(associated)
            if creates and not _confirmed(arn, live):
                return f"IAM does not confirm {arn} exists"
            missing = sorted(name for name, scope in want.items() if have.get(name) != scope)
            if missing:
                return f"its entry would still lack {', '.join(map(policy_name, missing))}"
            return None
    if entry is None:
        return f"{arn} has no access entry yet"
    if entry.principal_status != "ok":
        return f"{arn}'s entry is not bound to a principal IAM confirms ({entry.principal_status})"
    if entry.type != spec.type:
        return f"{arn}'s entry is {entry.type}, not {spec.type}"
    have = {p.policy_arn: p.scope.normal() for p in entry.policies}
    missing = sorted(name for name, scope in want.items() if have.get(name) != scope)
    if missing:
        return f"{arn}'s entry lacks {', '.join(map(policy_name, missing))} at the wanted scope"
    return None


def _is_prune(action: Action) -> bool:
    return isinstance(action, DeleteEntry) and action.reason == "not-in-baseline"


def _prune_rules(
    desired: Baseline, live: LiveState, actions: tuple[Action, ...]
) -> tuple[tuple[Action, ...], list[str]]:
    actions, refusals = _grant_rule(desired, actions)
    prunes = [a for a in actions if _is_prune(a)]
    if not prunes:
        return actions, refusals
    settings = desired.settings
    wanted = {s.principal_arn for s in desired.entries}
    held: set[Action] = set()
    if not settings.prune:
        refusals.append(f"not deleting {_entries(len(prunes))} not in the baseline: pruning is off")
        held.update(prunes)
    elif not desired.entries:
        refusals.append(
            f"not deleting {_entries(len(prunes))}: the baseline has no entries, and Guard never prunes from "
            "an empty baseline"
        )
        held.update(prunes)
    else:
        for action in prunes:
            assert isinstance(action, DeleteEntry)
            entry = live.entries.get(action.principal_arn)
            entry_type = entry.type if entry else action.entry_type
            if action.principal_arn in wanted:
                refusals.append(f"not deleting {action.principal_arn}: the baseline names it")
                held.add(action)
            elif settings.keeps(action.principal_arn, entry_type):
                refusals.append(f"not deleting {action.principal_arn}: {_kept_because(entry_type)}")
                held.add(action)
        left = [a for a in prunes if a not in held]
        if len(left) > settings.max_deletions:
            refusals.append(
                f"not deleting {_entries(len(left))} not in the baseline: more than maxDeletions "
                f"({settings.max_deletions}) in one run, so none (add them to the baseline or a keep rule, "
                "or raise accessGuard.maxDeletions)"
            )
            held.update(left)
    return tuple(a for a in actions if a not in held), refusals


def _grant_rule(desired: Baseline, actions: tuple[Action, ...]) -> tuple[tuple[Action, ...], list[str]]:
    """Only an ended grant's own entry goes as "grant-ended", and never one the desired state names."""
    named = {s.principal_arn for s in desired.entries}
    made = {e.principal_arn for e in desired.ending if e.delete_entry}
    bad = [
        a
        for a in actions
        if isinstance(a, DeleteEntry)
        and a.reason == "grant-ended"
        and (a.principal_arn not in made or a.principal_arn in named)
    ]
    refusals = [f"not deleting {a.principal_arn}: no ended grant made its entry" for a in bad]
    return tuple(a for a in actions if a not in bad), refusals


def _kept_because(entry_type: str) -> str:
    if entry_type != STANDARD:
        return f"a {entry_type} node entry the baseline does not name is kept (nodes would be cut off)"
    return "a keep rule matches it"


def _admin_rule(
    desired: Baseline, live: LiveState, actions: tuple[Action, ...], verifiers: frozenset[str]
) -> tuple[tuple[Action, ...], list[str]]:
    removing = [a for a in actions if removes_admin_path(a, live)]
    if not removing:
        return actions, []
    removed = {t for a in removing if (t := target(a)) is not None}
    usable = verifiers - removed
    if usable:
        return actions, []
    why = _why_no_verifier(desired, live, removed)
    held: set[Action] = set(removing)
    refusals = [f"{_refused_step(a)}: {why}" for a in removing]
    # What follows a held step is moot: a type change's create (without its delete it would only fail with
    # a 409), a held create's associations.
    moot = {
        target(a)
        for a in removing
        if isinstance(a, CreateEntry) or (isinstance(a, DeleteEntry) and a.reason == "type-changed")
    }
    held.update(a for a in actions if target(a) in moot and isinstance(a, CreateEntry | AssociatePolicy))
    return tuple(a for a in actions if a not in held), refusals


def _refused_step(action: Action) -> str:
    if isinstance(action, UpgradeMode):
        return "not moving the authentication mode to API (it ends every aws-auth and cluster-creator path)"
    if isinstance(action, DeleteEntry):
        if action.reason == "type-changed":
            return (
                f"not changing the type of {action.principal_arn} (EKS deletes and recreates it; it holds "
                "cluster admin)"
            )
        return f"not deleting {action.principal_arn} (it holds cluster admin)"
    if isinstance(action, DisassociatePolicy):
        return f"not disassociating {policy_name(action.policy_arn)} from {action.principal_arn}"
    if isinstance(action, AssociatePolicy):
        name = policy_name(action.association.policy_arn)
        return f"not narrowing {name} on {action.principal_arn} to namespaces"
    if isinstance(action, CreateEntry):
        return (
            f"not creating the entry of {action.spec.principal_arn} yet (while aws-auth counts, an entry "
            "takes the place of the principal's aws-auth mapping or hidden creator admin, which may grant "
            "cluster admin; the EKS API shows neither)"
        )
    return f"not doing {type(action).__name__}"  # pragma: no cover - no other action removes a path


def _why_no_verifier(desired: Baseline, live: LiveState, removed: set[str]) -> str:
    admins = baseline_admins(desired)
    if not admins:
        return "the baseline names no cluster admin, so none can be verified working first (name one)"
    reasons = []
    for spec in admins:
        arn = spec.principal_arn
        entry = live.entries.get(arn)
        if arn in removed:
            reasons.append(f"{arn} is what this step removes")
        elif live.only_principals is not None and arn not in live.only_principals:
            reasons.append(f"{arn} was not read")
        elif entry is None:
            gone = arn in live.missing_principals
            reasons.append(f"{arn} {'no longer exists in IAM' if gone else 'has no access entry yet'}")
        elif entry.type != STANDARD:
            reasons.append(f"{arn} is a {entry.type} entry")
        elif entry.principal_status == "missing":
            reasons.append(f"{arn} no longer exists in IAM")
        elif entry.principal_status == "recreated":
            reasons.append(f"{arn}'s entry is bound to a deleted identity (the principal was recreated)")
        elif entry.principal_status == "unknown":
            reasons.append(f"{arn} cannot be confirmed to exist (IAM in this account cannot see it)")
        else:
            reasons.append(f"{arn} lacks {ADMIN_POLICY_NAME} at cluster scope")
    return "no baseline admin is verified working now (" + "; ".join(reasons) + ")"


def _established_by(desired: Baseline, live: LiveState, actions: tuple[Action, ...]) -> frozenset[str]:
    """Baseline admins the plan's non-removing actions will give a working admin path, as far as can be told
    now: IAM confirms the principal, and the plan associates its admin policy at cluster scope (creating its
    entry first where there is none, or where the one there is bound to a deleted identity)."""
    creates = {a.spec.principal_arn for a in actions if isinstance(a, CreateEntry)}
    granted = {
        a.principal_arn
        for a in actions
        if isinstance(a, AssociatePolicy)
        and is_admin_policy(a.association.policy_arn)
        and a.association.scope.type == "cluster"
    }
    out = set()
    for spec in baseline_admins(desired):
        arn = spec.principal_arn
        if arn not in granted:
            continue
        entry = live.entries.get(arn)
        if arn in creates:
            if _confirmed(arn, live):
                out.add(arn)
        elif entry is not None and entry.type == STANDARD and entry.principal_status == "ok":
            out.add(arn)
    return frozenset(out)


def _confirmed(arn: str, live: LiveState) -> bool:
    """IAM was asked about `arn` (a principal of the cluster's account) and said it exists."""
    principal = principals.parse(arn)
    return (
        principal is not None
        and principal.account == live.account_id
        and arn not in live.missing_principals
        and (live.only_principals is None or arn in live.only_principals)
    )


def _unread_admins(desired: Baseline, live: LiveState) -> frozenset[str]:
    if live.only_principals is None:
        return frozenset()
    return frozenset(
        s.principal_arn for s in baseline_admins(desired) if s.principal_arn not in live.only_principals
    )


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"
