"""The event pipeline end to end on the local AWS: a real call against the emulator is recorded by CloudTrail,
routed by the runtime's own EventBridge rules to the intake, queued per cluster, remediated by the same
handlers as in AWS, and told on the SNS topic; the emulator's oracle judges the result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import iam_profile
import pytest
from access_guard.adapters import clients
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.adapters.eks_writer import EksWriter
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring

from local.runner import Pipeline

from .oracle_watch import watching
from .scenario import ACCOUNT, ADMIN, REGION, TRUST, VIEW, baseline_doc, entry, role

CLUSTER = "payments"


def guarded(aws: Any, endpoint: str, template: dict[str, Any], **create: Any) -> Iterator[Pipeline]:
    """A pipeline made with `create`'s options (Pipeline.create), each function under its role with the
    synthesized template's policies enforced."""
    made = Pipeline.create(endpoint, region=REGION, **create)
    iam_profile.enforce(aws, made, template, cluster=CLUSTER)
    wiring.reset()
    intake_handler.reset()
    yield made
    aws.enforce_iam(None)
    wiring.reset()
    intake_handler.reset()


@pytest.fixture
def pipeline(aws: Any, endpoint: str, template: dict[str, Any]) -> Iterator[Pipeline]:
    """The pipeline, each function under its role with the synthesized template's policies enforced."""
    aws.set_eks_settings(mode_update_seconds=0.05)
    yield from guarded(aws, endpoint, template)


def person(name: str) -> boto3.Session:
    """An IAM user with keys of its own: its calls are recorded as this user's, whatever the environment."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )


def make_cluster(session: boto3.Session, mode: str = "API_AND_CONFIG_MAP") -> None:
    if "eks-cluster" not in {r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]}:
        role("eks-cluster")
    session.client("eks").create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": mode,
            "bootstrapClusterCreatorAdminPermissions": mode == "CONFIG_MAP",
        },
    )


def push(pipeline: Pipeline, *entries: dict[str, Any], **guard: Any) -> None:
    """Store the baseline as a baseline writer does: a SecureString under the deployment's key (the `aws`
    fixture makes it), so the CLI's reads trust it too."""
    from access_guard.core.config import BASELINE_KEY_ALIAS

    text = json.dumps(baseline_doc(CLUSTER, list(entries), **guard))
    key = boto3.client("kms", region_name=REGION).describe_key(KeyId=BASELINE_KEY_ALIAS)["KeyMetadata"]["Arn"]
    BaselineStore(boto3.client("ssm", region_name=REGION), prefix=pipeline.prefix, kms_key_id=key).put(text)


def eks_writes(aws: Any, by_guard: bool | None = None) -> list[str]:
    records = [r for r in aws.cloudtrail_records() if r["eventSource"] == "eks.amazonaws.com"]
    if by_guard is not None:
        records = [r for r in records if ("eks-access-guard" in r["userIdentity"].get("arn", "")) == by_guard]
    return [r["eventName"] for r in records]


def manage(pipeline: Pipeline, *, timeout: float = 60.0) -> dict[str, Any]:
    """A managed API_AND_CONFIG_MAP cluster at its baseline: an admin role and an on-call viewer."""
    platform, oncall = role("platform", "/platform/"), role("oncall")
    make_cluster(person("alice"))
    push(
        pipeline,
        entry(platform, (ADMIN, None)),
        entry(oncall, (VIEW, ["payments"]), groups=["oncall"]),
        prune=True,
    )
    pipeline.drain(timeout=timeout)
    return {"platform": platform, "oncall": oncall, "bob": person("bob")}


@pytest.fixture
def managed(pipeline: Pipeline, aws: Any) -> dict[str, Any]:
    """A managed API_AND_CONFIG_MAP cluster at its baseline: an admin role and an on-call viewer."""
    made = manage(pipeline)
    pipeline.notifications()
    return made


def test_a_baseline_pushed_is_applied_through_its_ssm_change_event(managed, aws):
    assert aws.admins(CLUSTER) == [managed["platform"]]
    assert managed["oncall"] in {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}


