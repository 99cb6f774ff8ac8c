"""Conformance: access entries behave as real EKS's do (reference section 2, "Entries")."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from local.client import Emulator

from .helpers import refused

ACCOUNT = "123456789012"
CLUSTER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
STANDARD_ONLY = 'This operation can only be performed on Access Entries with a type of "STANDARD".'


def cluster(name: str = "c", mode: str = "API_AND_CONFIG_MAP", bootstrap: bool = False) -> str:
    boto3.client("eks").create_cluster(
        name=name,
        roleArn=CLUSTER_ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": bootstrap},
    )
    return name


def role(name: str, path: str = "/") -> str:
    return boto3.client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)["Role"][
        "Arn"
    ]


def user(name: str) -> str:
    return boto3.client("iam").create_user(UserName=name)["User"]["Arn"]


@pytest.fixture
def eks(aws: Emulator) -> Any:
    return boto3.client("eks")


# --- create and describe -------------------------------------------------------------------------


def test_a_new_entry_has_the_documented_shape(eks: Any) -> None:
    # given a cluster in API_AND_CONFIG_MAP and a role with a path
    cluster()
    arn = role("deployer", path="/ci/")
    # when an entry is created with only the principal
    created = eks.create_access_entry(clusterName="c", principalArn=arn)["accessEntry"]
    # then it is a STANDARD entry with [] groups, {} tags, a generated username and an ARN without the path
    assert created["type"] == "STANDARD"
    assert created["kubernetesGroups"] == []
    assert created["tags"] == {}
    assert created["clusterName"] == "c"
    assert created["principalArn"] == arn
    assert created["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/{{{{SessionName}}}}"
    assert re.fullmatch(
        rf"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/c/role/{ACCOUNT}/deployer/[0-9a-f-]{{36}}",
        created["accessEntryArn"],
    )
    assert created["createdAt"] == created["modifiedAt"]
    assert eks.describe_access_entry(clusterName="c", principalArn=arn)["accessEntry"] == created


def test_a_users_generated_username_is_its_arn(eks: Any) -> None:
    cluster()
    arn = user("alice")
    created = eks.create_access_entry(clusterName="c", principalArn=arn)["accessEntry"]
    assert created["username"] == arn
    assert re.fullmatch(
        rf"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/c/user/{ACCOUNT}/alice/.+", created["accessEntryArn"]
    )


def in_other_account(account: str) -> boto3.Session:
    """A session signed for another account (moto resolves the account from the assumed role's keys)."""
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def test_an_entry_arn_names_the_clusters_account_first_and_the_principals_after_its_type(eks: Any) -> None:
    # given a role with a path in another account
    other = "111122223333"
    arn = (
        in_other_account(other)
        .client("iam")
        .create_role(RoleName="auditor", Path="/security/", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    )
    cluster()
    # when it gets an entry on a cluster of this account
    created = eks.create_access_entry(clusterName="c", principalArn=arn)["accessEntry"]
    # then the entry ARN is in the cluster's account and region, and names the principal's account, without
    # the role's path
    assert re.fullmatch(
        rf"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/c/role/{other}/auditor/[0-9a-f-]{{36}}",
        created["accessEntryArn"],
    )


def test_an_entry_for_the_account_root_has_type_and_name_root(eks: Any) -> None:
    # given a cluster created in API mode by the account's root (moto's default credentials sign as root)
    boto3.client("eks").create_cluster(
        name="c",
        roleArn=CLUSTER_ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True},
    )
    root = f"arn:aws:iam::{ACCOUNT}:root"
    # when the creator's entry is described
    entry = eks.describe_access_entry(clusterName="c", principalArn=root)["accessEntry"]
    # then its ARN keeps the five segments of the documented form, with type and name "root"
    assert re.fullmatch(
        rf"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/c/root/{ACCOUNT}/root/[0-9a-f-]{{36}}",
        entry["accessEntryArn"],
    )


def test_entry_arns_are_unique_per_entry(eks: Any) -> None:
    cluster()
    cluster("d")
    arn = role("dev")
    first = eks.create_access_entry(clusterName="c", principalArn=arn)["accessEntry"]["accessEntryArn"]
    second = eks.create_access_entry(clusterName="d", principalArn=arn)["accessEntry"]["accessEntryArn"]
    eks.delete_access_entry(clusterName="c", principalArn=arn)
    again = eks.create_access_entry(clusterName="c", principalArn=arn)["accessEntry"]["accessEntryArn"]
    assert "/c/role/" in first and "/d/role/" in second
    assert len({first, second, again}) == 3


def test_custom_username_groups_and_tags_are_kept(eks: Any) -> None:
    cluster()
    arn = role("dev")
    created = eks.create_access_entry(
        clusterName="c",
        principalArn=arn,
        username="dev:{{SessionName}}",
        kubernetesGroups=["devs"],
        tags={"t": "v"},
    )["accessEntry"]
    assert (created["username"], created["kubernetesGroups"], created["tags"]) == (
        "dev:{{SessionName}}",
        ["devs"],
        {"t": "v"},
    )


def test_an_sso_role_with_a_long_path_is_accepted(eks: Any) -> None:
    cluster()
    arn = role("AWSReservedSSO_Admin_0123456789abcdef", path="/aws-reserved/sso.amazonaws.com/eu-west-1/")
    created = eks.create_access_entry(clusterName="c", principalArn=arn)["accessEntry"]
    assert created["principalArn"] == arn
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [arn]


def test_a_second_entry_for_the_same_principal_is_in_use(eks: Any) -> None:
    cluster()
    arn = role("dev")
    eks.create_access_entry(clusterName="c", principalArn=arn)
    assert refused(lambda: eks.create_access_entry(clusterName="c", principalArn=arn)) == (
        "ResourceInUseException",
        409,
        "The specified access entry resource is already in use on this cluster.",
    )


# --- the principal -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/missing",
        f"arn:aws:iam::{ACCOUNT}:user/missing",
        "arn:aws:iam::111122223333:role/dev",  # exists only in the cluster's account
        f"arn:aws:iam::{ACCOUNT}:role/wrong-path/dev",  # the role exists, under another path
    ],
)
def test_a_principal_that_does_not_exist_is_invalid(eks: Any, arn: str) -> None:
    cluster()
    role("dev")
    assert refused(lambda: eks.create_access_entry(clusterName="c", principalArn=arn)) == (
        "InvalidParameterException",
        400,
        "The specified principalArn is invalid: invalid principal.",
    )


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/dev/session",
        "dev",
        f"arn:aws:iam::{ACCOUNT}:group/devs",
        f"arn:aws:iam::{ACCOUNT}:policy/p",
        "arn:aws:iam::12345:role/dev",
        f"arn:aws:iam::{ACCOUNT}:role/",
    ],
)
def test_session_and_malformed_arns_have_an_invalid_format(eks: Any, arn: str) -> None:
    cluster()
    role("dev")
    assert refused(lambda: eks.create_access_entry(clusterName="c", principalArn=arn)) == (
        "InvalidParameterException",
        400,
        "The principalArn parameter format is not valid",
    )


