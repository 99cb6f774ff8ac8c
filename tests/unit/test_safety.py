"""The safety module, one rule at a time (pure). The oracle-judged versions of these stories, against the
emulator, are in tests/functional/test_lockouts.py and test_safety_properties.py."""

from __future__ import annotations

from typing import Any

import pytest
from access_guard.core import safety
from access_guard.core.model import (
    AccessScope,
    Action,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    EntrySpec,
    GuardSettings,
    LiveEntry,
    LiveState,
    Plan,
    PolicyAssociation,
    UpdateEntry,
    UpgradeMode,
)
from access_guard.core.planner import plan
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX
from access_guard.core.principals import default_username

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
ADMIN = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope())
PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/platform/admins"
BACKUP = f"arn:aws:iam::{ACCOUNT}:role/backup-admins"
ROGUE = f"arn:aws:iam::{ACCOUNT}:user/mallory"
VIEWER = f"arn:aws:iam::{ACCOUNT}:role/viewers"
PARTNER = f"arn:aws:iam::{OTHER_ACCOUNT}:role/partner-admins"


def desired(*specs: EntrySpec, mode: Any = "API_AND_CONFIG_MAP", **settings: Any) -> Baseline:
    return Baseline("payments", "us-east-1", mode, specs, GuardSettings(**settings))


def admin(arn: str = PLATFORM) -> EntrySpec:
    return EntrySpec(arn, policies=(ADMIN,))


def viewer() -> EntrySpec:
    return EntrySpec(VIEWER, policies=(PolicyAssociation(VIEW, AccessScope.of("namespace", ["apps"])),))


def entry(arn: str, *policies: PolicyAssociation, status: Any = "ok", type_: str = "STANDARD") -> LiveEntry:
    return LiveEntry(arn, type_, default_username(arn), (), tuple(policies), principal_status=status)


def live(*entries: LiveEntry, mode: Any = "API_AND_CONFIG_MAP", **fields: Any) -> LiveState:
    return LiveState("payments", "us-east-1", ACCOUNT, mode, {e.principal_arn: e for e in entries}, **fields)


def reviewed(b: Baseline, state: LiveState, *actions: Action) -> Plan:
    return safety.review(b, state, Plan("payments", "us-east-1", actions))


# --- what counts as removing an admin path ---------------------------------------------------------------

REMOVALS = [
    ("delete an admin entry", DeleteEntry(ROGUE, "not-in-baseline"), True),
    ("change an admin entry's type", DeleteEntry(ROGUE, "type-changed"), True),
    ("disassociate the admin policy", DisassociatePolicy(ROGUE, ADMIN_POLICY_ARN), True),
    (
        "narrow the admin policy to a namespace",
        AssociatePolicy(ROGUE, PolicyAssociation(ADMIN_POLICY_ARN, AccessScope.of("namespace", ["a"]))),
        True,
    ),
    ("move to API", UpgradeMode("API_AND_CONFIG_MAP", "API"), True),
    ("move to API_AND_CONFIG_MAP", UpgradeMode("CONFIG_MAP", "API_AND_CONFIG_MAP"), False),
    ("disassociate another policy", DisassociatePolicy(ROGUE, VIEW), False),
    ("update the username", UpdateEntry(ROGUE, "x", ()), False),
    ("associate a policy", AssociatePolicy(ROGUE, PolicyAssociation(VIEW, AccessScope())), False),
    ("create an entry that grants no admin while aws-auth counts", CreateEntry(EntrySpec(BACKUP)), True),
    ("create an entry that grants admin", CreateEntry(admin(BACKUP)), False),
]


@pytest.mark.parametrize(("what", "action", "removes"), REMOVALS, ids=[r[0] for r in REMOVALS])
def test_what_removes_an_admin_path(what: str, action: Action, removes: bool) -> None:
    state = live(entry(ROGUE, ADMIN, PolicyAssociation(VIEW, AccessScope())))
    assert safety.removes_admin_path(action, state) is removes


def test_in_api_mode_creating_an_entry_removes_no_path() -> None:
    # aws-auth and the creator's hidden admin count for nothing in API mode: an entry takes nothing away
    assert not safety.removes_admin_path(CreateEntry(EntrySpec(BACKUP)), live(mode="API"))


def test_deleting_an_entry_bound_to_a_dead_identity_removes_no_path() -> None:
    for status in ("missing", "recreated"):
        state = live(entry(ROGUE, ADMIN, status=status))
        assert not safety.removes_admin_path(DeleteEntry(ROGUE, "not-in-baseline"), state)


def test_deleting_an_admin_entry_whose_principal_cannot_be_confirmed_removes_a_path() -> None:
    state = live(entry(PARTNER, ADMIN, status="unknown"))
    assert safety.removes_admin_path(DeleteEntry(PARTNER, "not-in-baseline"), state)


