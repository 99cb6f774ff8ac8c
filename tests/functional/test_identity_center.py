"""IAM Identity Center permission sets on the local pipeline: resolution at every run, and the move when a set
is re-provisioned (its role re-made with a new suffix by the emulator, CloudTrail records included), judged
by the emulator's access oracle after every EKS write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring

from local.calls import add_listener, remove_listener
from local.runner import Pipeline

from .oracle_watch import watching
from .scenario import ACCOUNT, ADMIN, REGION, VIEW, baseline_doc, entry, role

CLUSTER = "payments"
SSO = "/aws-reserved/sso.amazonaws.com/"


@pytest.fixture
def pipeline(aws: Any, endpoint: str) -> Iterator[Pipeline]:
    aws.set_eks_settings(mode_update_seconds=0.05)
    made = Pipeline.create(endpoint, region=REGION)
    wiring.reset()
    intake_handler.reset()
    yield made
    wiring.reset()
    intake_handler.reset()


def make_cluster() -> None:
    role("eks-cluster")
    boto3.client("eks", region_name=REGION).create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": "API_AND_CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    )


def push(pipeline: Pipeline, *entries: dict[str, Any], sets: list[dict[str, Any]]) -> None:
    doc = baseline_doc(CLUSTER, list(entries), identityCenter=sets)
    BaselineStore(boto3.client("ssm", region_name=REGION), prefix=pipeline.prefix).put(json.dumps(doc))


def permission_set(name: str, policy: str = ADMIN, namespaces: list[str] | None = None) -> dict[str, Any]:
    scope = {"type": "cluster"} if namespaces is None else {"type": "namespace", "namespaces": namespaces}
    return {"permissionSet": name, "accessPolicies": [{"policyARN": policy, "accessScope": scope}]}


def entries_of(cluster: str = CLUSTER) -> set[str]:
    """The access entries EKS lists (one of a deleted role is listed, though the oracle grants it nothing)."""
    eks = boto3.client("eks", region_name=REGION)
    return set(eks.list_access_entries(clusterName=cluster)["accessEntries"]) - {
        f"arn:aws:iam::{ACCOUNT}:root"
    }


@contextmanager
def eks_calls() -> Iterator[list[tuple[str, str]]]:
    """(caller role name, operation) of every EKS call the local AWS answers meanwhile, in order."""
    seen: list[tuple[str, str]] = []

    def listen(call: Any, status: int, headers: Any, body: bytes) -> None:
        if call.operation.service == "eks":
            seen.append((call.caller.principal_arn.rsplit("/", 1)[-1], call.operation.name))

    add_listener(listen)
    try:
        yield seen
    finally:
        remove_listener(listen)


def remediation_runs(calls: list[tuple[str, str]]) -> list[list[str]]:
    """The remediation's calls, one list per run (each run begins with DescribeCluster)."""
    runs: list[list[str]] = []
    for who, operation in calls:
        if who == "eks-access-guard-remediate":
            if operation == "DescribeCluster" or not runs:
                runs.append([])
            runs[-1].append(operation)
    return runs


@pytest.fixture
def provisioned(pipeline: Pipeline, aws: Any) -> dict[str, Any]:
    """A managed cluster whose platform admins are the permission set PlatformAdmins (provisioned) and whose
    viewers are a plain role."""
    make_cluster()
    admins = aws.provision_permission_set("PlatformAdmins")["created"]
    viewers = role("viewers")
    push(pipeline, entry(viewers, (VIEW, ["payments"])), sets=[permission_set("PlatformAdmins")])
    pipeline.drain()
    pipeline.notifications()
    return {"admins": admins, "viewers": viewers}


def test_a_permission_set_resolves_to_its_one_live_role_and_its_entry_lives_there(provisioned, aws):
    assert aws.admins(CLUSTER) == [provisioned["admins"]]
    assert entries_of() == {provisioned["admins"], provisioned["viewers"]}


def test_a_reprovisioned_set_moves_its_entry_and_deletes_the_old_one_only_once_the_oracle_sees_the_new(
    provisioned, pipeline, aws
):
    old = provisioned["admins"]
    # when Identity Center re-provisions the set: its role is deleted and made again with a new suffix
    new = aws.provision_permission_set("PlatformAdmins")["created"]
    assert new != old and aws.admins(CLUSTER) == []  # the old entry is bound to a deleted role
    with watching(CLUSTER, {new}) as watch, eks_calls() as calls:
        pipeline.drain()
    # then the entry moved: the new role is the admin, the old role's entry is gone, no write broke the rule
    assert aws.admins(CLUSTER) == [new]
    assert entries_of() == {new, provisioned["viewers"]}
    assert watch.violations == []
    writes = [w for w in watch.writes if not w.startswith("(")]
    assert writes == ["CreateAccessEntry", "AssociateAccessPolicy", "DeleteAccessEntry"]
    # the old entry went only after the oracle saw the new role administer the cluster
    before_delete = watch.states[writes.index("DeleteAccessEntry")]
    assert before_delete[new]["clusterAdmin"] is True
    # in at most 8 EKS calls for the run that moved it (reads, writes and the re-read of the new entry)
    runs = remediation_runs(calls)
    [moving] = [r for r in runs if "DeleteAccessEntry" in r]
    assert len(moving) <= 8, moving
    # and the owners are told, in one line, where the set moved
    notes = [n["document"]["text"] for n in pipeline.notifications(wait_seconds=2)]
    assert any(f"PlatformAdmins moved from {old} to {new}" in text for text in notes), notes