def test_a_service_linked_role_is_refused(eks: Any) -> None:
    cluster()
    arn = boto3.client("iam").create_service_linked_role(AWSServiceName="eks.amazonaws.com")["Role"]["Arn"]
    code, status, message = refused(lambda: eks.create_access_entry(clusterName="c", principalArn=arn))
    assert (code, status) == ("InvalidParameterException", 400)
    assert "service-linked" in message
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == []


# --- usernames, groups, tags ----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["system:", "eks:", "aws:", "amazon:", "iam:"])
def test_a_username_with_a_reserved_prefix_is_refused(eks: Any, prefix: str) -> None:
    cluster()
    arn = role("dev")
    assert refused(
        lambda: eks.create_access_entry(clusterName="c", principalArn=arn, username=f"{prefix}me")
    ) == (
        "InvalidParameterException",
        400,
        f"The username must not begin with {prefix}",
    )


@pytest.mark.parametrize("placeholder", ["{{SessionName}}", "{{SessionNameRaw}}"])
def test_a_session_placeholder_needs_a_colon_before_it(eks: Any, placeholder: str) -> None:
    cluster()
    arn = role("dev")
    code, status, message = refused(
        lambda: eks.create_access_entry(clusterName="c", principalArn=arn, username=f"dev-{placeholder}")
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert placeholder in message
    made = eks.create_access_entry(clusterName="c", principalArn=arn, username=f"dev:{placeholder}")[
        "accessEntry"
    ]
    assert made["username"] == f"dev:{placeholder}"


def test_a_group_starting_with_system_is_refused(eks: Any) -> None:
    cluster()
    arn = role("dev")
    assert refused(
        lambda: eks.create_access_entry(
            clusterName="c", principalArn=arn, kubernetesGroups=["ok", "system:masters"]
        )
    ) == (
        "InvalidParameterException",
        400,
        "The kubernetes group name system:masters is invalid, it cannot start with system:",
    )
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == []


def test_fifty_tags_are_accepted_and_fifty_one_refused(eks: Any) -> None:
    cluster()
    first, second = role("a"), role("b")
    fifty = {f"k{i}": "v" for i in range(50)}
    assert (
        eks.create_access_entry(clusterName="c", principalArn=first, tags=fifty)["accessEntry"]["tags"]
        == fifty
    )
    code, status, _ = refused(
        lambda: eks.create_access_entry(clusterName="c", principalArn=second, tags={**fifty, "k50": "v"})
    )
    assert (code, status) == ("InvalidParameterException", 400)


# --- types ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry_type", "username", "groups"),
    [
        ("EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", ["system:nodes"]),
        ("FARGATE_LINUX", "system:node:{{SessionName}}", None),
        ("HYBRID_LINUX", "system:node:{{SessionName}}", None),
        ("EC2_WINDOWS", "system:node:{{EC2PrivateDNSName}}", None),
        ("EC2", "system:node:{{EC2PrivateDNSName}}", None),
        ("HYPERPOD_LINUX", "system:node:{{EC2PrivateDNSName}}", None),
    ],
)
def test_node_entries_come_back_with_eks_own_username_and_groups(
    eks: Any, entry_type: str, username: str, groups: list[str] | None
) -> None:
    cluster()
    arn = role("nodes")
    created = eks.create_access_entry(clusterName="c", principalArn=arn, type=entry_type)["accessEntry"]
    assert created["type"] == entry_type
    assert created["username"] == username
    if groups is not None:
        assert created["kubernetesGroups"] == groups


