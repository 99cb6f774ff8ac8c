"""Planner properties over random baselines and live states, applied through the EKS simulator."""

from __future__ import annotations

from access_guard.core.baseline import from_document, to_document
from access_guard.core.model import (
    MODE_ORDER,
    STANDARD,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    LiveState,
    Plan,
    UpdateEntry,
    UpgradeMode,
)
from access_guard.core.planner import plan
from access_guard.core.principals import default_username
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .simulator import apply_to_live
from .strategies import baselines, live_states, model_baselines

Scenario = tuple[Baseline, LiveState]
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def is_removal(action: object, live: LiveState) -> bool:
    """The test's own reading of "removes an admin path" (not the product's), for ordering properties."""
    if isinstance(action, UpgradeMode):
        return action.target == "API"
    if isinstance(action, CreateEntry):  # while aws-auth counts, an entry replaces a possible aws-auth admin
        return live.authentication_mode != "API" and not is_admin(action.spec.policies)
    entry = live.entries.get(arn_of(action) or "")
    if entry is None or not is_admin(entry.policies) or entry.principal_status in ("missing", "recreated"):
        return False
    if isinstance(action, DeleteEntry):
        return True
    if isinstance(action, DisassociatePolicy):
        return action.policy_arn.endswith(ADMIN_NAME)
    if isinstance(action, AssociatePolicy):
        return (
            action.association.policy_arn.endswith(ADMIN_NAME) and action.association.scope.type != "cluster"
        )
    return False


ADMIN_NAME = "/AmazonEKSClusterAdminPolicy"


def is_admin(policies: object) -> bool:
    return any(p.policy_arn.endswith(ADMIN_NAME) and p.scope.type == "cluster" for p in policies)  # type: ignore[attr-defined]


def arn_of(action: object) -> str | None:
    if isinstance(action, CreateEntry):
        return action.spec.principal_arn
    return getattr(action, "principal_arn", None)


def real_admins(live: LiveState) -> set[str]:
    """Entries that administer the cluster, confirmed: the principal exists and the entry is bound to it."""
    return {
        arn
        for arn, e in live.entries.items()
        if e.type == STANDARD
        and is_admin(e.policies)
        and e.principal_status == "ok"
        and arn not in live.missing_principals
    }


def principal_exists(arn: str, live: LiveState) -> bool:
    entry = live.entries.get(arn)
    return arn not in live.missing_principals and (entry is None or entry.principal_status != "missing")


def prune_deletions(result: Plan) -> list[DeleteEntry]:
    return [a for a in result.actions if isinstance(a, DeleteEntry) and a.reason == "not-in-baseline"]


scenarios = baselines.flatmap(lambda b: st.tuples(st.just(b), live_states(b)))


@PROPERTY
@given(scenarios)
def test_the_plan_applies_cleanly_and_planning_again_gives_nothing(scenario: Scenario) -> None:
    baseline, live = scenario
    # when
    after = apply_to_live(live, plan(baseline, live).actions)  # raises if EKS would refuse a call
    # then
    assert plan(baseline, after).actions == ()


@PROPERTY
@given(scenarios)
def test_a_clean_plan_reaches_the_baseline(scenario: Scenario) -> None:
    baseline, live = scenario
    result = plan(baseline, live)
    if result.warnings or result.refusals:
        return  # covered by the other properties: some of the baseline cannot be reached this run
    # when
    after = apply_to_live(live, result.actions)
    # then the mode is at least the baseline's
    if baseline.authentication_mode is not None:
        assert MODE_ORDER.index(after.authentication_mode) >= MODE_ORDER.index(baseline.authentication_mode)
    # and every baseline entry is there, as the baseline says, bound to a live principal
    for spec in baseline.entries:
        entry = after.entries[spec.principal_arn]
        assert entry.type == spec.type
        assert entry.principal_status in ("ok", "unknown")
        if spec.type == STANDARD:
            assert entry.username == (spec.username or default_username(spec.principal_arn))
            assert set(entry.kubernetes_groups) == set(spec.kubernetes_groups)
            have = {p.policy_arn: p.scope for p in entry.policies}
            assert have == {p.policy_arn: p.scope for p in spec.policies}
    # and entries outside the baseline are gone when pruned, untouched otherwise
    wanted = {s.principal_arn for s in baseline.entries}
    for arn, entry in live.entries.items():
        if arn in wanted:
            continue
        if baseline.settings.prune and baseline.entries and not baseline.settings.keeps(arn, entry.type):
            assert arn not in after.entries
        else:
            assert after.entries[arn] == entry


