"""The sweep at scale: the list check (every sweep) and the full read (daily), and the fan-out through the
work queue; judged by the emulator's oracle and by the EKS calls the product made."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from access_guard.adapters import clients
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.core.config import Config
from access_guard.core.report import Trigger
from access_guard.services.enforce import Enforcer
from access_guard.services.sweep import check_cluster, sweep

from .scenario import ADMIN, EDIT, REGION, VIEW, CallCounter, baseline_doc, create_cluster, entry, role

CLUSTER = "payments"
TEAM = 104  # with the admin and the editor: 106 entries, two pages of ListAccessEntries
SWEEP = Trigger("sweep", "test sweep")


def pages(n: int) -> int:
    return max(1, -(-n // 100))


@pytest.fixture
def cluster(aws: Any) -> dict[str, Any]:
    """A cluster at its baseline: an admin, an editor and TEAM viewers, pruned."""
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    admin, editor, rogue = role("platform"), role("editor"), role("rogue")
    team = [role(f"team-{i:03d}") for i in range(TEAM)]
    entries = [
        entry(admin, (ADMIN, None)),
        entry(editor, (EDIT, ["apps"]), groups=["editors"]),
        *(entry(arn, (VIEW, ["apps"])) for arn in team),
    ]
    doc = baseline_doc(CLUSTER, entries, auth="API", prune=True, maxDeletions=5)
    BaselineStore(boto3.client("ssm", region_name=REGION)).put(json.dumps(doc))
    clients.clear_cache()
    enforcer = make_enforcer()
    assert enforcer.run(CLUSTER, REGION, trigger=SWEEP).outcome.reached_baseline
    return {"admin": admin, "editor": editor, "rogue": rogue, "team": team, "entries": TEAM + 2}


def make_enforcer() -> Enforcer:
    from access_guard.services.reconcile import Reconciler

    eks, iam = clients.client("eks", region=REGION), clients.client("iam", region=REGION)
    return Enforcer(
        store=BaselineStore(boto3.client("ssm", region_name=REGION)),
        reconciler=Reconciler(eks=eks, iam=iam),
        config=Config(),
    )


def checked() -> tuple[Any, Any, CallCounter]:
    """The list check of the cluster, with its EKS calls counted (the check's own and the run's)."""
    enforcer = make_enforcer()
    eks = clients.client("eks", region=REGION)
    counter = CallCounter(eks)
    report, check = check_cluster(enforcer, eks, CLUSTER, REGION, trigger=SWEEP)
    return report, check, counter


def access(aws: Any) -> dict[str, set[str]]:
    return {
        p["principalArn"]: {a["policyArn"] for a in p["accessPolicies"]}
        for p in aws.access(CLUSTER)["principals"]
    }


def test_a_cluster_without_drift_costs_the_list_pages_only(cluster, aws):
    report, check, counter = checked()
    n = cluster["entries"]
    # DescribeCluster, the entries' pages, then each policy's pages: the baseline's three and the other
    # admin-grade one (AmazonEKSAdminPolicy, held by nobody)
    expected = 1 + pages(n) + pages(TEAM) + pages(1) + pages(1) + pages(0)
    assert report.outcome is None and report.skipped.startswith("list check: no drift")
    assert dict(counter.calls) == {"DescribeCluster": 1, "ListAccessEntries": expected - 1}
    assert check.calls == expected and check.differ == ()


@pytest.mark.parametrize(
    "drift",
    [
        "policy disassociated",
        "rogue entry",
        pytest.param("entry deleted", marks=pytest.mark.slow),
        pytest.param("admin policy added", marks=pytest.mark.slow),
        pytest.param("policy swapped", marks=pytest.mark.slow),
    ],
)
def test_the_list_check_finds_and_fixes_what_the_lists_show(cluster, aws, drift):
    # given a drift that no event reported
    eks = boto3.client("eks", region_name=REGION)
    viewer, rogue = cluster["team"][7], cluster["rogue"]
    if drift == "entry deleted":
        eks.delete_access_entry(clusterName=CLUSTER, principalArn=cluster["admin"])
        changed = cluster["admin"]
    elif drift == "policy disassociated":
        eks.disassociate_access_policy(clusterName=CLUSTER, principalArn=viewer, policyArn=VIEW)
        changed = viewer
    elif drift == "rogue entry":
        eks.create_access_entry(clusterName=CLUSTER, principalArn=rogue, kubernetesGroups=["intruders"])
        changed = rogue
    elif drift == "admin policy added":
        eks.associate_access_policy(
            clusterName=CLUSTER, principalArn=viewer, policyArn=ADMIN, accessScope={"type": "cluster"}
        )
        changed = viewer
    else:
        eks.disassociate_access_policy(clusterName=CLUSTER, principalArn=viewer, policyArn=VIEW)
        eks.associate_access_policy(
            clusterName=CLUSTER, principalArn=viewer, policyArn=EDIT, accessScope={"type": "cluster"}
        )
        changed = viewer
    before = access(aws)
    # when the list check runs
    report, check, counter = checked()
    # then only the changed entry was read in full, and the oracle shows the baseline again
    assert check.differ == (changed,)
    assert counter.calls["DescribeAccessEntry"] <= 2, dict(counter.calls)
    assert report.outcome is not None and report.outcome.reached_baseline
    after = access(aws)
    assert after != before
    assert rogue not in after
    assert after[cluster["admin"]] == {ADMIN}
    assert after[viewer] == {VIEW}
    assert len(after) == cluster["entries"]


def test_a_groups_change_waits_for_the_full_read(cluster, aws):
    # given the editor's Kubernetes groups changed (the lists cannot show it)
    eks = boto3.client("eks", region_name=REGION)
    eks.update_access_entry(clusterName=CLUSTER, principalArn=cluster["editor"], kubernetesGroups=["admins"])
    # the list check does not see it
    report, check, _ = checked()
    assert check.differ == () and report.outcome is None
    assert aws_groups(aws, cluster["editor"]) == ["admins"]
    # the full read does
    full = sweep(make_enforcer(), REGION, tier="full")
    assert [r.outcome.reached_baseline for r in full.runs] == [True]
    assert aws_groups(aws, cluster["editor"]) == ["editors"]


def aws_groups(aws: Any, arn: str) -> list[str]:
    [p] = [p for p in aws.access(CLUSTER)["principals"] if p["principalArn"] == arn]
    return sorted(p["kubernetesGroups"])


def test_the_list_check_of_every_cluster_without_a_queue(cluster, aws):
    eks = boto3.client("eks", region_name=REGION)
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=cluster["editor"])
    report = sweep(make_enforcer(), REGION, tier="check", eks=clients.client("eks", region=REGION))
    assert report.errors == [] and [r.cluster for r in report.runs] == [CLUSTER]
    assert access(aws)[cluster["editor"]] == {EDIT}


def test_the_sweep_fans_out_one_work_item_a_cluster(aws, endpoint):
    """Through the pipeline: the sweep only queues; each cluster is its own remediate run."""
    from access_guard.handlers import wiring

    from local.runner import Pipeline

    pipeline = Pipeline.create(endpoint, region=REGION)
    try:
        admin = role("platform")
        ssm = boto3.client("ssm", region_name=REGION)
        eks = boto3.client("eks", region_name=REGION)
        for name in ("alpha", "beta"):
            create_cluster(name, mode="API", bootstrap=False)
            eks.create_access_entry(clusterName=name, principalArn=admin)
            doc = baseline_doc(name, [entry(admin, (ADMIN, None))], auth="API")
            BaselineStore(ssm, prefix=pipeline.prefix).put(json.dumps(doc))
        pipeline.drain()
        # given drift on both clusters, unreported
        aws.set_cloudtrail_delivery(drop_next=2)
        for name in ("alpha", "beta"):
            eks.disassociate_access_policy(clusterName=name, principalArn=admin, policyArn=ADMIN)
        assert aws.admins("alpha") == [] and aws.admins("beta") == []
        # when the sweep runs
        report = pipeline.sweep(drain=False)
        # then it queued one item a cluster, and those items fixed them
        assert report["tier"] == "check" and sorted(report["queued"]) == ["alpha", "beta"]
        assert aws.admins("alpha") == []
        pipeline.drain()
        assert aws.admins("alpha") == [admin] and aws.admins("beta") == [admin]
        assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}
    finally:
        pipeline.stop()
        wiring.reset()


def test_a_permission_set_moved_with_no_event_is_found_by_the_list_check_and_moved_by_the_rules(aws):
    """IAM Identity Center re-provisions a set (new role, old one deleted) and no event tells the guard: the
    list check sees the old role's entry and the resolved role without one, and a targeted run moves it."""
    from .oracle_watch import watching

    # given the platform admins as a permission set and a dozen viewers, not pruned, at the baseline
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    old = aws.provision_permission_set("PlatformAdmins")["created"]
    team = [role(f"team-{i:03d}") for i in range(12)]
    admins = {
        "permissionSet": "PlatformAdmins",
        "accessPolicies": [{"policyARN": ADMIN, "accessScope": {"type": "cluster"}}],
    }
    doc = baseline_doc(
        CLUSTER, [entry(arn, (VIEW, ["apps"])) for arn in team], auth="API", identityCenter=[admins]
    )
    BaselineStore(boto3.client("ssm", region_name=REGION)).put(json.dumps(doc))
    clients.clear_cache()
    assert make_enforcer().run(CLUSTER, REGION, trigger=SWEEP).outcome.reached_baseline
    # with no drift, a set costs the list check nothing more: the lists' pages, no entry read
    report, check, counter = checked()
    assert report.outcome is None and check.differ == ()
    assert dict(counter.calls) == {"DescribeCluster": 1, "ListAccessEntries": check.calls - 1}
    # when the set is re-provisioned and its events are lost
    new = aws.provision_permission_set("PlatformAdmins")["created"]
    with watching(CLUSTER, {new}) as watch:
        report, check, counter = checked()
    # then the check named both roles, and only they were read (not the cluster's 13 entries)
    assert check.differ == tuple(sorted([old, new]))
    assert check.whole is None and counter.calls["DescribeAccessEntry"] <= 4, dict(counter.calls)
    assert sum(counter.calls.values()) - check.calls <= 8, dict(counter.calls)  # the move's run (issue 18)
    # and the set moved by the safety rules, as the oracle saw after every write
    assert report.outcome is not None and report.outcome.reached_baseline
    assert aws.admins(CLUSTER) == [new]
    assert old not in access(aws) and len(access(aws)) == len(team) + 1
    assert watch.violations == []
    writes = [w for w in watch.writes if not w.startswith("(")]
    assert writes == ["CreateAccessEntry", "AssociateAccessPolicy", "DeleteAccessEntry"]
    assert watch.states[writes.index("DeleteAccessEntry")][new]["clusterAdmin"] is True