def test_a_node_entry_takes_only_a_role_of_the_clusters_account(eks: Any) -> None:
    cluster()
    arn = user("bob")
    code, status, _ = refused(
        lambda: eks.create_access_entry(clusterName="c", principalArn=arn, type="EC2_LINUX")
    )
    assert (code, status) == ("InvalidParameterException", 400)
    other = "arn:aws:iam::111122223333:role/nodes"
    code, status, _ = refused(
        lambda: eks.create_access_entry(clusterName="c", principalArn=other, type="EC2_LINUX")
    )
    assert (code, status) == ("InvalidParameterException", 400)


@pytest.mark.parametrize("field", [{"username": "node:x"}, {"kubernetesGroups": ["nodes"]}])
def test_a_node_entry_takes_no_username_or_groups(eks: Any, field: dict[str, Any]) -> None:
    cluster()
    arn = role("nodes")
    assert refused(
        lambda: eks.create_access_entry(clusterName="c", principalArn=arn, type="EC2_LINUX", **field)
    ) == (
        "InvalidParameterException",
        400,
        STANDARD_ONLY,
    )


def test_an_unknown_type_is_refused(eks: Any) -> None:
    cluster()
    arn = role("nodes")
    code, status, _ = refused(
        lambda: eks.create_access_entry(clusterName="c", principalArn=arn, type="EC2_MAC")
    )
    assert (code, status) == ("InvalidParameterException", 400)


def test_updating_a_node_entry_with_standard_fields_is_refused_and_its_type_stays(eks: Any) -> None:
    cluster()
    arn = role("nodes")
    eks.create_access_entry(clusterName="c", principalArn=arn, type="EC2_LINUX")
    assert refused(lambda: eks.update_access_entry(clusterName="c", principalArn=arn, username="me")) == (
        "InvalidParameterException",
        400,
        STANDARD_ONLY,
    )
    described = eks.describe_access_entry(clusterName="c", principalArn=arn)["accessEntry"]
    assert (described["type"], described["kubernetesGroups"]) == ("EC2_LINUX", ["system:nodes"])


# --- update and delete ---------------------------------------------------------------------------


