"""The reconciler's safety rules, idempotency, failure reporting and call budget, against the local AWS."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from access_guard.core import planner
from access_guard.core.model import (
    AccessScope,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    LiveState,
    Plan,
    PolicyAssociation,
    UpgradeMode,
)
from access_guard.core.policies import POLICY_ARN_PREFIX

from .scenario import (
    ACCOUNT,
    ADMIN,
    EDIT,
    REGION,
    VIEW,
    baseline,
    create_cluster,
    entry,
    granted,
    reconciler,
    role,
)

CLUSTER = "orders"


def eks():
    return boto3.client("eks", region_name=REGION)


def add_entry(arn: str, *policies: str, **kwargs) -> None:
    eks().create_access_entry(clusterName=CLUSTER, principalArn=arn, **kwargs)
    for policy in policies:
        eks().associate_access_policy(
            clusterName=CLUSTER, principalArn=arn, policyArn=policy, accessScope={"type": "cluster"}
        )


def live_entries() -> list[str]:
    return sorted(eks().list_access_entries(clusterName=CLUSTER)["accessEntries"])


@pytest.fixture
def cluster(aws):
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    return aws


def test_more_deletions_than_the_limit_deletes_none(cluster):
    # given three rogue entries and a limit of two
    admins = role("admins")
    rogues = [role(f"rogue-{i}") for i in range(3)]
    for arn in rogues:
        add_entry(arn)
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], prune=True, maxDeletions=2)
    guard, _ = reconciler()
    # when
    outcome = guard.apply(wanted)
    # then the baseline's entry is made, no rogue is deleted, and the plan says why
    assert outcome.succeeded
    assert live_entries() == sorted([admins, *rogues])
    assert outcome.plan.refusals
    assert not any(isinstance(r.action, DeleteEntry) for r in outcome.results)


def test_entries_matching_a_keep_rule_are_never_pruned(cluster):
    # given a node entry the baseline does not name, kept by type
    admins = role("admins")
    node = role("karpenter-node")
    add_entry(node, type="EC2_LINUX")
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], prune=True, keep=[{"type": "EC2_LINUX"}])
    guard, _ = reconciler()
    # when
    outcome = guard.apply(wanted)
    # then
    assert outcome.succeeded
    assert node in live_entries()


def test_a_create_answered_with_409_compares_and_updates(cluster):
    # given an entry created by someone else between the guard's read and its create (in API mode, where
    # an entry takes no hidden aws-auth path away)
    oncall = role("oncall")
    wanted = baseline(
        CLUSTER,
        [entry(oncall, (VIEW, ["orders"]), groups=["oncall"], kubernetesUsername="oncall")],
        auth="API",
    )
    cluster.set_eks_settings(mode_update_seconds=0)
    eks().update_cluster_config(name=CLUSTER, accessConfig={"authenticationMode": "API"})

    def racing_plan(b: Baseline, live: LiveState) -> Plan:
        result = planner.plan(b, live)
        if any(isinstance(a, CreateEntry) for a in result.actions) and oncall not in live_entries():
            add_entry(oncall, EDIT, kubernetesGroups=["intruders"])
        return result

    guard, counter = reconciler(plan_fn=racing_plan)
    # when
    outcome = guard.apply(wanted)
    # then the 409 is not a failure, and a fresh plan put the entry right
    assert outcome.succeeded, outcome.to_json()
    assert outcome.results[0].note and "already" in outcome.results[0].note
    got = granted(cluster.access(CLUSTER))[oncall]
    assert (got["username"], got["groups"]) == ("oncall", ["oncall"])
    assert got["policies"] == {VIEW: ("namespace", ("orders",))}
    assert guard.plan(wanted)[1].is_empty


def test_a_failed_action_stops_later_phases_and_the_outcome_says_what_was_done(cluster):
    # given a plan to create two entries and delete a rogue, and one role deleted after the plan was made
    admins = role("admins")
    doomed = role("doomed")
    rogue = role("rogue")
    add_entry(rogue, ADMIN)
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None)), entry(doomed, (VIEW, ["x"]))], prune=True)

    def plan_then_delete_role(b: Baseline, live: LiveState) -> Plan:
        result = planner.plan(b, live)
        boto3.client("iam").delete_role(RoleName="doomed")
        return result

    guard, _ = reconciler(plan_fn=plan_then_delete_role)
    # when
    outcome = guard.apply(wanted)
    # then the admin was made first, the doomed create failed, and nothing after it was attempted
    assert not outcome.succeeded
    failed = [r for r in outcome.results if not r.ok]
    assert [r.action for r in failed] == [CreateEntry(wanted.entries[1])]
    assert "InvalidParameterException" in (failed[0].error or "")
    done = [r.action for r in outcome.results if r.ok]
    assert done == [CreateEntry(wanted.entries[0]), AssociatePolicy(admins, wanted.entries[0].policies[0])]
    assert DeleteEntry(rogue, "not-in-baseline") in outcome.not_attempted
    assert AssociatePolicy(doomed, wanted.entries[1].policies[0]) in outcome.not_attempted
    assert rogue in live_entries()  # deletions only after everything before them succeeded
    report = outcome.to_json()
    assert report["failed"] and report["done"] and report["notAttempted"]


def test_a_mode_update_still_running_after_the_bounded_wait_ends_the_run_in_progress(aws):
    # given a CONFIG_MAP cluster whose mode update takes longer than the guard waits
    aws.set_eks_settings(mode_update_seconds=1.0)
    create_cluster(CLUSTER)
    admins = role("admins")
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))])
    guard, counter = reconciler(mode_update_timeout_seconds=0.2)
    # when
    outcome = guard.apply(wanted)
    # then the run ends waiting, not failed, having written only the mode step
    assert outcome.succeeded and not outcome.reached_baseline
    assert "still in progress; the next run continues" in (outcome.in_progress or "")
    assert [r.action for r in outcome.results] == [UpgradeMode("CONFIG_MAP", "API_AND_CONFIG_MAP")]
    assert counter.writes == 1
    # and the next run, once EKS has finished, continues to the baseline
    time.sleep(1.0)
    assert guard.apply(wanted).reached_baseline
    assert admins in aws.admins(CLUSTER)


def test_apply_waits_for_a_running_mode_update_then_carries_on(aws):
    # given a mode update started by someone else, still running
    aws.set_eks_settings(mode_update_seconds=0.5)
    create_cluster(CLUSTER)
    eks().update_cluster_config(name=CLUSTER, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    admins = role("admins")
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], auth="API")
    guard, _ = reconciler()
    # when
    outcome = guard.apply(wanted)
    # then
    assert outcome.succeeded, outcome.to_json()
    assert aws.access(CLUSTER)["authenticationMode"] == "API"
    # beside the creator (the account root), whose admin entry EKS made when the cluster gained entries
    assert aws.admins(CLUSTER) == sorted([admins, f"arn:aws:iam::{ACCOUNT}:root"])


def test_throttling_and_server_errors_are_retried(cluster):
    # given
    admins = role("admins")
    add_entry(admins, ADMIN)
    cluster.set_fault("eks:ListAccessEntries", throttle=2)
    cluster.set_fault("eks:DescribeAccessEntry", error_status=503, error_count=1)
    cluster.set_fault("eks:AssociateAccessPolicy", error_status=500, error_count=1)
    oncall = role("oncall")
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None)), entry(oncall, (VIEW, ["a"]))])
    guard, counter = reconciler()
    # when
    outcome = guard.apply(wanted)
    # then
    assert outcome.succeeded, outcome.to_json()
    assert counter.calls["ListAccessEntries"] == 3
    assert counter.calls["AssociateAccessPolicy"] == 2
    assert granted(cluster.access(CLUSTER))[oncall]["policies"] == {VIEW: ("namespace", ("a",))}


def test_a_policy_unknown_to_this_release_is_read_and_removed_without_crashing(cluster):
    # given AWS "added" a policy, and someone associated it
    cluster.set_eks_settings(extra_access_policies=["AmazonEKSShinyNewPolicy"])
    new_policy = POLICY_ARN_PREFIX + "AmazonEKSShinyNewPolicy"
    admins = role("admins")
    add_entry(admins, ADMIN, new_policy)
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))])
    guard, _ = reconciler()
    # when
    live, _plan = guard.plan(wanted)
    outcome = guard.apply(wanted)
    # then
    assert PolicyAssociation(new_policy, AccessScope()) in live.entries[admins].policies
    assert outcome.succeeded
    assert granted(cluster.access(CLUSTER))[admins]["policies"] == {ADMIN: ("cluster", ())}


def test_a_drift_of_k_changes_takes_k_writes_and_a_second_apply_none(cluster):
    # given a cluster at its baseline
    roles = [role(f"team-{i}") for i in range(6)]
    specs = [entry(arn, (VIEW, [f"ns-{i}"]), groups=[f"team-{i}"]) for i, arn in enumerate(roles)]
    admins = role("admins")
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None)), *specs], prune=True)
    guard, counter = reconciler()
    assert guard.apply(wanted).succeeded
    # and k = 6 changes behind its back
    e = eks()
    e.update_access_entry(clusterName=CLUSTER, principalArn=roles[0], kubernetesGroups=["intruders"])  # 1
    e.associate_access_policy(  # 1
        clusterName=CLUSTER, principalArn=roles[1], policyArn=VIEW, accessScope={"type": "cluster"}
    )
    e.disassociate_access_policy(clusterName=CLUSTER, principalArn=roles[2], policyArn=VIEW)  # 1
    e.delete_access_entry(clusterName=CLUSTER, principalArn=roles[3])  # 2: create + associate
    add_entry(role("rogue"))  # 1
    counter.calls.clear()
    # when
    first = guard.apply(wanted)
    writes = counter.writes
    counter.calls.clear()
    second = guard.apply(wanted)
    # then
    assert first.succeeded and writes == 6 and len(first.results) == 6
    assert second.succeeded and second.results == () and counter.writes == 0


def test_reading_n_entries_takes_one_call_per_list_page_plus_two_per_standard_entry(cluster):
    # given 103 STANDARD entries and 2 node entries (two list pages)
    def make(i: int) -> None:
        arn = role(f"r-{i:03d}")
        if i < 103:
            add_entry(arn, VIEW)
        else:
            add_entry(arn, type="EC2_LINUX")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make, range(105)))
    guard, counter = reconciler(concurrency=4)
    # when
    live = guard.read_cluster(CLUSTER, REGION)
    # then
    assert len(live.entries) == 105
    assert all(e.principal_status == "ok" for e in live.entries.values())
    assert dict(counter.calls) == {
        "DescribeCluster": 1,
        "ListAccessEntries": 2,
        "DescribeAccessEntry": 105,
        "ListAssociatedAccessPolicies": 103,
    }


def test_in_config_map_mode_no_entry_call_is_made(aws):
    create_cluster(CLUSTER)
    guard, counter = reconciler()
    live = guard.read_cluster(CLUSTER, REGION)
    assert live.authentication_mode == "CONFIG_MAP" and live.entries == {}
    assert dict(counter.calls) == {"DescribeCluster": 1}


def test_an_approved_plan_runs_after_a_fresh_read_shows_the_same_plan(cluster):
    # given a plan an operator was shown: one rogue entry to remove, one entry to create
    admins, rogue = role("admins"), role("rogue")
    add_entry(rogue)
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], prune=True)
    guard, counter = reconciler()
    live, shown = guard.plan(wanted)
    counter.calls.clear()
    # when it is applied
    outcome = guard.apply(wanted, approved=(live, shown))
    # then the cluster was read again, and exactly the plan shown ran
    assert outcome.reached_baseline and outcome.plan == shown
    assert [r.action for r in outcome.results] == list(shown.actions)
    assert counter.reads > 0
    assert counter.writes == len(shown.actions) == 3  # create, associate, delete


def test_an_approved_plan_is_refused_when_the_cluster_changed_since(cluster):
    # given a plan an operator was shown, and someone changing the cluster while the prompt waited
    admins, rogue = role("admins"), role("rogue")
    add_entry(admins, ADMIN)
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], prune=True)
    guard, counter = reconciler()
    live, shown = guard.plan(wanted)
    assert shown.is_empty
    add_entry(rogue, ADMIN)
    counter.calls.clear()
    # when the old plan is applied
    outcome = guard.apply(wanted, approved=(live, shown))
    # then nothing is written, and the outcome says to plan again
    assert not outcome.applied and outcome.error == "the cluster changed since this plan; plan again"
    assert counter.writes == 0
    assert rogue in live_entries()


def test_an_approved_plan_still_passes_the_safety_check(cluster):
    # given a hand-made "approved" plan that deletes an entry the baseline keeps, with pruning off
    admins = role("admins")
    add_entry(admins)
    wanted = baseline(CLUSTER, [entry(admins)])
    guard, counter = reconciler()
    live, _ = guard.plan(wanted)
    forged = Plan(CLUSTER, REGION, (DeleteEntry(admins, "not-in-baseline"),))
    counter.calls.clear()
    # when it is applied
    outcome = guard.apply(wanted, approved=(live, forged))
    # then the deletion is held back
    assert counter.writes == 0
    assert all(not isinstance(r.action, DeleteEntry) for r in outcome.results)
