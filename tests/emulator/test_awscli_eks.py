"""AWS's documented `aws eks` commands, run unchanged by the real AWS CLI against the emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from local.client import Emulator

from .helpers import run_aws_cli

pytestmark = pytest.mark.cli

ACCOUNT = "123456789012"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def aws_cli(endpoint: str, *args: str, ok: bool = True) -> Any:
    done = run_aws_cli(endpoint, *args, timeout=60)
    if not ok:
        assert done.returncode != 0, done.stdout
        return done.stderr
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture
def cluster(aws: Emulator) -> str:
    aws.set_eks_settings(mode_update_seconds=0.05)
    boto3.client("eks").create_cluster(
        name="C",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )
    return "C"


def role(name: str) -> str:
    return str(boto3.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def to_api_and_config_map() -> None:
    """Setup through boto3 (each CLI run costs seconds of start-up); the CLI runs only what is under test."""
    eks = boto3.client("eks")
    eks.update_cluster_config(name="C", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    deadline = time.monotonic() + 5
    while eks.describe_cluster(name="C")["cluster"]["status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_update_cluster_config_moves_the_mode(endpoint: str, cluster: str) -> None:
    update = aws_cli(
        endpoint,
        "eks",
        "update-cluster-config",
        "--name",
        "C",
        "--access-config",
        "authenticationMode=API_AND_CONFIG_MAP",
    )["update"]
    assert (update["status"], update["type"]) == ("InProgress", "AccessConfigUpdate")
    assert update["params"] == [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}]
    eks = boto3.client("eks")
    assert eks.describe_update(name="C", updateId=update["id"])["update"]["params"] == update["params"]
    deadline = time.monotonic() + 5
    while (
        eks.describe_cluster(name="C")["cluster"]["accessConfig"]["authenticationMode"]
        != "API_AND_CONFIG_MAP"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_create_list_and_describe_access_entries(endpoint: str, cluster: str) -> None:
    to_api_and_config_map()
    plain, custom = role("plain"), role("custom")
    # create-access-entry, with and without --kubernetes-groups and --username
    made = aws_cli(endpoint, "eks", "create-access-entry", "--cluster-name", "C", "--principal-arn", plain)
    assert made["accessEntry"]["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/plain/{{{{SessionName}}}}"
    assert made["accessEntry"]["kubernetesGroups"] == []
    aws_cli(
        endpoint,
        "eks",
        "create-access-entry",
        "--cluster-name",
        "C",
        "--principal-arn",
        custom,
        "--kubernetes-groups",
        "devs",
        "viewers",
        "--username",
        "custom-user",
    )
    listed = aws_cli(endpoint, "eks", "list-access-entries", "--cluster-name", "C")["accessEntries"]
    # and the entry EKS made for the creator (the account root here) when the cluster gained access entries
    assert sorted(listed) == sorted([plain, custom, f"arn:aws:iam::{ACCOUNT}:root"])
    entry = aws_cli(
        endpoint, "eks", "describe-access-entry", "--cluster-name", "C", "--principal-arn", custom
    )["accessEntry"]
    assert (entry["username"], entry["kubernetesGroups"], entry["type"]) == (
        "custom-user",
        ["devs", "viewers"],
        "STANDARD",
    )
    assert (
        entry["accessEntryArn"]
        == boto3.client("eks").describe_access_entry(clusterName="C", principalArn=custom)["accessEntry"][
            "accessEntryArn"
        ]
    )


def test_associate_access_policy_with_json_and_shorthand_scopes(
    endpoint: str, cluster: str, aws: Emulator
) -> None:
    to_api_and_config_map()
    eks = boto3.client("eks")
    admin, editor = role("admin"), role("editor")
    for arn in (admin, editor):
        eks.create_access_entry(clusterName="C", principalArn=arn)
    base = ["eks", "associate-access-policy", "--cluster-name", "C"]
    cluster_scoped = aws_cli(
        endpoint,
        *base,
        "--principal-arn",
        admin,
        "--policy-arn",
        ADMIN,
        "--access-scope",
        '{"type": "cluster"}',
    )
    assert cluster_scoped["associatedAccessPolicy"]["accessScope"] == {"type": "cluster", "namespaces": []}
    namespaced = aws_cli(
        endpoint,
        *base,
        "--principal-arn",
        editor,
        "--policy-arn",
        EDIT,
        "--access-scope",
        "type=namespace,namespaces=default",
    )
    assert namespaced["associatedAccessPolicy"]["accessScope"] == {
        "type": "namespace",
        "namespaces": ["default"],
    }
    # The shorthand exactly as AWS's guide writes it, with a bracketed list: it re-scopes the association.
    rescoped = aws_cli(
        endpoint,
        *base,
        "--principal-arn",
        editor,
        "--policy-arn",
        EDIT,
        "--access-scope",
        "type=namespace,namespaces=[default,dev-*]",
    )
    assert rescoped["associatedAccessPolicy"]["accessScope"] == {
        "type": "namespace",
        "namespaces": ["default", "dev-*"],
    }
    listed = eks.list_associated_access_policies(clusterName="C", principalArn=editor)[
        "associatedAccessPolicies"
    ]
    assert [(p["policyArn"], p["accessScope"]["namespaces"]) for p in listed] == [
        (EDIT, ["default", "dev-*"])
    ]
    assert admin in aws.admins("C") and editor not in aws.admins("C")