def test_update_replaces_username_and_groups_and_bumps_modified_at(eks: Any) -> None:
    cluster()
    arn = role("dev")
    created = eks.create_access_entry(clusterName="c", principalArn=arn, kubernetesGroups=["a"])[
        "accessEntry"
    ]
    updated = eks.update_access_entry(
        clusterName="c", principalArn=arn, username="dev", kubernetesGroups=["b", "c"]
    )["accessEntry"]
    assert (updated["username"], updated["kubernetesGroups"]) == ("dev", ["b", "c"])
    assert updated["createdAt"] == created["createdAt"]
    assert updated["modifiedAt"] > created["modifiedAt"]


def test_update_keeps_what_it_is_not_given(eks: Any) -> None:
    cluster()
    arn = role("dev")
    eks.create_access_entry(clusterName="c", principalArn=arn, username="dev", kubernetesGroups=["a"])
    updated = eks.update_access_entry(clusterName="c", principalArn=arn, kubernetesGroups=[])["accessEntry"]
    assert (updated["username"], updated["kubernetesGroups"]) == ("dev", [])


def test_update_applies_the_same_username_and_group_rules(eks: Any) -> None:
    cluster()
    arn = role("dev")
    eks.create_access_entry(clusterName="c", principalArn=arn)
    assert refused(lambda: eks.update_access_entry(clusterName="c", principalArn=arn, username="eks:x"))[
        2
    ] == ("The username must not begin with eks:")
    assert refused(
        lambda: eks.update_access_entry(clusterName="c", principalArn=arn, kubernetesGroups=["system:x"])
    )[:2] == ("InvalidParameterException", 400)


@pytest.mark.parametrize("operation", ["describe_access_entry", "update_access_entry", "delete_access_entry"])
def test_a_missing_entry_is_not_found(eks: Any, operation: str) -> None:
    cluster()
    arn = role("dev")
    assert refused(lambda: getattr(eks, operation)(clusterName="c", principalArn=arn)) == (
        "ResourceNotFoundException",
        404,
        "The specified principalArn could not be found. You can view your available access entries with "
        "'list-access-entries'.",
    )


def test_delete_removes_the_entry_and_its_associations(eks: Any) -> None:
    cluster()
    arn = role("dev")
    eks.create_access_entry(clusterName="c", principalArn=arn)
    eks.associate_access_policy(
        clusterName="c",
        principalArn=arn,
        policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        accessScope={"type": "cluster"},
    )
    eks.delete_access_entry(clusterName="c", principalArn=arn)
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == []
    eks.create_access_entry(clusterName="c", principalArn=arn)
    assert (
        eks.list_associated_access_policies(clusterName="c", principalArn=arn)["associatedAccessPolicies"]
        == []
    )


def test_entries_are_per_cluster(eks: Any) -> None:
    cluster("one")
    cluster("two")
    arn = role("dev")
    eks.create_access_entry(clusterName="one", principalArn=arn)
    assert eks.list_access_entries(clusterName="two")["accessEntries"] == []
    eks.create_access_entry(clusterName="two", principalArn=arn)
    assert eks.list_access_entries(clusterName="one")["accessEntries"] == [arn]


def test_an_iam_identity_center_role_with_its_path_is_served_like_any_role(aws):
    # given a role under IAM Identity Center's path, whose ARN holds `sso.amazonaws.com`
    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_role(
        RoleName="AWSReservedSSO_Admin_0123456789abcdef",
        Path="/aws-reserved/sso.amazonaws.com/eu-west-1/",
        AssumeRolePolicyDocument="{}",
    )["Role"]["Arn"]
    eks = boto3.client("eks", region_name="us-east-1")
    iam.create_role(RoleName="sso-cluster-role", AssumeRolePolicyDocument="{}")
    eks.create_cluster(
        name="sso",
        roleArn="arn:aws:iam::123456789012:role/sso-cluster-role",
        resourcesVpcConfig={"subnetIds": ["s"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    # when its entry is created, given a policy and read back (its ARN travels in the path)
    eks.create_access_entry(clusterName="sso", principalArn=arn)
    eks.associate_access_policy(
        clusterName="sso",
        principalArn=arn,
        policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        accessScope={"type": "cluster"},
    )
    # then the emulator answers for this cluster's region, as EKS does
    assert (
        eks.describe_access_entry(clusterName="sso", principalArn=arn)["accessEntry"]["principalArn"] == arn
    )
    policies = eks.list_associated_access_policies(clusterName="sso", principalArn=arn)
    assert [p["policyArn"].rsplit("/", 1)[-1] for p in policies["associatedAccessPolicies"]] == [
        "AmazonEKSViewPolicy"
    ]
