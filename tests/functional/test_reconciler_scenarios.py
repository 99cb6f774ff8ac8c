"""The reconciler against the local AWS: the drift stories of issue 4, checked with the emulator's oracle."""

from __future__ import annotations

import json

import boto3
import pytest
from access_guard.adapters.eks_reader import ClusterNotFound
from access_guard.core.baseline import load
from access_guard.core.model import CreateEntry, DeleteEntry, UpgradeMode

from .scenario import (
    ACCOUNT,
    ADMIN,
    EDIT,
    REGION,
    VIEW,
    baseline,
    create_cluster,
    delete_role,
    eks_writes_in_cloudtrail,
    entry,
    granted,
    reconciler,
    recreate_role,
    role,
)

CLUSTER = "payments"


@pytest.fixture
def fast_mode_updates(aws):
    aws.set_eks_settings(mode_update_seconds=0.2)
    return aws


def test_the_classic_lockout_is_recovered_by_apply(fast_mode_updates):
    aws = fast_mode_updates
    # given Alice creates a CONFIG_MAP cluster (the API default), so her admin access is invisible ...
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    create_cluster(CLUSTER, session=alice)
    platform = role("platform-admins", "/platform/")
    wanted = baseline(CLUSTER, [entry(platform, (ADMIN, None))], prune=True)
    # ... and is deleted: nobody can administer the cluster
    iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="alice")
    assert aws.admins(CLUSTER) == []
    guard, _ = reconciler()
    # when
    outcome = guard.apply(wanted)
    # then the mode moved forward and the platform role really is an admin
    assert outcome.succeeded, json.dumps(outcome.to_json(), indent=1)
    assert [type(r.action) for r in outcome.results] == [
        UpgradeMode,
        CreateEntry,
        type(outcome.results[2].action),
        DeleteEntry,
    ]
    # the entry EKS made for Alice when the cluster gained access entries grants nothing (she is deleted),
    # is in no baseline, and is pruned
    assert outcome.results[3].action == DeleteEntry(f"arn:aws:iam::{ACCOUNT}:user/alice", "not-in-baseline")
    assert aws.access(CLUSTER)["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert aws.admins(CLUSTER) == [platform]
    assert guard.plan(wanted)[1].is_empty


def test_a_deleted_entry_is_recreated_with_its_policies(aws):
    # given a cluster at its baseline
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    admins = role("admins")
    oncall = role("oncall")
    wanted = baseline(
        CLUSTER,
        [entry(admins, (ADMIN, None)), entry(oncall, (VIEW, ["payments", "payments-*"]), groups=["oncall"])],
    )
    guard, _ = reconciler()
    assert guard.apply(wanted).succeeded
    # when someone deletes the on-call entry, and the guard applies
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName=CLUSTER, principalArn=oncall)
    assert oncall not in granted(aws.access(CLUSTER))
    outcome = guard.apply(wanted)
    # then
    assert outcome.succeeded
    got = granted(aws.access(CLUSTER))[oncall]
    assert got["groups"] == ["oncall"]
    assert got["policies"] == {VIEW: ("namespace", ("payments", "payments-*"))}


def test_a_rogue_admin_entry_is_removed(aws):
    # given a cluster at its baseline with pruning on, and someone who granted themselves admin
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    admins = role("admins")
    rogue = role("rogue")
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], auth="API", prune=True)
    guard, _ = reconciler()
    assert guard.apply(wanted).succeeded
    eks = boto3.client("eks", region_name=REGION)
    eks.create_access_entry(clusterName=CLUSTER, principalArn=rogue)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=rogue, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    assert aws.admins(CLUSTER) == sorted([admins, rogue])
    # when
    outcome = guard.apply(wanted)
    # then
    assert outcome.succeeded
    assert [r.action for r in outcome.results] == [DeleteEntry(rogue, "not-in-baseline")]
    assert aws.admins(CLUSTER) == [admins]


def test_a_rescoped_policy_is_put_back(aws):
    # given the on-call role's namespace-scoped view widened to the whole cluster
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    oncall, admins = role("oncall"), role("admins")
    wanted = baseline(
        CLUSTER, [entry(admins, (ADMIN, None)), entry(oncall, (VIEW, ["payments"]), (EDIT, ["sandbox"]))]
    )
    guard, counter = reconciler()
    assert guard.apply(wanted).succeeded
    boto3.client("eks", region_name=REGION).associate_access_policy(
        clusterName=CLUSTER, principalArn=oncall, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    counter.calls.clear()
    # when
    outcome = guard.apply(wanted)
    # then one write put it back
    assert outcome.succeeded
    assert counter.writes == 1
    got = granted(aws.access(CLUSTER))[oncall]["policies"]
    assert got == {VIEW: ("namespace", ("payments",)), EDIT: ("namespace", ("sandbox",))}


def test_a_recreated_principals_entry_is_deleted_and_created_again(aws):
    # given an entry whose role was deleted and recreated: EKS bound the entry to the old role's id
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    deployer, admins = role("deployer", "/ci/"), role("admins")
    wanted = baseline(
        CLUSTER, [entry(admins, (ADMIN, None)), entry(deployer, (EDIT, ["apps"]), groups=["deployers"])]
    )
    guard, _ = reconciler()
    assert guard.apply(wanted).succeeded
    recreate_role(deployer)
    access = aws.access(CLUSTER)
    assert deployer not in granted(access)
    assert access["inactiveEntries"] == [{"principalArn": deployer, "reason": "principal-recreated"}]
    # when
    live, plan = guard.plan(wanted)
    outcome = guard.apply(wanted)
    # then
    assert live.entries[deployer].principal_status == "recreated"
    assert plan.actions[0] == DeleteEntry(deployer, "principal-recreated")
    assert outcome.succeeded
    got = granted(aws.access(CLUSTER))[deployer]
    assert got["groups"] == ["deployers"] and got["policies"] == {EDIT: ("namespace", ("apps",))}
    assert guard.plan(wanted)[1].is_empty


def test_detect_mode_changes_nothing(aws):
    # given drift: a missing entry and a rogue one, in detect mode
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    admins = role("admins")
    rogue = role("rogue")
    boto3.client("eks", region_name=REGION).create_access_entry(clusterName=CLUSTER, principalArn=rogue)
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], auth="API", prune=True, mode="detect")
    before = aws.access(CLUSTER)
    writes_before = eks_writes_in_cloudtrail(aws)
    guard, counter = reconciler()
    # when
    outcome = guard.apply(wanted)
    # then
    assert outcome.applied is False and not outcome.succeeded
    assert outcome.results == ()
    assert len(outcome.not_attempted) == len(outcome.plan.actions) >= 3
    assert counter.writes == 0
    assert eks_writes_in_cloudtrail(aws) == writes_before
    assert aws.access(CLUSTER) == before


