"""IAM Identity Center permission sets: names, validation, resolution, capture, the planned move. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from access_guard.core import baseline as documents
from access_guard.core import identity_center
from access_guard.core.describe import describe, touched_admins
from access_guard.core.model import (
    AccessScope,
    AssociatePolicy,
    CreateEntry,
    DeleteEntry,
    EntrySpec,
    LiveEntry,
    LiveState,
    PolicyAssociation,
)
from access_guard.core.planner import plan
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX
from access_guard.core.principals import default_username
from access_guard.core.safety import gate, needs_gate, to_reread

ACCOUNT = "123456789012"
OTHER = "210987654321"
OLD = identity_center.role_arn(ACCOUNT, "PlatformAdmins", "0123456789abcdef")
NEW = identity_center.role_arn(ACCOUNT, "PlatformAdmins", "fedcba9876543210", region="eu-west-1")
VIEWERS = identity_center.role_arn(ACCOUNT, "Viewers", "00000000000000aa")
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
ADMIN = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope())
T0 = datetime(2026, 1, 1, tzinfo=UTC)

DOCUMENT = f"""
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {{name: payments, region: us-east-1}}
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
accessGuard:
  identityCenter:
    - permissionSet: PlatformAdmins
      accessPolicies:
        - policyARN: {ADMIN_POLICY_ARN}
          accessScope: {{type: cluster}}
      kubernetesGroups: []
