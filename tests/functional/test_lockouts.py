"""Every lockout the safety issue names, as a scenario judged by the emulator's access oracle (and checked
after every write by oracle_watch), and the safe cases that must keep working."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from access_guard.adapters import clients
from access_guard.cli.main import main as access_guard

from .oracle_watch import watching
from .scenario import ACCOUNT, ADMIN, REGION, TRUST, VIEW, baseline, baseline_doc, entry, reconciler, role

CLUSTER = "payments"
OTHER_ACCOUNT = "210987654321"


def eks() -> Any:
    return boto3.client("eks", region_name=REGION)


def cluster_made_by_a_user_who_then_leaves(aws: Any, mode: str = "CONFIG_MAP") -> None:
    """A cluster created by IAM user alice (the API's defaults: CONFIG_MAP), whose user is then deleted."""
    iam = boto3.client("iam", region_name=REGION)
    if "eks-cluster" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}:
        role("eks-cluster")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    session.client("eks").create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": mode,
            "bootstrapClusterCreatorAdminPermissions": mode == "CONFIG_MAP",
        },
    )
    iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="alice")


def aws_auth_admin(aws: Any, name: str = "ops") -> str:
    arn = role(name)
    aws.set_aws_auth(CLUSTER, map_roles=[{"rolearn": arn, "username": name, "groups": ["system:masters"]}])
    return arn


def add_entry(arn: str, *policies: tuple[str, list[str] | None], **kwargs: Any) -> None:
    eks().create_access_entry(clusterName=CLUSTER, principalArn=arn, **kwargs)
    for policy, namespaces in policies:
        scope = {"type": "cluster"} if namespaces is None else {"type": "namespace", "namespaces": namespaces}
        eks().associate_access_policy(
            clusterName=CLUSTER, principalArn=arn, policyArn=policy, accessScope=scope
        )


def foreign_role(name: str) -> str:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/bootstrap", RoleSessionName="setup"
    )["Credentials"]
    iam = boto3.client(
        "iam",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def apply_watched(wanted: Any, admins: set[str]) -> Any:
    guard, _ = reconciler(mode_update_poll_seconds=0.02)
    with watching(CLUSTER, admins) as watch:
        outcome = guard.apply(wanted)
    assert watch.violations == [], watch.violations
    return outcome


@pytest.fixture
def fast(aws: Any) -> Any:
    aws.set_eks_settings(mode_update_seconds=0.05)
    return aws


# --- the lockouts ------------------------------------------------------------------------------------------


def test_no_move_to_api_while_the_only_admin_is_an_aws_auth_role(fast):
    # given the creator gone and an aws-auth role the only admin, and a baseline asking for API and a viewer
    cluster_made_by_a_user_who_then_leaves(fast)
    ops = aws_auth_admin(fast)
    viewer = role("viewer")
    wanted = baseline(CLUSTER, [entry(viewer, (VIEW, ["apps"]))], auth="API")
    # when
    outcome = apply_watched(wanted, set())
    # then the aws-auth admin can still get in, and the outcome says the baseline was not reached and why
    assert fast.admins(CLUSTER) == [ops]
    assert fast.access(CLUSTER)["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert not outcome.reached_baseline
    assert any(r.startswith("not moving the authentication mode to API") for r in outcome.refusals)


def test_no_move_to_api_when_the_baselines_admin_cannot_be_created(fast):
    # given the baseline's admin role was deleted from IAM
    cluster_made_by_a_user_who_then_leaves(fast)
    ops = aws_auth_admin(fast)
    platform = role("platform")
    boto3.client("iam").delete_role(RoleName="platform")
    wanted = baseline(CLUSTER, [entry(platform, (ADMIN, None))], auth="API")
    # when
    outcome = apply_watched(wanted, {platform})
    # then
    assert fast.admins(CLUSTER) == [ops]
    assert f"cannot create the entry for {platform}: the IAM principal does not exist" in outcome.warnings
    assert any(f"{platform} no longer exists in IAM" in r for r in outcome.refusals)


@pytest.mark.parametrize("where", ["same account", "another account"])
def test_the_only_admin_listed_as_a_node_entry_keeps_its_entry(fast, where):
    # given an API cluster whose only admin is listed in the baseline as an EC2_LINUX (node) entry
    cluster_made_by_a_user_who_then_leaves(fast, mode="API")
    admin = role("admin") if where == "same account" else foreign_role("partner-admin")
    add_entry(admin, (ADMIN, None))
    wanted = baseline(CLUSTER, [{"principalARN": admin, "type": "EC2_LINUX"}], auth="API")
    # when
    outcome = apply_watched(wanted, set())
    # then its admin entry is not deleted (a node entry would grant no admin; another account's role cannot
    # even be one)
    assert fast.admins(CLUSTER) == [admin]
    assert any(r.startswith(f"not changing the type of {admin}") for r in outcome.refusals)


def test_a_baseline_admin_of_another_account_never_licenses_removing_the_last_local_admin(fast):
    # given the baseline's only admin is another account's role, deleted there; the last admin is local
    cluster_made_by_a_user_who_then_leaves(fast, mode="API")
    partner = foreign_role("partner")
    add_entry(partner, (ADMIN, None))
    local_admin = role("local-admin")
    add_entry(local_admin, (ADMIN, None))
    wanted = baseline(CLUSTER, [entry(partner, (ADMIN, None))], auth="API", prune=True)
    delete_foreign_role("partner")
    # when
    outcome = apply_watched(wanted, {partner})
    # then the local admin stays: IAM here cannot confirm the partner role exists
    assert fast.admins(CLUSTER) == [local_admin]
    assert any("cannot be confirmed to exist" in r for r in outcome.refusals)


def delete_foreign_role(name: str) -> None:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/bootstrap", RoleSessionName="setup"
    )["Credentials"]
    boto3.client(
        "iam",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).delete_role(RoleName=name)


@pytest.mark.parametrize(
    ("wanted_policies", "refused"),
    [([], "not disassociating AmazonEKSClusterAdminPolicy"), ([(ADMIN, ["ops"])], "not narrowing")],
    ids=["disassociated", "re-scoped to a namespace"],
)
def test_the_only_admins_cluster_admin_is_not_taken_away(fast, wanted_policies, refused):
    cluster_made_by_a_user_who_then_leaves(fast, mode="API")
    only = role("only-admin")
    add_entry(only, (ADMIN, None))
    wanted = baseline(CLUSTER, [entry(only, *wanted_policies)], auth="API")
    outcome = apply_watched(wanted, set())
    assert fast.admins(CLUSTER) == [only]
    assert any(r.startswith(refused) for r in outcome.refusals)


def test_pruning_keeps_node_entries_eks_made(fast):
    # given node and Fargate entries (made by EKS for node groups) that the baseline does not name
    cluster_made_by_a_user_who_then_leaves(fast, mode="API")
    admins, nodes, pods = role("admins"), role("nodes"), role("fargate-pods")
    add_entry(admins, (ADMIN, None))
    add_entry(nodes, type="EC2_LINUX")
    add_entry(pods, type="FARGATE_LINUX")
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], auth="API", prune=True)
    # when
    outcome = apply_watched(wanted, {admins})
    # then they are still there, and there was nothing to do
    assert outcome.reached_baseline and outcome.results == ()
    assert {nodes, pods} <= set(eks().list_access_entries(clusterName=CLUSTER)["accessEntries"])