def test_two_live_roles_of_one_set_is_a_refused_step_and_an_alert_never_a_guess(provisioned, pipeline, aws):
    # given a second role of the set appears (not by Identity Center's own re-provisioning)
    second = role("AWSReservedSSO_PlatformAdmins_00000000000000ff", SSO + "eu-west-1/")
    pipeline.drain()
    # then nothing moved, and the note says why with the roles it found
    assert aws.admins(CLUSTER) == [provisioned["admins"]]
    notes = [n for n in pipeline.notifications(wait_seconds=2)]
    texts = [n["document"]["text"] for n in notes]
    assert any("PlatformAdmins: 2 roles" in t and second in t for t in texts), texts
    assert any(n["document"]["outcome"]["reachedBaseline"] is False for n in notes)


def test_no_live_role_is_a_refused_step_and_the_entry_is_left_as_it_is(provisioned, pipeline, aws):
    # when the set's role is deleted and nothing replaces it
    boto3.client("iam").delete_role(RoleName=provisioned["admins"].rsplit("/", 1)[-1])
    pipeline.drain()
    # then the guard guesses nothing: the old entry stays, and the note says there is no role
    assert provisioned["admins"] in entries_of()
    texts = [n["document"]["text"] for n in pipeline.notifications(wait_seconds=2)]
    assert any("PlatformAdmins: no role AWSReservedSSO_PlatformAdmins_<16 hex>" in t for t in texts), texts


def test_the_sweep_finds_a_move_that_no_event_announced(provisioned, pipeline, aws):
    # given the re-provisioning's events are lost
    aws.set_cloudtrail_delivery(drop_next=2)  # DeleteRole and CreateRole
    old = provisioned["admins"]
    new = aws.provision_permission_set("PlatformAdmins")["created"]
    pipeline.drain()
    assert entries_of() == {old, provisioned["viewers"]}  # no event: nothing moved it
    # when the sweep's list tier (the one every sweep runs) looks at the cluster
    with watching(CLUSTER, {new}) as watch:
        report = pipeline.sweep()
        pipeline.drain()
    assert report["tier"] == "check"
    # then it saw the set's old role's entry and the new role without one, and moved the set by the rules:
    # the new entry made and given its policy, the old one deleted only once the oracle saw the new admin
    assert aws.admins(CLUSTER) == [new]
    assert entries_of() == {new, provisioned["viewers"]}
    assert watch.violations == []
    writes = [w for w in watch.writes if not w.startswith("(")]
    assert writes == ["CreateAccessEntry", "AssociateAccessPolicy", "DeleteAccessEntry"]
    assert watch.states[writes.index("DeleteAccessEntry")][new]["clusterAdmin"] is True
    notes = [n["document"]["text"] for n in pipeline.notifications(wait_seconds=2)]
    assert any(f"PlatformAdmins moved from {old} to {new}" in text for text in notes), notes


def test_the_create_role_event_alone_moves_the_set(provisioned, pipeline, aws):
    # given the DeleteRole event is lost: only CreateRole (of a role the baseline does not name) arrives
    aws.set_cloudtrail_delivery(drop_next=1)
    new = aws.provision_permission_set("PlatformAdmins")["created"]
    with watching(CLUSTER, {new}) as watch:
        pipeline.drain()
    # then the intake still found the set's old entry and the new role, and the run moved the entry
    assert aws.admins(CLUSTER) == [new]
    assert entries_of() == {new, provisioned["viewers"]}
    assert watch.violations == []


def test_the_sweep_says_why_a_set_it_cannot_resolve_is_not_moved_and_writes_nothing(
    provisioned, pipeline, aws
):
    # given a second role of the set appears and its event is lost
    aws.set_cloudtrail_delivery(drop_next=1)
    second = role("AWSReservedSSO_PlatformAdmins_00000000000000ff", SSO + "eu-west-1/")
    pipeline.drain()
    assert pipeline.notifications() == []
    # when the sweep's list tier looks at the cluster
    with watching(CLUSTER, {provisioned["admins"]}) as watch:
        pipeline.sweep()
        pipeline.drain()
    # then it wrote nothing, the admins keep their entry, and the note says why, with the roles it found
    assert [w for w in watch.writes if not w.startswith("(")] == []
    assert aws.admins(CLUSTER) == [provisioned["admins"]]
    texts = [n["document"]["text"] for n in pipeline.notifications(wait_seconds=2)]
    assert any("PlatformAdmins: 2 roles" in t and second in t for t in texts), texts