EKSCTL_CONFIG = f"""\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: {CLUSTER}
  region: {REGION}
  version: "1.31"
  tags: {{team: payments}}
vpc:
  cidr: 10.10.0.0/16
managedNodeGroups:
  - name: ng-1
    instanceType: m6i.large
    desiredCapacity: 2
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
  bootstrapClusterCreatorAdminPermissions: false
  accessEntries:
    - principalARN: arn:aws:iam::{ACCOUNT}:role/platform/platform-admins
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy
          accessScope:
            type: cluster
    - principalARN: arn:aws:iam::{ACCOUNT}:role/oncall
      kubernetesUsername: oncall
      kubernetesGroups: [oncall]
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
          accessScope:
            type: namespace
            namespaces: [payments]
    - principalARN: arn:aws:iam::{ACCOUNT}:role/karpenter-node
      type: EC2_LINUX
"""


def test_an_eksctl_cluster_config_is_a_baseline(fast_mode_updates):
    aws = fast_mode_updates
    # given a CONFIG_MAP cluster and an eksctl ClusterConfig used as it stands
    create_cluster(CLUSTER)
    platform = role("platform-admins", "/platform/")
    oncall = role("oncall")
    node = role("karpenter-node")
    wanted = load(EKSCTL_CONFIG)
    guard, _ = reconciler()
    # when
    outcome = guard.apply(wanted)
    # then
    assert outcome.succeeded, json.dumps(outcome.to_json(), indent=1)
    access = granted(aws.access(CLUSTER))
    assert access[platform]["policies"] == {ADMIN: ("cluster", ())}
    assert access[oncall]["username"] == "oncall" and access[oncall]["groups"] == ["oncall"]
    entries = boto3.client("eks", region_name=REGION).list_access_entries(clusterName=CLUSTER)[
        "accessEntries"
    ]
    assert node in entries
    assert guard.plan(wanted)[1].is_empty


def test_an_unknown_cluster_is_cluster_not_found(aws):
    guard, _ = reconciler()
    with pytest.raises(ClusterNotFound):
        guard.apply(baseline("nowhere", [entry(f"arn:aws:iam::{ACCOUNT}:role/x", (ADMIN, None))]))


def test_a_baseline_principal_deleted_from_iam_is_reported_not_created(aws):
    # given a baseline naming a role that does not exist
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    admins = role("admins")
    ghost = f"arn:aws:iam::{ACCOUNT}:role/ghost"
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None)), entry(ghost, (VIEW, ["a"]))])
    guard, _ = reconciler()
    # when
    live, plan = guard.plan(wanted)
    outcome = guard.apply(wanted)
    # then
    assert live.missing_principals == frozenset({ghost})
    assert outcome.succeeded
    assert aws.admins(CLUSTER) == [admins]
    assert ghost not in granted(aws.access(CLUSTER))
    assert any("ghost" in w for w in plan.warnings)


def test_node_entries_and_deleted_principals_are_read_with_their_status(aws):
    # given a node entry (no policies to list) and an entry whose role was deleted
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    node = role("nodes")
    gone = role("gone")
    eks = boto3.client("eks", region_name=REGION)
    eks.create_access_entry(clusterName=CLUSTER, principalArn=node, type="EC2_LINUX")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=gone, kubernetesGroups=["x"])
    delete_role(gone)
    other_account = "arn:aws:iam::210987654321:role/partner"
    guard, counter = reconciler()
    # when
    live = guard.read_cluster(CLUSTER, REGION)
    # then
    assert live.account_id == ACCOUNT and live.authentication_mode == "API_AND_CONFIG_MAP"
    assert live.entries[node].type == "EC2_LINUX" and live.entries[node].principal_status == "ok"
    assert live.entries[gone].principal_status == "missing"
    assert live.entries[gone].kubernetes_groups == ("x",)
    assert counter.calls["ListAssociatedAccessPolicies"] == 1  # the STANDARD entry only
    assert other_account not in live.entries