# --- the verifier: a baseline admin working now ----------------------------------------------------------


def test_a_principal_that_cannot_be_confirmed_never_verifies() -> None:
    # given the only baseline admin is another account's role: IAM here cannot see it
    b = desired(admin(PARTNER), prune=True)
    state = live(entry(PARTNER, ADMIN, status="unknown"), entry(ROGUE, ADMIN))
    # when / then the local admin is not pruned on its strength
    result = plan(b, state)
    assert result.actions == ()
    assert "cannot be confirmed to exist" in result.refusals[0]


def test_an_entry_bound_to_a_recreated_principal_never_verifies() -> None:
    b = desired(admin(), prune=True)
    state = live(entry(PLATFORM, ADMIN, status="recreated"), entry(ROGUE, ADMIN))
    assert safety.verified_admins(b, state) == frozenset()


def test_an_admin_policy_scoped_to_namespaces_does_not_verify() -> None:
    scoped = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope.of("namespace", ["kube-system"]))
    assert safety.verified_admins(desired(admin()), live(entry(PLATFORM, scoped))) == frozenset()


def test_a_working_baseline_admin_verifies() -> None:
    assert safety.verified_admins(desired(admin()), live(entry(PLATFORM, ADMIN))) == {PLATFORM}


def test_the_entry_being_removed_cannot_verify_its_own_removal() -> None:
    # given the baseline wants its only admin as a node entry: the type change deletes it
    b = desired(EntrySpec(PLATFORM, type="EC2_LINUX"), admin(BACKUP))
    state = live(entry(PLATFORM, ADMIN))
    # when
    result = reviewed(b, state, DeleteEntry(PLATFORM, "type-changed"), CreateEntry(b.entries[0]))
    # then neither the delete nor the create that would follow it runs
    assert result.actions == ()
    assert result.refusals[0].startswith(f"not changing the type of {PLATFORM}")


# --- the lockouts the issue names ------------------------------------------------------------------------


def test_no_move_to_api_while_the_only_admins_are_in_aws_auth() -> None:
    # given a cluster whose only admin is an aws-auth role (invisible to the EKS API), and a baseline that
    # wants API with a view-only entry
    b = desired(viewer(), mode="API")
    state = live(mode="API_AND_CONFIG_MAP")
    # when
    result = plan(b, state)
    # then nothing is done: the mode move would end the aws-auth admin's path, and the viewer's entry
    # would take the place of its own aws-auth mapping, which may be an admin one
    assert result.actions == ()
    assert result.refusals[-1] == (
        "not moving the authentication mode to API (it ends every aws-auth and cluster-creator path): the "
        "baseline names no cluster admin, so none can be verified working first (name one)"
    )
    assert result.refusals[0].startswith(f"not creating the entry of {VIEWER} yet")


def test_entries_that_grant_no_admin_are_created_once_a_baseline_admin_works() -> None:
    b = desired(admin(), viewer())
    assert CreateEntry(viewer()) in plan(b, live(entry(PLATFORM, ADMIN))).actions


def test_the_baseline_admins_come_first_with_their_policy_right_after() -> None:
    # the EKS API creates an entry without policies: an admin moving from aws-auth into its entry has none
    # between the two calls, so they run back to back, before anything else
    b = desired(viewer(), admin())
    actions = plan(b, live(mode="API_AND_CONFIG_MAP")).actions
    assert actions[:2] == (CreateEntry(admin()), AssociatePolicy(PLATFORM, ADMIN))


def test_no_move_to_api_when_the_baseline_admin_cannot_be_created() -> None:
    b = desired(admin(), mode="API")
    result = plan(b, live(missing_principals=frozenset({PLATFORM})))
    assert result.actions == ()
    assert f"{PLATFORM} no longer exists in IAM" in result.refusals[0]


def test_the_move_to_api_is_planned_after_the_admin_the_plan_creates() -> None:
    b = desired(admin(), mode="API")
    assert plan(b, live()).actions[-1] == UpgradeMode("API_AND_CONFIG_MAP", "API")


def test_the_gate_refuses_the_move_to_api_until_the_admin_is_seen_working() -> None:
    b = desired(admin(), mode="API")
    step = [UpgradeMode("API_AND_CONFIG_MAP", "API")]
    allowed, refusals = safety.gate(b, live(), step)
    assert allowed == () and refusals
    allowed, refusals = safety.gate(b, live(entry(PLATFORM, ADMIN)), step)
    assert allowed == tuple(step) and refusals == ()


