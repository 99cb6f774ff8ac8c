"""Grants and the desired state they make with the baseline (pure), one behaviour each."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from access_guard.core import safety
from access_guard.core.grants import Grant, desired_state, grant_work, holds, taken_back
from access_guard.core.model import (
    AccessScope,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    EndingGrant,
    EntrySpec,
    GuardSettings,
    LiveEntry,
    LiveState,
    Plan,
    PolicyAssociation,
    UpdateEntry,
)
from access_guard.core.planner import plan
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX
from access_guard.core.principals import default_username

ACCOUNT = "123456789012"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
EDIT = POLICY_ARN_PREFIX + "AmazonEKSEditPolicy"
ADMIN = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope())
PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/platform"
ONCALL = f"arn:aws:iam::{ACCOUNT}:role/sso/oncall"
DEV = f"arn:aws:iam::{ACCOUNT}:role/dev"


def ns(*names: str) -> AccessScope:
    return AccessScope.of("namespace", names)


def baseline(*entries: EntrySpec, **settings: Any) -> Baseline:
    specs = entries or (EntrySpec(PLATFORM, policies=(ADMIN,)),)
    return Baseline("payments", "eu-west-1", "API", specs, GuardSettings(**settings))


def grant(
    principal: str = ONCALL, policy: str = ADMIN_POLICY_ARN, scope: AccessScope | None = None, **f: Any
) -> Grant:
    values: dict[str, Any] = {
        "grant_id": f"g-{principal[-6:]}-{policy[-10:]}-{f.get('minutes', 15)}",
        "cluster": "payments",
        "region": "eu-west-1",
        "principal_arn": principal,
        "policy_arn": policy,
        "scope": scope or AccessScope(),
        "reason": "INC-42",
        "requested_by": "arn:aws:sts::123456789012:assumed-role/oncall/alice",
        "created_at": NOW - timedelta(minutes=5),
        "ends_at": NOW + timedelta(minutes=f.pop("minutes", 15)),
        "status": "active",
    }
    values.update(f)
    return Grant(**values)


def live(*entries: LiveEntry) -> LiveState:
    return LiveState("payments", "eu-west-1", ACCOUNT, "API", {e.principal_arn: e for e in entries})


def entry(arn: str, *policies: PolicyAssociation) -> LiveEntry:
    return LiveEntry(arn, "STANDARD", default_username(arn), (), tuple(policies), principal_status="ok")


def test_an_active_grant_adds_an_entry_for_a_principal_the_baseline_does_not_name() -> None:
    desired = desired_state(baseline(), [grant()], NOW).baseline
    assert EntrySpec(ONCALL, policies=(ADMIN,), only_adds=True) in desired.entries


def test_a_grant_widens_a_baseline_policy_but_never_narrows_it() -> None:
    b = baseline(
        EntrySpec(PLATFORM, policies=(ADMIN,)), EntrySpec(DEV, policies=(PolicyAssociation(VIEW, ns("a")),))
    )
    wider = desired_state(b, [grant(DEV, VIEW, ns("b"))], NOW).baseline
    assert PolicyAssociation(VIEW, ns("a", "b")) in {p for s in wider.entries for p in s.policies}
    narrower = desired_state(b, [grant(PLATFORM, ADMIN_POLICY_ARN, ns("x"))], NOW).baseline
    assert narrower.entries[0] == b.entries[0]


def test_an_admin_from_a_grant_never_counts_as_a_baseline_admin() -> None:
    desired = desired_state(baseline(EntrySpec(DEV)), [grant(DEV)], NOW).baseline
    assert DEV in desired.granted
    assert safety.baseline_admins(desired) == ()


def test_a_baseline_admin_stays_a_baseline_admin_under_a_grant() -> None:
    desired = desired_state(baseline(), [grant(PLATFORM, VIEW)], NOW).baseline
    assert [s.principal_arn for s in safety.baseline_admins(desired)] == [PLATFORM]


def test_an_ended_grant_deletes_the_entry_guard_made_for_it() -> None:
    ended = grant(minutes=-1, created_entry=True)
    desired = desired_state(baseline(), [ended], NOW).baseline
    assert desired.ending == (EndingGrant(ONCALL, ADMIN_POLICY_ARN, delete_entry=True),)
    result = plan(desired, live(entry(PLATFORM, ADMIN), entry(ONCALL, ADMIN)))
    assert result.actions == (DeleteEntry(ONCALL, "grant-ended"),)


def test_an_ended_grant_on_an_entry_that_was_there_takes_only_its_policy() -> None:
    ended = grant(minutes=-1, created_entry=False)
    desired = desired_state(baseline(), [ended], NOW).baseline
    result = plan(
        desired, live(entry(PLATFORM, ADMIN), entry(ONCALL, ADMIN, PolicyAssociation(EDIT, ns("a"))))
    )
    assert result.actions == (DisassociatePolicy(ONCALL, ADMIN_POLICY_ARN),)


def test_a_policy_that_was_there_before_the_grant_stays() -> None:
    ended = grant(policy=VIEW, minutes=-1, policy_was_there=True, scope_before=AccessScope())
    desired = desired_state(baseline(), [ended], NOW).baseline
    assert plan(
        desired, live(entry(PLATFORM, ADMIN), entry(ONCALL, PolicyAssociation(VIEW, AccessScope())))
    ).is_empty


def test_overlapping_grants_end_only_when_the_last_one_ends() -> None:
    first = grant(minutes=-1, created_entry=True, grant_id="first")
    second = grant(minutes=30, grant_id="second")
    desired = desired_state(baseline(), [first, second], NOW).baseline
    assert desired.ending == ()
    assert plan(desired, live(entry(PLATFORM, ADMIN), entry(ONCALL, ADMIN))).is_empty


def test_a_grant_revoked_early_ends_now() -> None:
    early = grant(minutes=60, created_entry=True, ended_early_at=NOW, ended_early_by="bob")
    assert early.state(NOW) == "ending"
    assert desired_state(baseline(), [early], NOW).baseline.ending[0].delete_entry


def test_a_revoked_grant_is_over() -> None:
    done = grant(minutes=-5, created_entry=True, revoked_at=NOW - timedelta(minutes=1), status="ended")
    desired = desired_state(baseline(), [done], NOW)
    assert desired.baseline == baseline() and desired.ending == ()


def test_ending_an_admin_grant_needs_a_working_baseline_admin() -> None:
    # given the grant's holder is the only admin left (the baseline's admin has no entry)
    ended = grant(minutes=-1, created_entry=True)
    desired = desired_state(baseline(), [ended], NOW).baseline
    state = replace(live(entry(ONCALL, ADMIN)), missing_principals=frozenset({PLATFORM}))
    # when / then its revocation is held back, with the reason, until an admin of the baseline works
    result = plan(desired, state)
    assert result.actions == ()
    assert result.refusals[0].startswith(f"not deleting {ONCALL} (it holds cluster admin)")


def test_a_forged_grant_ended_deletion_is_refused() -> None:
    desired = baseline()
    forged = Plan("payments", "eu-west-1", (DeleteEntry(DEV, "grant-ended"),))
    reviewed = safety.review(desired, live(entry(PLATFORM, ADMIN), entry(DEV)), forged)
    assert reviewed.actions == () and "no ended grant made its entry" in reviewed.refusals[0]


def test_grants_of_other_clusters_are_ignored() -> None:
    other = grant(cluster="orders")
    assert desired_state(baseline(), [other], NOW).baseline == baseline()


# --- a grant only adds ------------------------------------------------------------------------------------


def own_entry(*policies: PolicyAssociation) -> LiveEntry:
    """The on-call principal's entry from outside the baseline: its own username, groups and View policy."""
    return LiveEntry(ONCALL, "STANDARD", "oncall-own", ("ops",), tuple(policies), principal_status="ok")