def next_minor_version() -> str:
    """One Kubernetes minor version above the cluster's (the only upgrade EKS accepts)."""
    major, minor = eks().describe_cluster(name=CLUSTER)["cluster"]["version"].split(".")
    return f"{major}.{int(minor) + 1}"


def test_entry_work_goes_ahead_while_a_version_upgrade_runs(fast):
    # given a version upgrade running for a while, and an entry deleted by mistake
    fast.set_eks_settings(other_update_seconds=30)
    cluster_made_by_a_user_who_then_leaves(fast, mode="API")
    admins, viewer = role("admins"), role("viewer")
    add_entry(admins, (ADMIN, None))
    eks().update_cluster_version(name=CLUSTER, version=next_minor_version())
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None)), entry(viewer, (VIEW, ["apps"]))], auth="API")
    # when
    outcome = apply_watched(wanted, {admins})
    # then the entry is back, with the upgrade still running: nothing waited for it
    assert outcome.reached_baseline
    assert eks().describe_cluster(name=CLUSTER)["cluster"]["status"] == "UPDATING"
    assert viewer in eks().list_access_entries(clusterName=CLUSTER)["accessEntries"]


def test_a_mode_step_blocked_by_a_version_upgrade_ends_in_progress_without_waiting(fast):
    fast.set_eks_settings(other_update_seconds=30)
    cluster_made_by_a_user_who_then_leaves(fast, mode="API_AND_CONFIG_MAP")
    admins = role("admins")
    add_entry(admins, (ADMIN, None))
    eks().update_cluster_version(name=CLUSTER, version=next_minor_version())
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], auth="API")
    outcome = apply_watched(wanted, {admins})
    assert outcome.succeeded and not outcome.reached_baseline
    assert outcome.in_progress and "another update is running" in outcome.in_progress


def test_a_mode_update_that_ends_failed_is_a_failed_step_not_a_crash(fast, capsys, tmp_path):
    fast.set_eks_settings(fail_mode_updates=1)
    cluster_made_by_a_user_who_then_leaves(fast)
    platform = role("platform")
    path = tmp_path / "b.json"
    path.write_text(__import__("json").dumps(baseline_doc(CLUSTER, [entry(platform, (ADMIN, None))])))
    clients.clear_cache()
    assert access_guard(["--region", REGION, "baseline", "push", str(path)]) == 0
    code = access_guard(
        ["--region", REGION, "apply", "--cluster", CLUSTER, "--yes", "--poll-seconds", "0.02"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "authentication mode CONFIG_MAP -> API_AND_CONFIG_MAP: FAILED: mode update" in out
    assert "ended Failed" in out


# --- what must keep working ----------------------------------------------------------------------------


def test_a_rogue_admin_is_removed_while_a_baseline_admin_works(fast):
    cluster_made_by_a_user_who_then_leaves(fast, mode="API")
    admins, rogue = role("admins"), role("rogue")
    add_entry(admins, (ADMIN, None))
    add_entry(rogue, (ADMIN, None))
    wanted = baseline(CLUSTER, [entry(admins, (ADMIN, None))], auth="API", prune=True)
    outcome = apply_watched(wanted, {admins})
    assert outcome.reached_baseline
    assert fast.admins(CLUSTER) == [admins]


def test_the_classic_lockout_is_recovered_all_the_way_to_api(fast):
    # given the creator of a CONFIG_MAP cluster deleted: nobody can administer it
    cluster_made_by_a_user_who_then_leaves(fast)
    assert fast.admins(CLUSTER) == []
    platform = role("platform", "/platform/")
    wanted = baseline(CLUSTER, [entry(platform, (ADMIN, None))], auth="API", prune=True)
    # when
    outcome = apply_watched(wanted, {platform})
    # then the baseline admin works, and the cluster is in API mode (the move came after the admin worked)
    assert outcome.reached_baseline, outcome.to_json()
    access = fast.access(CLUSTER)
    assert access["authenticationMode"] == "API"
    assert fast.admins(CLUSTER) == [platform]