def test_a_type_change_of_the_only_admin_is_refused() -> None:
    # given the only admin listed in the baseline as a node entry
    b = desired(EntrySpec(PLATFORM, type="EC2_LINUX"))
    state = live(entry(PLATFORM, ADMIN))
    # when / then nothing is deleted or created
    result = plan(b, state)
    assert result.actions == ()
    assert result.refusals[0].startswith(f"not changing the type of {PLATFORM}")


def test_a_type_change_of_an_entry_that_holds_no_admin_goes_ahead() -> None:
    b = desired(admin(), EntrySpec(VIEWER, type="EC2_LINUX"))
    state = live(entry(PLATFORM, ADMIN), entry(VIEWER))
    assert plan(b, state).actions == (DeleteEntry(VIEWER, "type-changed"), CreateEntry(b.entries[1]))


def test_disassociating_the_only_admins_policy_is_refused() -> None:
    b = desired(EntrySpec(ROGUE), prune=True)
    result = plan(b, live(entry(ROGUE, ADMIN)))
    assert result.actions == ()
    assert result.refusals[0].startswith(f"not disassociating AmazonEKSClusterAdminPolicy from {ROGUE}")


def test_narrowing_the_only_admins_policy_to_a_namespace_is_refused() -> None:
    scoped = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope.of("namespace", ["ops"]))
    b = desired(EntrySpec(ROGUE, policies=(scoped,)))
    result = plan(b, live(entry(ROGUE, ADMIN)))
    assert result.actions == ()
    assert result.refusals[0].startswith(f"not narrowing AmazonEKSClusterAdminPolicy on {ROGUE}")


def test_node_entries_are_never_pruned_unless_the_baseline_names_them() -> None:
    node = entry(f"arn:aws:iam::{ACCOUNT}:role/nodes", type_="EC2_LINUX")
    b = desired(admin(), prune=True)
    assert plan(b, live(entry(PLATFORM, ADMIN), node)).is_empty
    forged = reviewed(
        b, live(entry(PLATFORM, ADMIN), node), DeleteEntry(node.principal_arn, "not-in-baseline")
    )
    assert forged.actions == () and "node entry" in forged.refusals[0]


# --- what stays possible ---------------------------------------------------------------------------------


def test_a_rogue_admin_is_pruned_while_a_baseline_admin_works() -> None:
    b = desired(admin(), prune=True)
    result = plan(b, live(entry(PLATFORM, ADMIN), entry(ROGUE, ADMIN)))
    assert result.actions == (DeleteEntry(ROGUE, "not-in-baseline"),)


def test_the_move_to_api_goes_ahead_while_a_baseline_admin_works() -> None:
    b = desired(admin(), mode="API")
    assert plan(b, live(entry(PLATFORM, ADMIN))).actions == (UpgradeMode("API_AND_CONFIG_MAP", "API"),)


def test_a_refused_removal_leaves_the_rest_of_the_plan() -> None:
    # given no verifier, a rogue admin to prune and a viewer to create
    b = desired(viewer(), prune=True, mode="API")
    result = plan(b, live(entry(ROGUE, ADMIN), mode="API"))
    assert CreateEntry(viewer()) in result.actions
    assert DeleteEntry(ROGUE, "not-in-baseline") not in result.actions
    assert len(result.refusals) == 1


def test_every_refusal_is_one_line() -> None:
    b = desired(EntrySpec(PLATFORM, type="EC2_LINUX"), viewer(), mode="API", prune=True)
    result = plan(b, live(entry(PLATFORM, ADMIN), entry(ROGUE, ADMIN)))
    assert len(result.refusals) >= 3
    assert all("\n" not in r for r in result.refusals)


# --- prune rules -----------------------------------------------------------------------------------------


def test_a_forged_prune_is_refused_when_pruning_is_off() -> None:
    result = reviewed(desired(admin()), live(entry(VIEWER)), DeleteEntry(VIEWER, "not-in-baseline"))
    assert result.actions == () and "pruning is off" in result.refusals[0]


def test_a_forged_prune_of_a_baseline_entry_is_refused() -> None:
    b = desired(admin(), viewer(), prune=True)
    result = reviewed(b, live(entry(VIEWER)), DeleteEntry(VIEWER, "not-in-baseline"))
    assert result.actions == () and "the baseline names it" in result.refusals[0]


def test_a_targeted_read_cannot_verify_with_what_it_did_not_read() -> None:
    # given a targeted read of the rogue only: the baseline admin was not read
    b = desired(admin(), prune=True)
    state = live(entry(ROGUE, ADMIN), only_principals=frozenset({ROGUE}))
    # then the plan may keep the deletion (the gate reads the admin before it runs) but the gate refuses it
    assert plan(b, state).actions == (DeleteEntry(ROGUE, "not-in-baseline"),)
    allowed, refusals = safety.gate(b, state, [DeleteEntry(ROGUE, "not-in-baseline")])
    assert allowed == () and "was not read" in refusals[0]
