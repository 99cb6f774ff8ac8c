"""The planner, one behaviour at a time (the properties in test_planner_properties.py cover the rest)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from access_guard.core.model import (
    AccessScope,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    EntrySpec,
    GuardSettings,
    KeepRule,
    LiveEntry,
    LiveState,
    PolicyAssociation,
    UpdateEntry,
    UpgradeMode,
)
from access_guard.core.planner import plan
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX
from access_guard.core.principals import default_username
from access_guard.core.safety import grants_admin

ACCOUNT = "123456789012"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
EDIT = POLICY_ARN_PREFIX + "AmazonEKSEditPolicy"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform/admins"
DEV_ROLE = f"arn:aws:iam::{ACCOUNT}:role/developers"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/karpenter-node"
ROGUE = f"arn:aws:iam::{ACCOUNT}:user/mallory"
CLUSTER_WIDE = AccessScope()
ADMIN = PolicyAssociation(ADMIN_POLICY_ARN, CLUSTER_WIDE)


def ns(*names: str) -> AccessScope:
    return AccessScope.of("namespace", names)


def admin_spec(arn: str = ADMIN_ROLE) -> EntrySpec:
    return EntrySpec(arn, policies=(ADMIN,))


def dev_spec(**fields: Any) -> EntrySpec:
    values: dict[str, Any] = {
        "kubernetes_groups": ("developers",),
        "policies": (PolicyAssociation(VIEW, ns("apps")),),
    }
    values.update(fields)
    return EntrySpec(DEV_ROLE, **values)


def make_baseline(*entries: EntrySpec, mode: Any = "API_AND_CONFIG_MAP", **settings: Any) -> Baseline:
    return Baseline("payments", "us-east-1", mode, entries, GuardSettings(**settings))


def live_of(spec: EntrySpec, **fields: Any) -> LiveEntry:
    """The live entry exactly as the spec wants it (then changed by `fields`)."""
    values: dict[str, Any] = {
        "principal_arn": spec.principal_arn,
        "type": spec.type,
        "username": spec.username or default_username(spec.principal_arn),
        "kubernetes_groups": spec.kubernetes_groups,
        "policies": spec.policies,
        "principal_status": "ok",
    }
    if spec.type != "STANDARD":
        values.update(username="system:node:{{EC2PrivateDNSName}}", kubernetes_groups=("system:nodes",))
    values.update(fields)
    return LiveEntry(**values)


def rogue_admin(arn: str = ROGUE, **fields: Any) -> LiveEntry:
    return LiveEntry(
        arn, "STANDARD", arn, (), (ADMIN,), principal_status=fields.pop("principal_status", "ok")
    )


def make_live(*entries: LiveEntry, mode: Any = "API_AND_CONFIG_MAP", **fields: Any) -> LiveState:
    return LiveState("payments", "us-east-1", ACCOUNT, mode, {e.principal_arn: e for e in entries}, **fields)


# --- in sync ---------------------------------------------------------------------------------------------


def test_a_cluster_at_its_baseline_plans_nothing() -> None:
    baseline = make_baseline(admin_spec(), dev_spec(), EntrySpec(NODE_ROLE, type="EC2_LINUX"))
    live = make_live(*(live_of(s) for s in baseline.entries))
    assert plan(baseline, live) == plan(baseline, live) and plan(baseline, live).is_empty


def test_groups_and_namespaces_in_another_order_are_no_drift() -> None:
    spec = dev_spec(kubernetes_groups=("a", "b"), policies=(PolicyAssociation(VIEW, ns("x", "y")),))
    live = make_live(
        live_of(
            spec,
            kubernetes_groups=("b", "a"),
            policies=(PolicyAssociation(VIEW, AccessScope("namespace", ("y", "x"))),),
        )
    )
    assert plan(make_baseline(spec), live).is_empty


def test_a_node_entry_is_only_checked_for_existence_and_type() -> None:
    spec = EntrySpec(NODE_ROLE, type="EC2_LINUX")
    live = make_live(live_of(spec, username="system:node:other", kubernetes_groups=("system:nodes", "extra")))
    assert plan(make_baseline(spec), live).is_empty


# --- creating and changing -------------------------------------------------------------------------------


def test_a_missing_entry_is_created_then_its_policies_associated() -> None:
    spec = dev_spec(policies=(PolicyAssociation(VIEW, ns("apps")), PolicyAssociation(EDIT, ns("dev"))))
    result = plan(make_baseline(spec, mode="API"), make_live(mode="API"))
    assert result.actions == (
        CreateEntry(spec),
        AssociatePolicy(DEV_ROLE, PolicyAssociation(EDIT, ns("dev"))),
        AssociatePolicy(DEV_ROLE, PolicyAssociation(VIEW, ns("apps"))),
    )


def test_a_changed_username_is_set_back() -> None:
    spec = dev_spec(username="dev:{{SessionName}}")
    live = make_live(live_of(spec, username="root-ish"))
    assert plan(make_baseline(spec), live).actions == (
        UpdateEntry(DEV_ROLE, "dev:{{SessionName}}", ("developers",), "root-ish", ("developers",)),
    )


def test_an_omitted_username_means_the_generated_one() -> None:
    spec = dev_spec(username=None)
    live = make_live(live_of(spec, username="custom"))
    (update,) = plan(make_baseline(spec), live).actions
    assert isinstance(update, UpdateEntry)
    assert update.username == f"arn:aws:sts::{ACCOUNT}:assumed-role/developers/{{{{SessionName}}}}"


def test_changed_groups_are_replaced() -> None:
    spec = dev_spec(kubernetes_groups=("developers",))
    live = make_live(live_of(spec, kubernetes_groups=("developers", "cluster-admins")))
    (update,) = plan(make_baseline(spec), live).actions
    assert update == UpdateEntry(
        DEV_ROLE,
        default_username(DEV_ROLE),
        ("developers",),
        default_username(DEV_ROLE),
        ("cluster-admins", "developers"),
    )


def test_a_widened_scope_is_narrowed_back_by_associating_again() -> None:
    spec = dev_spec(policies=(PolicyAssociation(VIEW, ns("apps")),))
    live = make_live(live_of(spec, policies=(PolicyAssociation(VIEW, CLUSTER_WIDE),)))
    assert plan(make_baseline(spec), live).actions == (
        AssociatePolicy(DEV_ROLE, PolicyAssociation(VIEW, ns("apps")), before_scope=CLUSTER_WIDE),
    )


def test_an_extra_policy_is_disassociated() -> None:
    spec = dev_spec()
    live = make_live(live_of(admin_spec()), live_of(spec, policies=(*spec.policies, ADMIN)))
    result = plan(make_baseline(admin_spec(), spec), live)
    assert result.actions == (DisassociatePolicy(DEV_ROLE, ADMIN_POLICY_ARN),)


def test_a_removed_policy_is_associated_again() -> None:
    spec = dev_spec()
    live = make_live(live_of(spec, policies=()))
    assert plan(make_baseline(spec), live).actions == (AssociatePolicy(DEV_ROLE, spec.policies[0]),)


def test_an_entry_of_the_wrong_type_is_deleted_and_created_again() -> None:
    spec = EntrySpec(NODE_ROLE, type="EC2_LINUX")
    live = make_live(LiveEntry(NODE_ROLE, "STANDARD", "x", (), (), principal_status="ok"), mode="API")
    assert plan(make_baseline(spec, mode="API"), live).actions == (
        DeleteEntry(NODE_ROLE, "type-changed", "STANDARD"),
        CreateEntry(spec),
    )


def test_an_entry_bound_to_a_recreated_principal_is_deleted_and_created_again() -> None:
    spec = admin_spec()
    live = make_live(live_of(spec, principal_status="recreated"))
    assert plan(make_baseline(spec), live).actions == (
        DeleteEntry(ADMIN_ROLE, "principal-recreated", "STANDARD"),
        CreateEntry(spec),
        AssociatePolicy(ADMIN_ROLE, ADMIN),
    )


def test_recreating_is_not_limited_by_max_deletions() -> None:
    spec = admin_spec()
    live = make_live(live_of(spec, principal_status="recreated"))
    result = plan(make_baseline(spec, prune=True, max_deletions=0), live)
    assert DeleteEntry(ADMIN_ROLE, "principal-recreated", "STANDARD") in result.actions
    assert result.refusals == ()


def test_no_entry_is_created_for_a_principal_iam_does_not_know() -> None:
    result = plan(make_baseline(admin_spec()), make_live(missing_principals=frozenset({ADMIN_ROLE})))
    assert result.actions == ()
    assert result.warnings == (f"cannot create the entry for {ADMIN_ROLE}: the IAM principal does not exist",)


def test_an_entry_whose_principal_was_deleted_is_reported_not_changed() -> None:
    spec = dev_spec()
    live = make_live(live_of(spec, kubernetes_groups=(), principal_status="missing"))
    result = plan(make_baseline(spec), live)
    assert result.actions == ()
    assert "bound to a deleted IAM principal" in result.warnings[0]


# --- authentication mode ---------------------------------------------------------------------------------


def test_a_config_map_cluster_gets_entries_first_and_api_mode_last() -> None:
    # given the classic lockout: CONFIG_MAP, creator gone
    spec = admin_spec()
    # when
    result = plan(make_baseline(spec, mode="API"), make_live(mode="CONFIG_MAP"))
    # then the move to API (which ends every aws-auth path) comes after the admin it needs
    assert result.actions == (
        UpgradeMode("CONFIG_MAP", "API_AND_CONFIG_MAP"),
        CreateEntry(spec),
        AssociatePolicy(ADMIN_ROLE, ADMIN),
        UpgradeMode("API_AND_CONFIG_MAP", "API"),
    )


def test_the_mode_never_moves_backward() -> None:
    result = plan(make_baseline(mode="API_AND_CONFIG_MAP"), make_live(mode="API"))
    assert result.is_empty and result.warnings == ()


def test_a_baseline_without_a_mode_leaves_the_mode_alone() -> None:
    assert plan(make_baseline(mode=None), make_live(mode="CONFIG_MAP")).is_empty


def test_no_entry_actions_while_the_cluster_stays_in_config_map() -> None:
    result = plan(make_baseline(admin_spec(), mode=None), make_live(mode="CONFIG_MAP"))
    assert result.actions == ()
    assert "CONFIG_MAP" in result.warnings[0]


def test_an_update_running_on_the_cluster_holds_nothing_back_in_the_plan() -> None:
    # whether an update blocks the mode step is for EKS to say when it is tried (the reconciler then
    # waits, bounded, or leaves it to the next run); entry work never waits for it
    spec = admin_spec()
    result = plan(make_baseline(spec, mode="API"), make_live(update_in_progress=True))
    assert result.actions == (
        CreateEntry(spec),
        AssociatePolicy(ADMIN_ROLE, ADMIN),
        UpgradeMode("API_AND_CONFIG_MAP", "API"),
    )
    assert result.warnings == ()


# --- pruning and its safety rules ------------------------------------------------------------------------


def test_entries_outside_the_baseline_are_left_alone_without_prune() -> None:
    assert plan(make_baseline(admin_spec()), make_live(live_of(admin_spec()), rogue_admin())).is_empty


def test_with_prune_entries_outside_the_baseline_are_deleted_last() -> None:
    spec = dev_spec()
    extra = LiveEntry(f"arn:aws:iam::{ACCOUNT}:role/old", "STANDARD", "old", (), (), principal_status="ok")
    result = plan(make_baseline(admin_spec(), spec, prune=True), make_live(live_of(admin_spec()), extra))
    assert result.actions[-1] == DeleteEntry(extra.principal_arn, "not-in-baseline", "STANDARD")
    assert isinstance(result.actions[0], CreateEntry)


def test_kept_entries_are_never_pruned() -> None:
    node = LiveEntry(NODE_ROLE, "EC2_LINUX", "system:node:x", ("system:nodes",), ())
    fargate = LiveEntry(f"arn:aws:iam::{ACCOUNT}:role/eks-fargate-pods", "FARGATE_LINUX", "n", (), ())
    rules = (KeepRule(type="EC2_LINUX"), KeepRule(principal_arn="arn:aws:iam::*:role/eks-fargate-*"))
    live = make_live(live_of(admin_spec()), node, fargate)
    assert plan(make_baseline(admin_spec(), prune=True, keep=rules), live).is_empty


def test_nothing_is_pruned_from_an_empty_baseline() -> None:
    live = make_live(live_of(admin_spec()), live_of(dev_spec()))
    result = plan(make_baseline(prune=True), live)
    assert result.actions == ()
    assert result.refusals == (
        "not deleting 2 entries: the baseline has no entries, and Guard never prunes from an empty baseline",
    )


def test_more_deletions_than_allowed_deletes_none_of_them() -> None:
    extras = [LiveEntry(f"arn:aws:iam::{ACCOUNT}:role/old-{i}", "STANDARD", "o", (), ()) for i in range(3)]
    result = plan(
        make_baseline(admin_spec(), prune=True, max_deletions=2), make_live(live_of(admin_spec()), *extras)
    )
    assert result.actions == ()
    assert result.refusals[0].startswith(
        "not deleting 3 entries not in the baseline: more than maxDeletions (2) in one run, so none"
    )


def test_deletions_up_to_the_limit_all_go_ahead() -> None:
    extras = [LiveEntry(f"arn:aws:iam::{ACCOUNT}:role/old-{i}", "STANDARD", "o", (), ()) for i in range(2)]
    result = plan(
        make_baseline(admin_spec(), prune=True, max_deletions=2), make_live(live_of(admin_spec()), *extras)
    )
    assert [a.principal_arn for a in result.actions if isinstance(a, DeleteEntry)] == [
        e.principal_arn for e in extras
    ]


def test_a_rogue_admin_is_pruned_when_the_baselines_admin_is_in_place() -> None:
    result = plan(make_baseline(admin_spec(), prune=True), make_live(live_of(admin_spec()), rogue_admin()))
    assert result.actions == (DeleteEntry(ROGUE, "not-in-baseline", "STANDARD"),)


def test_the_last_admin_is_kept_when_the_baselines_admin_cannot_be_created() -> None:
    # given the baseline's admin role was deleted from IAM, and the only admin left is outside the baseline
    live = make_live(rogue_admin(), missing_principals=frozenset({ADMIN_ROLE}))
    # when
    result = plan(make_baseline(admin_spec(), dev_spec(), prune=True), live)
    # then
    assert not any(isinstance(a, DeleteEntry) for a in result.actions)
    assert (
        f"not deleting {ROGUE} (it holds cluster admin): no baseline admin is verified working now "
        f"({ADMIN_ROLE} no longer exists in IAM)"
    ) in result.refusals


def test_a_baseline_without_admins_cannot_prune_the_last_admin() -> None:
    result = plan(make_baseline(dev_spec(), prune=True), make_live(live_of(dev_spec()), rogue_admin()))
    assert result.actions == ()
    assert "the baseline names no cluster admin" in result.refusals[0]


def test_a_baseline_without_admins_never_removes_an_admin_path_even_with_another_left() -> None:
    # only a baseline admin verified working licenses removing an admin path: a kept admin is not one
    kept = rogue_admin(f"arn:aws:iam::{ACCOUNT}:role/break-glass")
    baseline = make_baseline(dev_spec(), prune=True, keep=(KeepRule(principal_arn="*:role/break-glass"),))
    result = plan(baseline, make_live(live_of(dev_spec()), rogue_admin(), kept))
    assert result.actions == ()
    assert result.refusals[0].startswith(f"not deleting {ROGUE} (it holds cluster admin)")


def test_an_admin_entry_bound_to_a_dead_principal_grants_nothing_and_may_be_pruned() -> None:
    result = plan(
        make_baseline(dev_spec(), prune=True),
        make_live(live_of(dev_spec()), rogue_admin(principal_status="recreated")),
    )
    assert result.actions == (DeleteEntry(ROGUE, "not-in-baseline", "STANDARD"),)


def test_only_admin_deletions_are_held_back_by_the_admin_rule() -> None:
    other = LiveEntry(f"arn:aws:iam::{ACCOUNT}:role/old", "STANDARD", "o", (), ())
    result = plan(make_baseline(dev_spec(), prune=True), make_live(live_of(dev_spec()), rogue_admin(), other))
    assert result.actions == (DeleteEntry(other.principal_arn, "not-in-baseline", "STANDARD"),)
    assert len(result.refusals) == 1


# --- the helpers others call -----------------------------------------------------------------------------


def test_a_keep_rule_with_a_glob_and_a_type_must_match_both() -> None:
    rule = KeepRule(principal_arn="arn:aws:iam::*:role/karpenter-*", type="EC2_LINUX")
    assert rule.matches(NODE_ROLE, "EC2_LINUX")
    assert not rule.matches(NODE_ROLE, "STANDARD")
    assert not rule.matches(DEV_ROLE, "EC2_LINUX")


def test_node_entries_are_kept_without_a_rule() -> None:
    settings = GuardSettings()
    assert all(settings.keeps(DEV_ROLE, t) for t in ("EC2_LINUX", "FARGATE_LINUX", "HYBRID_LINUX", "EC2"))
    assert not settings.keeps(DEV_ROLE, "STANDARD")


def test_a_glob_matches_across_role_paths() -> None:
    assert GuardSettings(keep=(KeepRule(principal_arn="arn:aws:iam::*:role/*admins"),)).keeps(
        ADMIN_ROLE, "STANDARD"
    )


def test_an_empty_keep_rule_matches_nothing() -> None:
    assert not GuardSettings(keep=(KeepRule(),)).keeps(ADMIN_ROLE, "STANDARD")


def test_admin_means_the_cluster_admin_policy_at_cluster_scope() -> None:
    assert grants_admin((ADMIN,))
    assert not grants_admin((PolicyAssociation(ADMIN_POLICY_ARN, ns("kube-system")),))
    assert not grants_admin((PolicyAssociation(POLICY_ARN_PREFIX + "AmazonEKSAdminPolicy", CLUSTER_WIDE),))


def test_plans_are_ordered_by_phase_then_principal() -> None:
    a, b = f"arn:aws:iam::{ACCOUNT}:role/a", f"arn:aws:iam::{ACCOUNT}:role/b"
    result = plan(make_baseline(admin_spec(b), admin_spec(a)), make_live())
    assert [
        type(x).__name__ + ":" + (x.spec.principal_arn if isinstance(x, CreateEntry) else x.principal_arn)
        for x in result.actions
    ] == [f"CreateEntry:{a}", f"CreateEntry:{b}", f"AssociatePolicy:{a}", f"AssociatePolicy:{b}"]


def test_a_live_state_is_not_modified_by_planning() -> None:
    live = make_live(live_of(dev_spec(), kubernetes_groups=()))
    before = replace(live, entries=dict(live.entries))
    plan(make_baseline(dev_spec()), live)
    assert live == before