def test_an_entry_deleted_by_mistake_is_back_and_the_owners_are_told_who(managed, pipeline, aws):
    # when bob deletes the on-call viewer's entry
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    pipeline.drain()
    # then it is back, and the note says what happened and who did it
    assert managed["oncall"] in {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}
    [note] = pipeline.notifications(wait_seconds=2)
    text = note["document"]["text"]
    assert "DeleteAccessEntry" in text and "user/bob" in text
    assert note["document"]["outcome"]["reachedBaseline"] is True


def test_a_rogue_admin_is_removed_with_a_warning_about_rbac(managed, pipeline, aws):
    # when bob grants himself cluster admin with the AWS CLI's calls
    bob_arn = f"arn:aws:iam::{ACCOUNT}:user/bob"
    eks = managed["bob"].client("eks")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=bob_arn)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=bob_arn, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    with watching(CLUSTER, {managed["platform"]}) as watch:
        pipeline.drain()
    # then he is gone, no write of the guard broke the invariant, and the note warns about RBAC
    assert aws.admins(CLUSTER) == [managed["platform"]]
    assert watch.violations == []
    notes = pipeline.notifications(wait_seconds=2)
    assert any(n["document"].get("rbacWarning") for n in notes)


def test_a_disassociated_policy_is_associated_again(managed, pipeline, aws):
    managed["bob"].client("eks").disassociate_access_policy(
        clusterName=CLUSTER, principalArn=managed["oncall"], policyArn=VIEW
    )
    pipeline.drain()
    [grant] = [p for p in aws.access(CLUSTER)["principals"] if p["principalArn"] == managed["oncall"]]
    assert [a["policyArn"] for a in grant["accessPolicies"]] == [VIEW]


def test_the_guards_own_writes_cause_no_further_writes(managed, pipeline, aws, monkeypatch):
    # given even the own-role filter off: every event of the guard's writes reaches the remediation
    monkeypatch.setenv("ACCESS_GUARD_SELF_ROLE_ARNS", "")
    pipeline.environment["ACCESS_GUARD_SELF_ROLE_ARNS"] = ""
    for name in ("intake", "remediate", "sweep"):
        pipeline.registry.get(name).environment["ACCESS_GUARD_SELF_ROLE_ARNS"] = ""
    intake_handler.reset()
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    # when everything is processed until quiet
    pipeline.drain()
    pipeline.drain()
    # then the guard wrote exactly the two writes the drift needed: its own events changed nothing
    assert eks_writes(aws, by_guard=True)[-2:] == ["CreateAccessEntry", "AssociateAccessPolicy"]
    guard_writes = eks_writes(aws, by_guard=True)
    pipeline.drain()
    assert eks_writes(aws, by_guard=True) == guard_writes


def test_an_event_delivered_twice_is_remediated_once(managed, pipeline, aws):
    aws.set_cloudtrail_delivery(twice_next=1)
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    before = len(eks_writes(aws, by_guard=True))
    pipeline.drain()
    assert len(eks_writes(aws, by_guard=True)) - before == 2
    assert len(pipeline.notifications(wait_seconds=2)) == 1


def test_events_delivered_out_of_order_end_at_the_baseline(managed, pipeline, aws):
    # given two changes whose events arrive newest first
    aws.set_cloudtrail_delivery(reverse_next=2)
    eks = managed["bob"].client("eks")
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    eks.update_access_entry(
        clusterName=CLUSTER, principalArn=managed["platform"], kubernetesGroups=["intruders"]
    )
    # when
    pipeline.drain()
    # then both are put right (each run reads the live state; none trusts the event's claim)
    access = {p["principalArn"]: p for p in aws.access(CLUSTER)["principals"]}
    assert managed["oncall"] in access and access[managed["platform"]]["kubernetesGroups"] == []