def test_a_grant_on_an_entry_of_its_own_adds_its_policy_and_changes_nothing_else() -> None:
    view = PolicyAssociation(VIEW, ns("ops"))
    desired = desired_state(baseline(), [grant()], NOW).baseline
    result = plan(desired, live(entry(PLATFORM, ADMIN), own_entry(view)))
    assert result.actions == (AssociatePolicy(ONCALL, ADMIN),)


def test_its_end_takes_back_only_its_policy_leaving_the_entry_as_it_was() -> None:
    view = PolicyAssociation(VIEW, ns("ops"))
    ended = grant(minutes=-1)  # the entry was there: created_entry False
    desired = desired_state(baseline(), [ended], NOW).baseline
    result = plan(desired, live(entry(PLATFORM, ADMIN), own_entry(view, ADMIN)))
    assert result.actions == (DisassociatePolicy(ONCALL, ADMIN_POLICY_ARN),)


def test_a_widened_scope_goes_back_to_what_it_was_when_the_grant_ends() -> None:
    before = ns("ops")
    ended = grant(policy=VIEW, minutes=-1, scope_before=before)
    desired = desired_state(baseline(), [ended], NOW).baseline
    result = plan(desired, live(entry(PLATFORM, ADMIN), own_entry(PolicyAssociation(VIEW, AccessScope()))))
    assert result.actions == (
        AssociatePolicy(ONCALL, PolicyAssociation(VIEW, before), before_scope=AccessScope()),
    )