@PROPERTY
@given(scenarios)
def test_nothing_that_removes_an_admin_path_runs_before_what_builds_the_baseline(scenario: Scenario) -> None:
    baseline, live = scenario
    actions = plan(baseline, live).actions
    removals = [i for i, a in enumerate(actions) if is_removal(a, live)]
    if not removals:
        return
    removed = {arn_of(actions[i]) for i in removals}
    first = min(removals)
    # after the first removal, nothing builds (creates, updates, associates) but the removed principals'
    # own follow-ups (a type change's create, an entry's policies)
    for action in actions[first:]:
        if isinstance(action, CreateEntry | UpdateEntry | AssociatePolicy) and not is_removal(action, live):
            assert arn_of(action) in removed, action
    prunes = [
        i for i, a in enumerate(actions) if isinstance(a, DeleteEntry) and a.reason == "not-in-baseline"
    ]
    others = [i for i, a in enumerate(actions) if i not in prunes and not isinstance(a, UpgradeMode)]
    if prunes and others:
        assert max(others) < min(prunes)


@PROPERTY
@given(scenarios)
def test_never_more_than_max_deletions_and_none_without_prune(scenario: Scenario) -> None:
    baseline, live = scenario
    pruned = prune_deletions(plan(baseline, live))
    assert len(pruned) <= baseline.settings.max_deletions
    if not baseline.settings.prune or not baseline.entries:
        assert pruned == []
    wanted = {s.principal_arn: s for s in baseline.entries}
    for action in plan(baseline, live).actions:
        if isinstance(action, DeleteEntry) and action.reason != "not-in-baseline":
            entry = live.entries[action.principal_arn]
            assert action.principal_arn in wanted
            assert entry.principal_status == "recreated" or entry.type != wanted[action.principal_arn].type
        if isinstance(action, DeleteEntry) and action.reason == "not-in-baseline":
            assert action.principal_arn not in wanted


@PROPERTY
@given(scenarios)
def test_kept_entries_outside_the_baseline_are_never_touched(scenario: Scenario) -> None:
    baseline, live = scenario
    wanted = {s.principal_arn for s in baseline.entries}
    kept = {
        arn for arn, e in live.entries.items() if arn not in wanted and baseline.settings.keeps(arn, e.type)
    }
    assert not kept & {arn_of(a) for a in plan(baseline, live).actions}


@PROPERTY
@given(scenarios)
def test_the_mode_moves_forward_one_step_at_a_time_up_to_the_baseline(scenario: Scenario) -> None:
    baseline, live = scenario
    upgrades = [a for a in plan(baseline, live).actions if isinstance(a, UpgradeMode)]
    mode = live.authentication_mode
    for step in upgrades:
        assert step.current == mode
        assert MODE_ORDER.index(step.target) == MODE_ORDER.index(mode) + 1
        mode = step.target
    if upgrades:
        assert baseline.authentication_mode is not None
        assert MODE_ORDER.index(mode) <= MODE_ORDER.index(baseline.authentication_mode)


@PROPERTY
@given(scenarios)
def test_an_admin_the_baseline_wants_and_can_have_exists_after_apply(scenario: Scenario) -> None:
    baseline, live = scenario
    result = plan(baseline, live)
    after = apply_to_live(live, result.actions)
    if after.authentication_mode == "CONFIG_MAP":
        return  # no access entries can exist yet (the mode update is still running)
    creatable = [
        s
        for s in baseline.entries
        if s.type == STANDARD and is_admin(s.policies) and principal_exists(s.principal_arn, live)
    ]
    if creatable:
        assert real_admins(after) or {s.principal_arn for s in creatable} & {
            arn
            for arn, e in after.entries.items()
            if is_admin(e.policies) and e.principal_status == "unknown"
        }


@PROPERTY
@given(scenarios)
def test_every_prefix_of_the_plan_keeps_a_confirmed_admin_when_it_removes_one(scenario: Scenario) -> None:
    # (the pure model sees no aws-auth: the emulator-backed property judges that with the oracle)
    baseline, live = scenario
    actions = plan(baseline, live).actions
    state = live
    for action in actions:
        if is_removal(action, state):
            survivors = real_admins(state) - {arn_of(action)}
            assert survivors & {s.principal_arn for s in baseline.entries}, (action, real_admins(state))
        state = apply_to_live(state, [action])


@PROPERTY
@given(scenarios)
def test_planning_is_deterministic(scenario: Scenario) -> None:
    assert plan(*scenario) == plan(*scenario)


@PROPERTY
@given(model_baselines())
def test_a_baseline_survives_its_document(baseline: Baseline) -> None:
    if baseline.authentication_mode is None and baseline.entries:
        return  # a document without a mode means eksctl's default mode
    assert from_document(to_document(baseline)) == baseline