def test_the_creators_deletion_recovers_a_locked_out_config_map_cluster(pipeline, aws):
    # given a CONFIG_MAP cluster made by alice (its only admin, invisibly), under a baseline in detect mode
    alice = person("alice")
    make_cluster(alice, mode="CONFIG_MAP")
    platform = role("platform")
    push(pipeline, entry(platform, (ADMIN, None)), auth="API_AND_CONFIG_MAP", mode="detect")
    pipeline.drain()
    assert aws.access(CLUSTER)["authenticationMode"] == "CONFIG_MAP"
    # when alice leaves: nobody can administer the cluster any more
    iam = boto3.client("iam", region_name=REGION)
    for key in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="alice")
    pipeline.drain()
    assert aws.admins(CLUSTER) == []  # detect mode: told, not fixed
    # and the owners switch the baseline to enforce
    push(pipeline, entry(platform, (ADMIN, None)), auth="API_AND_CONFIG_MAP")
    pipeline.drain()
    # then the cluster is moved to API_AND_CONFIG_MAP and the platform role administers it
    assert aws.access(CLUSTER)["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert aws.admins(CLUSTER) == [platform]


def test_the_creators_deletion_is_remediated_on_its_own_iam_event(pipeline, aws):
    # given a CONFIG_MAP cluster made by alice, whose baseline's mode the cluster already has
    alice = person("alice")
    make_cluster(alice, mode="CONFIG_MAP")
    platform = role("platform")
    # (stored while no rule listens: the push itself does not reconcile the cluster)
    events = boto3.client("events", region_name=REGION)
    events.disable_rule(Name="eks-access-guard-baseline")
    push(pipeline, entry(platform, (ADMIN, None)), auth="API_AND_CONFIG_MAP")
    events.enable_rule(Name="eks-access-guard-baseline")
    # when alice is deleted (IAM's event names only "alice": the CONFIG_MAP cluster's creator may be her)
    iam = boto3.client("iam", region_name=REGION)
    for key in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="alice")
    pipeline.drain()
    # then the cluster is recovered: API_AND_CONFIG_MAP, and the baseline's admin
    assert aws.admins(CLUSTER) == [platform]


def test_a_deleted_baseline_raises_an_alert_and_changes_nothing(managed, pipeline, aws):
    writes = eks_writes(aws)
    BaselineStore(boto3.client("ssm", region_name=REGION), prefix=pipeline.prefix).delete(CLUSTER, REGION)
    pipeline.drain()
    assert eks_writes(aws) == writes
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    pipeline.drain()
    assert eks_writes(aws) == [*writes, "DeleteAccessEntry"]  # not managed any more: nothing put back


def test_a_crash_after_a_write_is_finished_by_the_retry(managed, pipeline, aws, monkeypatch):
    # given the remediation dies right after its first write
    write = EksWriter.write
    crashed: list[bool] = []

    def crash_once(self: EksWriter, cluster: str, action: Any) -> Any:
        result = write(self, cluster, action)
        if not crashed:
            crashed.append(True)
            raise RuntimeError("the Lambda died here")
        return result

    monkeypatch.setattr(EksWriter, "write", crash_once)
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    # when SQS hands the work item back and it runs again
    pipeline.drain()
    # then the cluster is at its baseline
    assert crashed
    [grant] = [p for p in aws.access(CLUSTER)["principals"] if p["principalArn"] == managed["oncall"]]
    assert [a["policyArn"] for a in grant["accessPolicies"]] == [VIEW]
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


def test_the_sweep_catches_what_no_event_reported(managed, pipeline, aws):
    # given an event that never arrives
    aws.set_cloudtrail_delivery(drop_next=1)
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    pipeline.drain()
    assert managed["oncall"] not in {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}
    # when the sweep runs
    report = pipeline.sweep()
    # then
    assert report["errors"] == [] and report["busy"] == []
    assert managed["oncall"] in {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}


def test_an_iam_principal_recreated_gets_its_entry_recreated(managed, pipeline, aws):
    iam = boto3.client("iam", region_name=REGION)
    iam.delete_role(RoleName="oncall")
    iam.create_role(RoleName="oncall", AssumeRolePolicyDocument=TRUST)
    pipeline.drain()
    access = aws.access(CLUSTER)
    assert managed["oncall"] in {p["principalArn"] for p in access["principals"]}
    assert access["inactiveEntries"] == []
    clients.clear_cache()
