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
from access_guard.core.planner import grants_admin, plan
from access_guard.core.principals import default_username
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .simulator import apply_to_live
from .strategies import baselines, live_states, model_baselines

Scenario = tuple[Baseline, LiveState]
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PHASE = {
    UpgradeMode: 0,
    "recreate": 1,
    CreateEntry: 2,
    UpdateEntry: 3,
    AssociatePolicy: 4,
    DisassociatePolicy: 5,
    "prune": 6,
}


def phase(action: object) -> int:
    if isinstance(action, DeleteEntry):
        return PHASE["prune" if action.reason == "not-in-baseline" else "recreate"]
    return PHASE[type(action)]


def arn_of(action: object) -> str | None:
    if isinstance(action, CreateEntry):
        return action.spec.principal_arn
    return getattr(action, "principal_arn", None)


def real_admins(live: LiveState) -> set[str]:
    return {
        arn
        for arn, e in live.entries.items()
        if e.type == STANDARD
        and grants_admin(e.policies)
        and e.principal_status not in ("missing", "recreated")
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
def test_actions_come_in_apply_order_with_not_in_baseline_deletions_last(
    scenario: Scenario,
) -> None:
    phases = [phase(a) for a in plan(*scenario).actions]
    assert phases == sorted(phases)


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
        assert baseline.authentication_mode == mode
        assert not live.update_in_progress


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
        if s.type == STANDARD and grants_admin(s.policies) and principal_exists(s.principal_arn, live)
    ]
    if creatable:
        assert real_admins(after)


@PROPERTY
@given(scenarios)
def test_pruning_never_removes_the_last_admin(scenario: Scenario) -> None:
    baseline, live = scenario
    result = plan(baseline, live)
    pruned_admins = {d.principal_arn for d in prune_deletions(result)} & real_admins(live)
    if pruned_admins:
        assert real_admins(apply_to_live(live, result.actions))


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
