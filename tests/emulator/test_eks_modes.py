"""Conformance: CreateCluster's accessConfig, the creator's bootstrap entry, and one-way asynchronous
authentication-mode updates."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local.client import Emulator
from local.eks import settings as eks_settings

from .helpers import refused

ACCOUNT = "123456789012"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
MODE_MESSAGE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
    "to perform this operation."
)


def create(eks: Any, name: str = "c", **access_config: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"accessConfig": access_config} if access_config else {}
    return eks.create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        **kwargs,
    )["cluster"]


def signed_as_new_user(name: str) -> tuple[boto3.Session, str]:
    iam = boto3.client("iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name="us-east-1",
    )
    return session, arn


def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def eks(aws: Emulator) -> Any:
    aws.set_eks_settings(mode_update_seconds=0.3)
    return boto3.client("eks")


# --- CreateCluster -------------------------------------------------------------------------------


def test_create_cluster_defaults_to_config_map_with_bootstrap(eks: Any) -> None:
    created = create(eks)
    assert created["accessConfig"] == {
        "authenticationMode": "CONFIG_MAP",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    assert eks.describe_cluster(name="c")["cluster"]["accessConfig"] == created["accessConfig"]


def test_bootstrap_false_with_config_map_is_refused(eks: Any) -> None:
    code, status, message = refused(lambda: create(eks, bootstrapClusterCreatorAdminPermissions=False))
    assert (code, status) == ("InvalidParameterException", 400)
    assert "bootstrapClusterCreatorAdminPermissions" in message
    assert eks.list_clusters()["clusters"] == []


def test_an_unknown_authentication_mode_is_refused(eks: Any) -> None:
    assert refused(lambda: create(eks, authenticationMode="OIDC"))[:2] == ("InvalidParameterException", 400)


def test_api_mode_with_bootstrap_gives_the_signing_user_a_cluster_admin_entry(eks: Any) -> None:
    # given an IAM user whose access key signs CreateCluster
    alice, alice_arn = signed_as_new_user("alice")
    # when the cluster is created in API mode with bootstrap
    create(alice.client("eks"), authenticationMode="API", bootstrapClusterCreatorAdminPermissions=True)
    # then the creator has a STANDARD entry with the cluster-admin policy at cluster scope
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [alice_arn]
    entry = eks.describe_access_entry(clusterName="c", principalArn=alice_arn)["accessEntry"]
    assert (entry["type"], entry["username"]) == ("STANDARD", alice_arn)
    policies = eks.list_associated_access_policies(clusterName="c", principalArn=alice_arn)[
        "associatedAccessPolicies"
    ]
    assert [(p["policyArn"], p["accessScope"]) for p in policies] == [
        (ADMIN, {"type": "cluster", "namespaces": []})
    ]


def test_a_role_session_creator_resolves_to_its_role(eks: Any) -> None:
    iam = boto3.client("iam")
    role_arn = iam.create_role(RoleName="builder", Path="/ci/", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    creds = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="build-42")["Credentials"]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    create(session.client("eks"), authenticationMode="API_AND_CONFIG_MAP")
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [role_arn]
    entry = eks.describe_access_entry(clusterName="c", principalArn=role_arn)["accessEntry"]
    assert entry["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/{{{{SessionName}}}}"


def test_api_mode_without_bootstrap_has_no_entries(eks: Any) -> None:
    create(eks, authenticationMode="API", bootstrapClusterCreatorAdminPermissions=False)
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == []


# --- CONFIG_MAP refuses access-entry operations ---------------------------------------------------

ARN = f"arn:aws:iam::{ACCOUNT}:role/dev"
ENTRY_CALLS: dict[str, Callable[[Any], Any]] = {
    "CreateAccessEntry": lambda eks: eks.create_access_entry(clusterName="c", principalArn=ARN),
    "DescribeAccessEntry": lambda eks: eks.describe_access_entry(clusterName="c", principalArn=ARN),
    "UpdateAccessEntry": lambda eks: eks.update_access_entry(clusterName="c", principalArn=ARN, username="x"),
    "DeleteAccessEntry": lambda eks: eks.delete_access_entry(clusterName="c", principalArn=ARN),
    "ListAccessEntries": lambda eks: eks.list_access_entries(clusterName="c"),
    "AssociateAccessPolicy": lambda eks: eks.associate_access_policy(
        clusterName="c", principalArn=ARN, policyArn=ADMIN, accessScope={"type": "cluster"}
    ),
    "DisassociateAccessPolicy": lambda eks: eks.disassociate_access_policy(
        clusterName="c", principalArn=ARN, policyArn=ADMIN
    ),
    "ListAssociatedAccessPolicies": lambda eks: eks.list_associated_access_policies(
        clusterName="c", principalArn=ARN
    ),
}


@pytest.mark.parametrize("operation", sorted(ENTRY_CALLS))
def test_access_entry_operations_fail_in_config_map_mode(eks: Any, operation: str) -> None:
    boto3.client("iam").create_role(RoleName="dev", AssumeRolePolicyDocument=TRUST)
    create(eks)
    assert refused(lambda: ENTRY_CALLS[operation](eks)) == ("InvalidRequestException", 400, MODE_MESSAGE)


@pytest.mark.parametrize("operation", sorted(ENTRY_CALLS))
def test_access_entry_operations_on_an_unknown_cluster_are_not_found(eks: Any, operation: str) -> None:
    code, status, message = refused(lambda: ENTRY_CALLS[operation](eks))
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "c" in message


# --- UpdateClusterConfig accessConfig -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "wanted"),
    [
        ("CONFIG_MAP", "API"),
        ("CONFIG_MAP", "CONFIG_MAP"),
        ("API_AND_CONFIG_MAP", "CONFIG_MAP"),
        ("API_AND_CONFIG_MAP", "API_AND_CONFIG_MAP"),
        ("API", "API_AND_CONFIG_MAP"),
        ("API", "CONFIG_MAP"),
        ("API", "API"),
    ],
)
def test_unsupported_mode_updates_are_refused(eks: Any, start: str, wanted: str) -> None:
    create(eks, authenticationMode=start)
    call = lambda: eks.update_cluster_config(name="c", accessConfig={"authenticationMode": wanted})  # noqa: E731
    assert refused(call) == (
        "InvalidParameterException",
        400,
        f"Unsupported authentication mode update from {start} to {wanted}",
    )
    assert eks.describe_cluster(name="c")["cluster"]["accessConfig"]["authenticationMode"] == start


def test_a_mode_update_is_asynchronous(eks: Any) -> None:
    # given a CONFIG_MAP cluster
    create(eks)
    # when it moves to API_AND_CONFIG_MAP
    update = eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})[
        "update"
    ]
    # then the update is InProgress and the cluster UPDATING, still in its old mode
    assert update["status"] == "InProgress"
    assert update["type"] == "AccessConfigUpdate"
    assert update["params"] == [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}]
    assert update["errors"] == []
    assert "createdAt" in update
    described = eks.describe_cluster(name="c")["cluster"]
    assert (described["status"], described["accessConfig"]["authenticationMode"]) == (
        "UPDATING",
        "CONFIG_MAP",
    )
    # and once modeUpdateSeconds have passed: Successful, ACTIVE, new mode
    wait_for(lambda: eks.describe_update(name="c", updateId=update["id"])["update"]["status"] == "Successful")
    described = eks.describe_cluster(name="c")["cluster"]
    assert (described["status"], described["accessConfig"]["authenticationMode"]) == (
        "ACTIVE",
        "API_AND_CONFIG_MAP",
    )
    # with the entry EKS makes for the creator (here the account root, whose keys signed CreateCluster)
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [f"arn:aws:iam::{ACCOUNT}:root"]


def test_a_second_update_while_one_runs_is_in_use(aws: Emulator, eks: Any) -> None:
    aws.set_eks_settings(mode_update_seconds=30)
    create(eks, authenticationMode="API_AND_CONFIG_MAP")
    eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API"})
    call = lambda: eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API"})  # noqa: E731
    assert refused(call)[:2] == ("ResourceInUseException", 409)


def test_the_modes_go_one_way_step_by_step(eks: Any) -> None:
    create(eks)
    for mode in ("API_AND_CONFIG_MAP", "API"):
        update = eks.update_cluster_config(name="c", accessConfig={"authenticationMode": mode})["update"]
        wait_for(
            lambda u=update: (
                eks.describe_update(name="c", updateId=u["id"])["update"]["status"] == "Successful"
            )
        )
    assert eks.describe_cluster(name="c")["cluster"]["accessConfig"]["authenticationMode"] == "API"


def test_describe_update_of_an_unknown_id_is_not_found(eks: Any) -> None:
    create(eks)
    assert refused(lambda: eks.describe_update(name="c", updateId="no-such-update"))[:2] == (
        "ResourceNotFoundException",
        404,
    )


def test_an_access_config_without_a_mode_is_refused(eks: Any) -> None:
    create(eks)
    assert refused(lambda: eks.update_cluster_config(name="c", accessConfig={}))[:2] == (
        "InvalidParameterException",
        400,
    )


# --- settings ------------------------------------------------------------------------------------


def test_settings_are_reset_with_the_emulator(aws: Emulator) -> None:
    assert aws.set_eks_settings(mode_update_seconds=0.1)["modeUpdateSeconds"] == 0.1
    aws.reset()
    assert aws.set_eks_settings()["modeUpdateSeconds"] == eks_settings.DEFAULT_MODE_UPDATE_SECONDS
    assert aws.set_eks_settings()["extraAccessPolicies"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"mode_update_seconds": -1},
        {"mode_update_seconds": float("inf")},
        {"extra_access_policies": ["not a name!"]},
    ],
)
def test_bad_settings_are_refused(aws: Emulator, body: dict[str, Any]) -> None:
    from local.client import EmulatorError

    with pytest.raises(EmulatorError, match="400"):
        aws.set_eks_settings(**body)
    assert aws.set_eks_settings()["modeUpdateSeconds"] == eks_settings.DEFAULT_MODE_UPDATE_SECONDS


def test_the_default_update_time_comes_from_the_environment() -> None:
    assert eks_settings.defaults({"LOCAL_EKS_MODE_UPDATE_SECONDS": "0.5"}).mode_update_seconds == 0.5
    assert eks_settings.defaults({}).mode_update_seconds == 2.0
    with pytest.raises(ValueError):
        eks_settings.defaults({"LOCAL_EKS_MODE_UPDATE_SECONDS": "soon"})