def test_a_grant_being_given_by_a_run_that_died_is_taken_back() -> None:
    stale = grant(created_entry=True, status="requested", grant_id="stale")
    desired = desired_state(baseline(), [stale], NOW)
    assert desired.holding == () and desired.ending == (stale,)
    mine = desired_state(baseline(), [stale], NOW, giving="stale")
    assert mine.holding == (stale,)


def test_a_grant_on_a_config_map_cluster_asks_for_access_entries() -> None:
    b = replace(baseline(), authentication_mode=None)
    assert desired_state(b, [grant()], NOW).baseline.authentication_mode == "API_AND_CONFIG_MAP"
    assert desired_state(b, [], NOW).baseline.authentication_mode is None


def test_on_a_detect_only_cluster_only_the_grants_own_work_is_kept() -> None:
    drifted = baseline(EntrySpec(PLATFORM, policies=(ADMIN,)), EntrySpec(DEV, kubernetes_groups=("dev",)))
    ended = grant(principal=DEV, policy=VIEW, minutes=-1, grant_id="old")
    desired = desired_state(drifted, [grant(), ended], NOW)
    state = live(entry(PLATFORM, ADMIN), entry(DEV, PolicyAssociation(VIEW, AccessScope())))
    actions = plan(desired.baseline, state).actions
    kept = grant_work(desired, actions)
    assert CreateEntry(EntrySpec(ONCALL, policies=(ADMIN,), only_adds=True)) in kept
    assert DisassociatePolicy(DEV, VIEW) in kept
    assert not any(isinstance(a, UpdateEntry) for a in kept)  # DEV's groups: the baseline's drift, not ours
    assert any(isinstance(a, UpdateEntry) for a in actions)


def test_the_live_state_says_whether_a_grant_holds_and_whether_it_is_taken_back() -> None:
    g = grant(policy=VIEW, scope=ns("a"))
    assert holds(g, live(own_entry(PolicyAssociation(VIEW, AccessScope()))))
    assert not holds(g, live(own_entry(PolicyAssociation(VIEW, ns("b")))))
    ended = grant(policy=VIEW, minutes=-1, scope_before=ns("ops"))
    desired = desired_state(baseline(), [ended], NOW).baseline
    assert not taken_back(ended, desired, live(own_entry(PolicyAssociation(VIEW, AccessScope()))))
    assert taken_back(ended, desired, live(own_entry(PolicyAssociation(VIEW, ns("ops")))))
