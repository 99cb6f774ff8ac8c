"""The access oracle: who can really get into a cluster (principal binding, creator, aws-auth, modes)."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from local.client import Emulator, EmulatorError
from local.eks.oracle import AwsAuth, ClusterView, Creator, EntryView, IamView, compute_access, parse_aws_auth
from local.eks.rules import parse_principal_arn

ACCOUNT = "123456789012"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def create_cluster(eks: Any, mode: str = "CONFIG_MAP", bootstrap: bool = True) -> None:
    eks.create_cluster(
        name="c",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": bootstrap},
    )


def move_to(eks: Any, mode: str) -> None:
    update = eks.update_cluster_config(name="c", accessConfig={"authenticationMode": mode})["update"]
    deadline = time.monotonic() + 5
    while eks.describe_update(name="c", updateId=update["id"])["update"]["status"] != "Successful":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def role(name: str, path: str = "/") -> str:
    return str(
        boto3.client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)["Role"][
            "Arn"
        ]
    )


def admin_entry(eks: Any, arn: str) -> None:
    eks.create_access_entry(clusterName="c", principalArn=arn)
    eks.associate_access_policy(
        clusterName="c", principalArn=arn, policyArn=ADMIN, accessScope={"type": "cluster"}
    )


def signed_as_new_user(name: str) -> tuple[Any, str, str]:
    iam = boto3.client("iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name="us-east-1",
    )
    return session.client("eks"), arn, key["AccessKeyId"]


def delete_user(name: str, key_id: str) -> None:
    iam = boto3.client("iam")
    iam.delete_access_key(UserName=name, AccessKeyId=key_id)
    iam.delete_user(UserName=name)


def by_arn(access: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["principalArn"]: p for p in access["principals"]}


@pytest.fixture
def eks(aws: Emulator) -> Any:
    aws.set_eks_settings(mode_update_seconds=0.05)
    return boto3.client("eks")


# --- the creator ---------------------------------------------------------------------------------


def test_the_config_map_creator_is_an_invisible_admin(aws: Emulator, eks: Any) -> None:
    alice, alice_arn, _ = signed_as_new_user("alice")
    create_cluster(alice)
    access = aws.access("c")
    assert access["authenticationMode"] == "CONFIG_MAP"
    assert by_arn(access)[alice_arn]["source"] == "cluster-creator"
    assert aws.admins("c") == [alice_arn]


def test_the_classic_lockout_and_its_documented_recovery(aws: Emulator, eks: Any) -> None:
    # given a cluster created in CONFIG_MAP by an IAM user whose key signed CreateCluster
    alice, alice_arn, key_id = signed_as_new_user("alice")
    create_cluster(alice)
    assert aws.admins("c") == [alice_arn]
    # when the user is deleted, nobody can administer the cluster
    delete_user("alice", key_id)
    assert aws.admins("c") == []
    # then moving to API_AND_CONFIG_MAP and giving another role an admin entry gets someone back in
    platform = role("platform-admins", path="/platform/")
    move_to(eks, "API_AND_CONFIG_MAP")
    admin_entry(eks, platform)
    assert aws.admins("c") == [platform]
    assert by_arn(aws.access("c"))[platform]["source"] == "access-entry"


def test_a_recreated_creator_does_not_get_the_invisible_admin_back(aws: Emulator, eks: Any) -> None:
    alice, _, key_id = signed_as_new_user("alice")
    create_cluster(alice)
    delete_user("alice", key_id)
    boto3.client("iam").create_user(UserName="alice")
    assert aws.admins("c") == []


def test_gaining_access_entries_turns_the_creators_invisible_admin_into_an_entry(
    aws: Emulator, eks: Any
) -> None:
    # given a cluster created in CONFIG_MAP by an IAM user
    alice, alice_arn, _ = signed_as_new_user("alice")
    create_cluster(alice)
    # when it moves to API_AND_CONFIG_MAP
    move_to(eks, "API_AND_CONFIG_MAP")
    # then EKS has made a STANDARD entry for the creator with cluster-admin at cluster scope
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [alice_arn]
    entry = eks.describe_access_entry(clusterName="c", principalArn=alice_arn)["accessEntry"]
    assert (entry["type"], entry["username"], entry["kubernetesGroups"]) == ("STANDARD", alice_arn, [])
    policies = eks.list_associated_access_policies(clusterName="c", principalArn=alice_arn)
    assert [(p["policyArn"], p["accessScope"]) for p in policies["associatedAccessPolicies"]] == [
        (ADMIN, {"type": "cluster", "namespaces": []})
    ]
    # and the creator is an admin through that entry, no longer invisibly
    assert aws.admins("c") == [alice_arn]
    assert by_arn(aws.access("c"))[alice_arn]["source"] == "access-entry"


def test_after_the_switch_deleting_the_creators_entry_takes_its_admin_away(aws: Emulator, eks: Any) -> None:
    # given a CONFIG_MAP-born cluster moved to API_AND_CONFIG_MAP (the creator's entry made by EKS)
    alice, alice_arn, _ = signed_as_new_user("alice")
    create_cluster(alice)
    move_to(eks, "API_AND_CONFIG_MAP")
    # when that entry is deleted (say, by a remediator that prunes what is not in its baseline)
    eks.delete_access_entry(clusterName="c", principalArn=alice_arn)
    # then no invisible admin is left behind: the creator is locked out
    assert aws.admins("c") == []


def test_the_creators_entry_keeps_its_admin_in_api_mode(aws: Emulator, eks: Any) -> None:
    alice, alice_arn, _ = signed_as_new_user("alice")
    create_cluster(alice)
    move_to(eks, "API_AND_CONFIG_MAP")
    move_to(eks, "API")
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [alice_arn]
    assert aws.admins("c") == [alice_arn]


def test_a_creator_deleted_before_the_switch_gets_an_entry_that_grants_nothing(
    aws: Emulator, eks: Any
) -> None:
    # given a CONFIG_MAP cluster whose creator was deleted, then recreated under the same name
    alice, alice_arn, key_id = signed_as_new_user("alice")
    create_cluster(alice)
    delete_user("alice", key_id)
    boto3.client("iam").create_user(UserName="alice")
    # when the cluster gains access entries
    move_to(eks, "API_AND_CONFIG_MAP")
    # then the entry EKS makes is bound to the creator as it was at cluster creation: it grants nothing
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [alice_arn]
    access = aws.access("c")
    assert access["principals"] == []
    assert access["inactiveEntries"] == [{"principalArn": alice_arn, "reason": "principal-recreated"}]


def test_a_cluster_born_with_access_entries_gets_no_second_creator_entry(aws: Emulator, eks: Any) -> None:
    # given a cluster created in API_AND_CONFIG_MAP without the creator's admin
    alice, _, _ = signed_as_new_user("alice")
    create_cluster(alice, mode="API_AND_CONFIG_MAP", bootstrap=False)
    # when it moves to API
    move_to(eks, "API")
    # then EKS makes no entry for the creator: only a CONFIG_MAP-born cluster's creator had one to show
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == []
    assert aws.admins("c") == []


def test_in_api_mode_the_creators_entry_is_its_only_access(aws: Emulator, eks: Any) -> None:
    alice, alice_arn, _ = signed_as_new_user("alice")
    create_cluster(alice, mode="API")
    assert by_arn(aws.access("c"))[alice_arn]["source"] == "access-entry"
    eks.delete_access_entry(clusterName="c", principalArn=alice_arn)
    assert aws.admins("c") == []


# --- principal binding ---------------------------------------------------------------------------


def test_an_entry_for_a_deleted_role_grants_nothing(aws: Emulator, eks: Any) -> None:
    create_cluster(eks, mode="API", bootstrap=False)
    arn = role("ops")
    admin_entry(eks, arn)
    assert aws.admins("c") == [arn]
    boto3.client("iam").delete_role(RoleName="ops")
    access = aws.access("c")
    assert access["principals"] == []
    assert access["inactiveEntries"] == [{"principalArn": arn, "reason": "principal-deleted"}]
    # the entry itself is still there, as in EKS
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [arn]


def test_an_entry_for_a_recreated_role_grants_nothing(aws: Emulator, eks: Any) -> None:
    create_cluster(eks, mode="API", bootstrap=False)
    arn = role("ops")
    admin_entry(eks, arn)
    boto3.client("iam").delete_role(RoleName="ops")
    assert role("ops") == arn
    access = aws.access("c")
    assert access["principals"] == []
    assert access["inactiveEntries"] == [{"principalArn": arn, "reason": "principal-recreated"}]


def test_an_entry_for_a_recreated_user_grants_nothing_until_it_is_made_again(aws: Emulator, eks: Any) -> None:
    create_cluster(eks, mode="API", bootstrap=False)
    iam = boto3.client("iam")
    arn = iam.create_user(UserName="bob")["User"]["Arn"]
    admin_entry(eks, arn)
    iam.delete_user(UserName="bob")
    iam.create_user(UserName="bob")
    assert aws.access("c")["inactiveEntries"] == [{"principalArn": arn, "reason": "principal-recreated"}]
    # when the entry is deleted and created again, the new principal gets access
    eks.delete_access_entry(clusterName="c", principalArn=arn)
    admin_entry(eks, arn)
    assert aws.admins("c") == [arn]
    assert aws.access("c")["inactiveEntries"] == []


# --- aws-auth ------------------------------------------------------------------------------------


def test_aws_auth_mappings_count_in_config_map_mode(aws: Emulator, eks: Any) -> None:
    create_cluster(eks)
    admins = role("admins", path="/team/")  # mapRoles ARNs carry no path
    readers = role("readers")
    aws.set_aws_auth(
        "c",
        map_roles=[
            {
                "rolearn": f"arn:aws:iam::{ACCOUNT}:role/admins",
                "username": "admin",
                "groups": ["system:masters"],
            },
            {"rolearn": readers, "username": "reader", "groups": ["viewers"]},
            {
                "rolearn": f"arn:aws:iam::{ACCOUNT}:role/gone",
                "username": "gone",
                "groups": ["system:masters"],
            },
        ],
    )
    principals = by_arn(aws.access("c"))
    assert principals[admins]["source"] == "aws-auth" and principals[admins]["clusterAdmin"] is True
    assert (
        principals[readers]["kubernetesGroups"] == ["viewers"]
        and principals[readers]["clusterAdmin"] is False
    )
    assert not any("gone" in arn for arn in principals)


def test_aws_auth_map_users(aws: Emulator, eks: Any) -> None:
    create_cluster(eks)
    arn = boto3.client("iam").create_user(UserName="carol")["User"]["Arn"]
    aws.set_aws_auth("c", map_users=[{"userarn": arn, "username": "carol", "groups": ["system:masters"]}])
    assert arn in aws.admins("c")


def test_an_access_entry_wins_over_a_mapping_for_the_same_principal(aws: Emulator, eks: Any) -> None:
    create_cluster(eks, mode="API_AND_CONFIG_MAP", bootstrap=False)
    arn = role("ops")
    aws.set_aws_auth("c", map_roles=[{"rolearn": arn, "username": "ops", "groups": ["system:masters"]}])
    eks.create_access_entry(clusterName="c", principalArn=arn, kubernetesGroups=["viewers"])
    eks.associate_access_policy(
        clusterName="c", principalArn=arn, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    principal = by_arn(aws.access("c"))[arn]
    assert principal["source"] == "access-entry"
    assert principal["clusterAdmin"] is False
    assert principal["accessPolicies"] == [
        {"policyArn": VIEW, "accessScope": {"type": "cluster", "namespaces": []}}
    ]


def test_api_mode_ignores_the_config_map(aws: Emulator, eks: Any) -> None:
    create_cluster(eks, mode="API", bootstrap=False)
    arn = role("ops")
    aws.set_aws_auth("c", map_roles=[{"rolearn": arn, "username": "ops", "groups": ["system:masters"]}])
    assert aws.access("c")["principals"] == []


def test_aws_auth_reads_back_what_was_put(aws: Emulator, eks: Any) -> None:
    create_cluster(eks)
    mapping = {"rolearn": f"arn:aws:iam::{ACCOUNT}:role/r", "username": "r", "groups": ["g"]}
    aws.set_aws_auth("c", map_roles=[mapping], map_accounts=["111122223333"])
    assert aws.aws_auth("c") == {"mapRoles": [mapping], "mapUsers": [], "mapAccounts": ["111122223333"]}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"map_roles": [{"rolearn": "not-an-arn", "username": "x", "groups": []}]},
        {"map_roles": [{"rolearn": f"arn:aws:iam::{ACCOUNT}:user/u", "username": "x", "groups": []}]},
        {"map_users": [{"userarn": f"arn:aws:iam::{ACCOUNT}:user/u", "groups": "system:masters"}]},
        {"map_roles": [{"rolearn": f"arn:aws:iam::{ACCOUNT}:role/r", "surprise": 1}]},
        {"map_accounts": ["12"]},
    ],
)
def test_junk_aws_auth_is_refused_and_changes_nothing(
    aws: Emulator, eks: Any, kwargs: dict[str, Any]
) -> None:
    create_cluster(eks)
    with pytest.raises(EmulatorError, match="400"):
        aws.set_aws_auth("c", **kwargs)
    assert aws.aws_auth("c") == {"mapRoles": [], "mapUsers": [], "mapAccounts": []}


def test_an_unknown_cluster_is_404(aws: Emulator) -> None:
    for call in (lambda: aws.access("nope"), lambda: aws.aws_auth("nope"), lambda: aws.set_aws_auth("nope")):
        with pytest.raises(EmulatorError, match="404"):
            call()


# --- the pure core -------------------------------------------------------------------------------


def test_compute_access_binds_entries_to_the_unique_id() -> None:
    ops = parse_principal_arn(f"arn:aws:iam::{ACCOUNT}:role/x/ops")
    view = ClusterView(
        name="c",
        mode="API",
        created_in_mode="API",
        creator=None,
        entries=(EntryView(ops, "AROAOLD", "ops", (), {ADMIN: {"type": "cluster", "namespaces": []}}),),
        aws_auth=AwsAuth(),
    )
    same = IamView({(ACCOUNT, "role", "ops"): (ops.arn, "AROAOLD")})
    other = IamView({(ACCOUNT, "role", "ops"): (ops.arn, "AROANEW")})
    moved = IamView({(ACCOUNT, "role", "ops"): (f"arn:aws:iam::{ACCOUNT}:role/ops", "AROAOLD")})
    assert compute_access(view, same)["principals"][0]["clusterAdmin"] is True
    assert compute_access(view, other)["inactiveEntries"][0]["reason"] == "principal-recreated"
    assert compute_access(view, moved)["inactiveEntries"][0]["reason"] == "principal-deleted"


def test_compute_access_creator_needs_the_same_principal() -> None:
    alice = parse_principal_arn(f"arn:aws:iam::{ACCOUNT}:user/alice")
    view = ClusterView("c", "CONFIG_MAP", "CONFIG_MAP", Creator(alice, "AIDA1"), (), AwsAuth())
    assert compute_access(view, IamView({(ACCOUNT, "user", "alice"): (alice.arn, "AIDA1")}))["principals"]
    assert (
        compute_access(view, IamView({(ACCOUNT, "user", "alice"): (alice.arn, "AIDA2")}))["principals"] == []
    )
    assert compute_access(view, IamView({}))["principals"] == []


def test_parse_aws_auth_accepts_an_empty_config_map() -> None:
    assert parse_aws_auth({}) == AwsAuth()
    with pytest.raises(ValueError):
        parse_aws_auth([])