"""


def problems(text: str) -> list[str]:
    return [str(p) for p in documents.validate(documents.parse_text(text))]


# --- names ---------------------------------------------------------------------------------------------


def test_a_role_under_the_identity_center_path_names_its_permission_set_with_or_without_a_region() -> None:
    assert identity_center.permission_set_of(OLD) == "PlatformAdmins"
    assert identity_center.permission_set_of(NEW) == "PlatformAdmins"
    path = "role/aws-reserved/sso.amazonaws.com/"
    assert f"arn:aws:iam::{ACCOUNT}:{path}AWSReservedSSO_PlatformAdmins_0123456789abcdef" == OLD
    assert "/sso.amazonaws.com/eu-west-1/AWSReservedSSO_" in NEW


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_PlatformAdmins_0123456789abcdef",  # not under the path
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PlatformAdmins_0123",
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/PlatformAdmins_0123456789abcdef",
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/a/b/AWSReservedSSO_X_0123456789abcdef",
        f"arn:aws:iam::{ACCOUNT}:user/aws-reserved/sso.amazonaws.com/AWSReservedSSO_X_0123456789abcdef",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_X_0123456789abcdef/alice",
    ],
)
def test_anything_else_is_no_permission_set_role(arn: str) -> None:
    assert identity_center.permission_set_of(arn) is None


def test_a_permission_set_name_may_hold_underscores_the_suffix_is_the_last_16_hex() -> None:
    arn = identity_center.role_arn(ACCOUNT, "Team_A_Admins", "abcdefabcdefabcd")
    assert identity_center.permission_set_of(arn) == "Team_A_Admins"


def test_the_account_filter_keeps_other_accounts_roles_out() -> None:
    theirs = identity_center.role_arn(OTHER, "PlatformAdmins", "0123456789abcdef")
    assert identity_center.permission_set_of(theirs, ACCOUNT) is None
    assert identity_center.candidates("PlatformAdmins", [theirs, OLD], ACCOUNT) == [OLD]


# --- validation ------------------------------------------------------------------------------------------


def test_a_baseline_naming_a_permission_set_is_valid_and_round_trips() -> None:
    baseline = documents.load(DOCUMENT)
    assert [s.name for s in baseline.permission_sets] == ["PlatformAdmins"]
    assert baseline.permission_sets[0].policies == (ADMIN,)
    again = documents.load(documents.dump(baseline))
    assert again.permission_sets == baseline.permission_sets


def test_unknown_fields_a_set_named_twice_and_names_identity_center_refuses_are_each_reported() -> None:
    text = DOCUMENT + (
        "    - permissionSet: PlatformAdmins\n"
        "    - permissionSet: 'Platform Admins'\n"
        "    - permissionSet: ThisNameIsLongerThanThirtyTwoChars\n"
        "    - permissionSet: Viewers\n"
        "      principalARN: arn:aws:iam::123456789012:role/x\n"
        "      kubernetesGroups: ['system:masters']\n"
    )
    found = problems(text)
    assert any(
        "identityCenter[1].permissionSet: permission set PlatformAdmins is named twice" in p for p in found
    )
    assert any("identityCenter[2].permissionSet" in p and "not a permission-set name" in p for p in found)
    assert any("identityCenter[3].permissionSet" in p and "at most 32" in p for p in found)
    assert any("identityCenter[4].principalARN: unknown field" in p for p in found)
    assert any("identityCenter[4].kubernetesGroups[0]" in p and "system:" in p for p in found)
    assert len(found) == 5


def test_a_permission_sets_role_named_in_access_entries_too_is_refused() -> None:
    text = DOCUMENT.replace(
        "  authenticationMode: API_AND_CONFIG_MAP\n",
        f"  authenticationMode: API_AND_CONFIG_MAP\n  accessEntries:\n    - principalARN: {OLD}\n",
    )
    found = problems(text)
    assert found and "accessEntries[0].principalARN" in found[0] and "PlatformAdmins" in found[0]


def test_a_permission_set_in_config_map_mode_is_refused() -> None:
    found = problems(DOCUMENT.replace("API_AND_CONFIG_MAP", "CONFIG_MAP"))
    assert len(found) == 1 and "CONFIG_MAP cannot have accessGuard.identityCenter" in found[0]


# --- resolution ------------------------------------------------------------------------------------------


def test_one_role_resolves_the_set_and_its_entry_lives_on_that_arn() -> None:
    resolved = identity_center.resolve(documents.load(DOCUMENT), [OLD, VIEWERS], ACCOUNT)
    assert resolved.resolved == (("PlatformAdmins", OLD),)
    assert resolved.entries == (EntrySpec(OLD, policies=(ADMIN,), permission_set="PlatformAdmins"),)
    assert resolved.unresolved == ()


def test_no_role_is_a_refused_step_with_the_reason() -> None:
    resolved = identity_center.resolve(documents.load(DOCUMENT), [VIEWERS], ACCOUNT)
    assert resolved.entries == () and resolved.resolved == ()
    assert resolved.unresolved[0].startswith("PlatformAdmins: no role AWSReservedSSO_PlatformAdmins_<16 hex>")
    live = LiveState("payments", "us-east-1", ACCOUNT, "API_AND_CONFIG_MAP", {})
    assert plan(resolved, live).refusals == resolved.unresolved


def test_several_roles_is_a_refused_step_never_a_guess() -> None:
    resolved = identity_center.resolve(documents.load(DOCUMENT), [OLD, NEW], ACCOUNT)
    assert resolved.entries == ()
    assert resolved.unresolved[0].startswith(f"PlatformAdmins: 2 roles in account {ACCOUNT} ({OLD}, {NEW})")


def test_a_baseline_without_permission_sets_is_left_as_it_is() -> None:
    text = DOCUMENT.split("accessGuard:")[0]
    baseline = documents.load(text)
    assert identity_center.resolve(baseline, [OLD], ACCOUNT) is baseline


def test_dumping_a_resolved_baseline_writes_the_set_not_the_arn() -> None:
    resolved = identity_center.resolve(documents.load(DOCUMENT), [OLD], ACCOUNT)
    text = documents.dump(resolved)
    assert OLD not in text and "permissionSet: PlatformAdmins" in text


def test_widen_adds_the_resolved_role_to_a_run_about_the_sets_old_role() -> None:
    resolved = identity_center.resolve(documents.load(DOCUMENT), [NEW], ACCOUNT)
    assert identity_center.widen(resolved, [OLD]) == {OLD, NEW}
    assert identity_center.widen(resolved, [VIEWERS]) == {VIEWERS}


def test_the_entries_a_sweep_must_look_at_are_a_named_sets_roles_other_than_its_resolved_one() -> None:
    baseline = documents.load(DOCUMENT)
    other_account = identity_center.role_arn(OTHER, "PlatformAdmins", "1111111111111111")
    listed = [OLD, NEW, VIEWERS, other_account, f"arn:aws:iam::{ACCOUNT}:role/platform"]
    # re-provisioned: the old role's entry (Viewers is no set of this baseline, the other account's role
    # is not the cluster's, a plain role is no set's)
    moved = identity_center.resolve(baseline, [NEW, VIEWERS], ACCOUNT)
    assert identity_center.unresolved_entries(moved, listed, ACCOUNT) == [OLD]
    # at its baseline: nothing
    assert identity_center.unresolved_entries(moved, [NEW, VIEWERS], ACCOUNT) == []
    # no role, or several: every entry of the set's roles (the run says why it cannot move it)
    for roles in ([VIEWERS], [OLD, NEW]):
        unresolved = identity_center.resolve(baseline, roles, ACCOUNT)
        assert identity_center.unresolved_entries(unresolved, listed, ACCOUNT) == sorted([OLD, NEW])


# --- the move, planned -----------------------------------------------------------------------------


def entry(arn: str, *policies: PolicyAssociation, status: str = "ok") -> LiveEntry:
    return LiveEntry(arn, "STANDARD", default_username(arn), (), policies, T0, status)  # type: ignore[arg-type]


def live_of(*entries: LiveEntry) -> LiveState:
    return LiveState(
        "payments", "us-east-1", ACCOUNT, "API_AND_CONFIG_MAP", {e.principal_arn: e for e in entries}
    )


def test_a_reprovisioned_set_creates_the_new_entry_then_deletes_the_old_one_last() -> None:
    desired = identity_center.resolve(documents.load(DOCUMENT), [NEW], ACCOUNT)
    the_plan = plan(desired, live_of(entry(OLD, ADMIN, status="missing")))
    assert [type(a).__name__ for a in the_plan.actions] == ["CreateEntry", "AssociatePolicy", "DeleteEntry"]
    move = the_plan.actions[-1]
    assert isinstance(move, DeleteEntry) and move.reason == "permission-set-moved"
    assert describe(move) == f"delete access entry {OLD} (PlatformAdmins moved from {OLD} to {NEW})"
    assert "permission set PlatformAdmins" in describe(the_plan.actions[0])
    assert touched_admins([move], live_of(entry(OLD, ADMIN, status="missing"))) == []


def test_the_gate_holds_the_old_entry_until_the_new_one_is_verified_live() -> None:
    desired = identity_center.resolve(documents.load(DOCUMENT), [NEW], ACCOUNT)
    move = DeleteEntry(OLD, "permission-set-moved", permission_set="PlatformAdmins", moved_to=NEW)
    before = live_of(entry(OLD, ADMIN, status="missing"))
    assert needs_gate([move], before)
    assert to_reread(desired, before) == [NEW]
    for live in (
        before,  # not created yet
        live_of(entry(OLD, ADMIN, status="missing"), entry(NEW)),  # created, no policy yet
        live_of(
            entry(OLD, ADMIN, status="missing"),
            entry(NEW, PolicyAssociation(ADMIN_POLICY_ARN, AccessScope.of("namespace", ["a"]))),
        ),
        live_of(entry(OLD, ADMIN, status="missing"), entry(NEW, ADMIN, status="recreated")),
    ):
        allowed, refusals = gate(desired, live, [move])
        assert allowed == () and refusals[0].startswith(f"not moving PlatformAdmins from {OLD} to {NEW} yet")
    allowed, refusals = gate(desired, live_of(entry(OLD, ADMIN, status="missing"), entry(NEW, ADMIN)), [move])
    assert allowed == (move,) and refusals == ()


def test_an_unresolved_sets_old_entry_is_never_pruned() -> None:
    desired = identity_center.resolve(
        documents.load(DOCUMENT.replace("  identityCenter:", "  prune: true\n  identityCenter:")),
        [OLD, NEW],
        ACCOUNT,
    )
    the_plan = plan(desired, live_of(entry(OLD, ADMIN), entry(NEW)))
    assert the_plan.actions == ()
    assert the_plan.refusals[0].startswith("PlatformAdmins: 2 roles")


# --- capture ---------------------------------------------------------------------------------------


def test_capture_writes_the_permission_set_form_and_keep_arns_keeps_the_arn() -> None:
    live = live_of(entry(OLD, ADMIN), entry(VIEWERS, PolicyAssociation(VIEW, AccessScope())))
    document = documents.capture_document(live)
    assert "accessEntries" not in document.get("accessConfig", {})
    assert [s["permissionSet"] for s in document["accessGuard"]["identityCenter"]] == [
        "PlatformAdmins",
        "Viewers",
    ]
    assert documents.validate(document) == []
    kept = documents.capture_document(live, keep_arns=True)
    assert [e["principalARN"] for e in kept["accessConfig"]["accessEntries"]] == [OLD, VIEWERS]
    assert "identityCenter" not in kept["accessGuard"]


def test_capture_keeps_two_entries_of_one_set_as_arns() -> None:
    live = live_of(entry(OLD, ADMIN), entry(NEW, ADMIN))
    document = documents.capture_document(live)
    assert [e["principalARN"] for e in document["accessConfig"]["accessEntries"]] == [OLD, NEW]
    assert "identityCenter" not in document["accessGuard"]


def test_the_plan_associates_the_sets_policies_on_the_resolved_arn() -> None:
    desired = identity_center.resolve(documents.load(DOCUMENT), [NEW], ACCOUNT)
    actions = plan(desired, live_of()).actions
    assert actions[0] == CreateEntry(desired.entries[0])
    assert actions[1] == AssociatePolicy(NEW, ADMIN)


# --- on-call settings ------------------------------------------------------------------------------------


def test_on_call_permission_sets_are_read_and_a_bad_name_is_one_clear_problem() -> None:
    from access_guard.core.config import Config, ConfigError, Env

    config = Config.from_env({Env.ONCALL_PERMISSION_SETS: "PagerDuty, Restorers"})
    assert config.oncall_permission_sets == ("PagerDuty", "Restorers")
    with pytest.raises(ConfigError) as raised:
        Config.from_env({Env.ONCALL_PERMISSION_SETS: "PagerDuty,On Call"})
    assert raised.value.problems == [
        f"{Env.ONCALL_PERMISSION_SETS}: 'On Call' is not a permission-set name Identity Center allows "
        "(1-32 letters, digits and +=,.@_-)"
    ]
