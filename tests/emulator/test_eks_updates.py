"""Conformance: cluster updates other than the authentication mode (UpdateClusterVersion, UpdateClusterConfig
logging and resourcesVpcConfig), one update at a time, and mode updates made to fail (failModeUpdates)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local.client import Emulator, EmulatorError
from local.eks import settings as eks_settings

from .helpers import refused

ACCOUNT = "123456789012"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
MODE_MESSAGE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
    "to perform this operation."
)


def create(eks: Any, mode: str = "API_AND_CONFIG_MAP", version: str = "1.29") -> dict[str, Any]:
    return eks.create_cluster(
        name="c",
        version=version,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": mode},
    )["cluster"]


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def finished(eks: Any, update: dict[str, Any]) -> dict[str, Any]:
    """The update once it is no longer InProgress."""
    result: dict[str, Any] = {}

    def done() -> bool:
        result.update(eks.describe_update(name="c", updateId=update["id"])["update"])
        return result["status"] != "InProgress"

    wait_for(done)
    return result


@pytest.fixture
def eks(aws: Emulator) -> Any:
    aws.set_eks_settings(mode_update_seconds=0.2, other_update_seconds=0.2)
    return boto3.client("eks")


@pytest.fixture
def slow(aws: Emulator) -> Any:
    """Updates that stay InProgress for the whole test."""
    aws.set_eks_settings(mode_update_seconds=600, other_update_seconds=600)
    return boto3.client("eks")


# --- UpdateClusterVersion ------------------------------------------------------------------------


def test_a_version_update_is_asynchronous_and_describable(eks: Any) -> None:
    # given a cluster on 1.29
    create(eks)
    # when it is updated to 1.30
    update = eks.update_cluster_version(name="c", version="1.30")["update"]
    # then the update is a VersionUpdate InProgress, and the cluster UPDATING, still on 1.29
    assert (update["type"], update["status"], update["errors"]) == ("VersionUpdate", "InProgress", [])
    assert update["params"] == [
        {"type": "Version", "value": "1.30"},
        {"type": "PlatformVersion", "value": "eks.1"},
    ]
    described = eks.describe_cluster(name="c")["cluster"]
    assert (described["status"], described["version"]) == ("UPDATING", "1.29")
    # and once it has run: Successful, ACTIVE, on 1.30
    assert finished(eks, update)["status"] == "Successful"
    described = eks.describe_cluster(name="c")["cluster"]
    assert (described["status"], described["version"]) == ("ACTIVE", "1.30")


@pytest.mark.parametrize("wanted", ["1.31", "1.29", "1.28", "2.0", "latest"])
def test_a_version_update_must_go_one_minor_version_up(eks: Any, wanted: str) -> None:
    create(eks)
    code, status, _ = refused(lambda: eks.update_cluster_version(name="c", version=wanted))
    assert (code, status) == ("InvalidParameterException", 400)
    described = eks.describe_cluster(name="c")["cluster"]
    assert (described["status"], described["version"]) == ("ACTIVE", "1.29")
    assert eks.list_updates(name="c")["updateIds"] == []


def test_a_version_update_of_an_unknown_cluster_is_not_found(eks: Any) -> None:
    assert refused(lambda: eks.update_cluster_version(name="c", version="1.30"))[:2] == (
        "ResourceNotFoundException",
        404,
    )


# --- UpdateClusterConfig: logging and resourcesVpcConfig --------------------------------------------


def test_a_logging_update_is_a_logging_update(eks: Any) -> None:
    # given a cluster with every control-plane log off (the default)
    create(eks)
    # when the api and audit logs are turned on
    wanted = {"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]}
    update = eks.update_cluster_config(name="c", logging=wanted)["update"]
    # then a LoggingUpdate runs, whose one param is the request as JSON
    assert (update["type"], update["status"]) == ("LoggingUpdate", "InProgress")
    [param] = update["params"]
    assert (param["type"], json.loads(param["value"])) == ("ClusterLogging", wanted)
    assert eks.describe_cluster(name="c")["cluster"]["status"] == "UPDATING"
    # and once it has run, the cluster lists the enabled types, then the disabled ones
    assert finished(eks, update)["status"] == "Successful"
    assert eks.describe_cluster(name="c")["cluster"]["logging"] == {
        "clusterLogging": [
            {"types": ["api", "audit"], "enabled": True},
            {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False},
        ]
    }


def test_a_logging_update_that_changes_nothing_is_refused(eks: Any) -> None:
    create(eks)
    off = {"clusterLogging": [{"types": ["api"], "enabled": False}]}
    assert refused(lambda: eks.update_cluster_config(name="c", logging=off)) == (
        "InvalidParameterException",
        400,
        "No changes needed for the logging config provided",
    )


def test_an_unknown_log_type_is_refused(eks: Any) -> None:
    create(eks)
    wanted = {"clusterLogging": [{"types": ["kubelet"], "enabled": True}]}
    assert refused(lambda: eks.update_cluster_config(name="c", logging=wanted))[:2] == (
        "InvalidParameterException",
        400,
    )


def test_an_endpoint_access_update(eks: Any) -> None:
    # given a cluster with the default endpoint access (public, not private)
    create(eks)
    # when private access is turned on and public access narrowed
    update = eks.update_cluster_config(
        name="c",
        resourcesVpcConfig={"endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.5/32"]},
    )["update"]
    # then an EndpointAccessUpdate runs with the three endpoint params
    assert update["type"] == "EndpointAccessUpdate"
    assert update["params"] == [
        {"type": "EndpointPublicAccess", "value": "true"},
        {"type": "EndpointPrivateAccess", "value": "true"},
        {"type": "PublicAccessCidrs", "value": '["203.0.113.5/32"]'},
    ]
    # and once it has run, the cluster's VPC configuration shows it, subnets unchanged
    assert finished(eks, update)["status"] == "Successful"
    vpc = eks.describe_cluster(name="c")["cluster"]["resourcesVpcConfig"]
    assert (vpc["endpointPublicAccess"], vpc["endpointPrivateAccess"], vpc["publicAccessCidrs"]) == (
        True,
        True,
        ["203.0.113.5/32"],
    )
    assert vpc["subnetIds"] == ["subnet-1"]


def test_an_endpoint_update_to_the_current_access_is_refused(eks: Any) -> None:
    create(eks)
    code, status, message = refused(
        lambda: eks.update_cluster_config(name="c", resourcesVpcConfig={"endpointPublicAccess": True})
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert message.startswith("Cluster is already at the desired configuration")


def test_a_subnet_update_is_a_vpc_config_update(eks: Any) -> None:
    create(eks)
    update = eks.update_cluster_config(
        name="c", resourcesVpcConfig={"subnetIds": ["subnet-2", "subnet-3"], "securityGroupIds": ["sg-1"]}
    )["update"]
    assert update["type"] == "VpcConfigUpdate"
    assert update["params"] == [
        {"type": "Subnets", "value": '["subnet-2","subnet-3"]'},
        {"type": "SecurityGroups", "value": '["sg-1"]'},
    ]
    assert finished(eks, update)["status"] == "Successful"
    vpc = eks.describe_cluster(name="c")["cluster"]["resourcesVpcConfig"]
    assert (vpc["subnetIds"], vpc["securityGroupIds"]) == (["subnet-2", "subnet-3"], ["sg-1"])


@pytest.mark.parametrize(
    "request_fields",
    [
        {
            "logging": {"clusterLogging": [{"types": ["api"], "enabled": True}]},
            "resourcesVpcConfig": {"endpointPrivateAccess": True},
        },
        {
            "accessConfig": {"authenticationMode": "API"},
            "logging": {"clusterLogging": [{"types": ["api"], "enabled": True}]},
        },
        {"resourcesVpcConfig": {"endpointPrivateAccess": True, "subnetIds": ["subnet-2"]}},
    ],
)
def test_one_type_of_update_at_a_time(eks: Any, request_fields: dict[str, Any]) -> None:
    create(eks)
    assert refused(lambda: eks.update_cluster_config(name="c", **request_fields)) == (
        "InvalidParameterException",
        400,
        "Only one type of update can be allowed.",
    )
    assert eks.list_updates(name="c")["updateIds"] == []


def test_config_fields_the_emulator_does_not_run_still_reach_moto(eks: Any) -> None:
    create(eks)
    eks.update_cluster_config(name="c", kubernetesNetworkConfig={"serviceIpv4Cidr": "10.100.0.0/16"})
    assert eks.describe_cluster(name="c")["cluster"]["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == (
        "10.100.0.0/16"
    )


# --- one update at a time --------------------------------------------------------------------------

STARTS: dict[str, Callable[[Any], Any]] = {
    "version": lambda eks: eks.update_cluster_version(name="c", version="1.30"),
    "mode": lambda eks: eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API"}),
    "logging": lambda eks: eks.update_cluster_config(
        name="c", logging={"clusterLogging": [{"types": ["audit"], "enabled": True}]}
    ),
    "endpoint": lambda eks: eks.update_cluster_config(
        name="c", resourcesVpcConfig={"endpointPrivateAccess": True}
    ),
    "network (moto's)": lambda eks: eks.update_cluster_config(
        name="c", kubernetesNetworkConfig={"serviceIpv4Cidr": "10.100.0.0/16"}
    ),
}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("version", "mode"),
        ("logging", "mode"),
        ("mode", "version"),
        ("mode", "endpoint"),
        ("endpoint", "logging"),
        ("version", "version"),
        ("logging", "network (moto's)"),
    ],
)
def test_while_an_update_runs_a_second_one_is_in_use(slow: Any, first: str, second: str) -> None:
    # given a cluster with an update in progress
    create(slow)
    running = STARTS[first](slow)["update"]
    # when another update is asked for
    code, status, _ = refused(lambda: STARTS[second](slow))
    # then it is refused as in use, and only the first update exists
    assert (code, status) == ("ResourceInUseException", 409)
    assert slow.list_updates(name="c")["updateIds"] == [running["id"]]
    described = slow.describe_cluster(name="c")["cluster"]
    assert (described["status"], described["version"], described["accessConfig"]["authenticationMode"]) == (
        "UPDATING",
        "1.29",
        "API_AND_CONFIG_MAP",
    )


def test_access_entries_keep_working_while_the_cluster_is_updating(slow: Any) -> None:
    # given an API_AND_CONFIG_MAP cluster in the middle of a version update
    create(slow)
    slow.update_cluster_version(name="c", version="1.30")
    assert slow.describe_cluster(name="c")["cluster"]["status"] == "UPDATING"
    arn = boto3.client("iam").create_role(RoleName="dev", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    view = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    # when access entries are created, changed, listed and deleted
    slow.create_access_entry(clusterName="c", principalArn=arn)
    slow.update_access_entry(clusterName="c", principalArn=arn, kubernetesGroups=["devs"])
    slow.associate_access_policy(
        clusterName="c", principalArn=arn, policyArn=view, accessScope={"type": "cluster"}
    )
    listed = slow.list_access_entries(clusterName="c")["accessEntries"]
    slow.delete_access_entry(clusterName="c", principalArn=arn)
    # then every call succeeded while the cluster stayed UPDATING
    assert arn in listed
    assert arn not in slow.list_access_entries(clusterName="c")["accessEntries"]
    assert slow.describe_cluster(name="c")["cluster"]["status"] == "UPDATING"


def test_while_a_mode_update_runs_the_old_mode_still_decides(slow: Any) -> None:
    # in CONFIG_MAP, access entries stay refused while an update runs: the mode is what counts
    create(slow, mode="CONFIG_MAP")
    slow.update_cluster_config(name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    assert refused(lambda: slow.list_access_entries(clusterName="c")) == (
        "InvalidRequestException",
        400,
        MODE_MESSAGE,
    )


# --- ListUpdates --------------------------------------------------------------------------------------


def test_list_updates_lists_the_clusters_updates_oldest_first_in_pages(aws: Emulator) -> None:
    aws.set_eks_settings(mode_update_seconds=0, other_update_seconds=0)
    eks = boto3.client("eks")
    create(eks, mode="CONFIG_MAP")
    ids = [
        eks.update_cluster_version(name="c", version="1.30")["update"]["id"],
        eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})[
            "update"
        ]["id"],
        eks.update_cluster_config(
            name="c", logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}
        )["update"]["id"],
    ]
    assert eks.list_updates(name="c")["updateIds"] == ids
    first = eks.list_updates(name="c", maxResults=2)
    second = eks.list_updates(name="c", maxResults=2, nextToken=first["nextToken"])
    assert (first["updateIds"], second["updateIds"]) == (ids[:2], ids[2:])
    assert "nextToken" not in second
    assert [eks.describe_update(name="c", updateId=i)["update"]["type"] for i in ids] == [
        "VersionUpdate",
        "AccessConfigUpdate",
        "LoggingUpdate",
    ]


# --- failModeUpdates ------------------------------------------------------------------------------------


def test_a_mode_update_made_to_fail_ends_failed_with_errors_and_the_mode_stays(
    aws: Emulator, eks: Any
) -> None:
    # given a CONFIG_MAP cluster and an emulator told to fail the next mode update
    create(eks, mode="CONFIG_MAP")
    aws.set_eks_settings(fail_mode_updates=1)
    # when the mode update is asked for, it is accepted and runs
    update = eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})[
        "update"
    ]
    assert (update["status"], update["errors"]) == ("InProgress", [])
    # then it ends Failed, with errors in botocore's ErrorDetail shape
    ended = finished(eks, update)
    assert ended["status"] == "Failed"
    [error] = ended["errors"]
    assert error["errorCode"] == "Unknown"
    assert "API_AND_CONFIG_MAP" in error["errorMessage"]
    assert error["resourceIds"] == ["c"]
    # and the cluster is ACTIVE in its old mode, without access entries (nor the creator's)
    described = eks.describe_cluster(name="c")["cluster"]
    assert (described["status"], described["accessConfig"]["authenticationMode"]) == ("ACTIVE", "CONFIG_MAP")
    assert refused(lambda: eks.list_access_entries(clusterName="c"))[0] == "InvalidRequestException"
    assert aws.access("c")["principals"][0]["source"] == "cluster-creator"


def test_only_the_next_n_mode_updates_fail(aws: Emulator, eks: Any) -> None:
    # given two mode updates to fail
    create(eks, mode="CONFIG_MAP")
    assert aws.set_eks_settings(fail_mode_updates=2)["failModeUpdates"] == 2
    statuses = []
    # when three are made, one after another
    for _ in range(3):
        update = eks.update_cluster_config(
            name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}
        )["update"]
        statuses.append(finished(eks, update)["status"])
    # then the first two fail and the third succeeds
    assert statuses == ["Failed", "Failed", "Successful"]
    assert aws.eks_settings()["failModeUpdates"] == 0
    assert eks.describe_cluster(name="c")["cluster"]["accessConfig"]["authenticationMode"] == (
        "API_AND_CONFIG_MAP"
    )


def test_a_refused_mode_update_does_not_use_up_a_failure(aws: Emulator, eks: Any) -> None:
    create(eks, mode="CONFIG_MAP")
    aws.set_eks_settings(fail_mode_updates=1)
    refused(lambda: eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API"}))
    assert aws.eks_settings()["failModeUpdates"] == 1


def test_other_updates_do_not_use_up_mode_failures(aws: Emulator, eks: Any) -> None:
    create(eks)
    aws.set_eks_settings(fail_mode_updates=1)
    update = eks.update_cluster_version(name="c", version="1.30")["update"]
    assert finished(eks, update)["status"] == "Successful"
    assert aws.eks_settings()["failModeUpdates"] == 1


# --- settings --------------------------------------------------------------------------------------------


def test_the_update_settings_are_reset_with_the_emulator(aws: Emulator) -> None:
    aws.set_eks_settings(other_update_seconds=0.1, fail_mode_updates=3)
    aws.reset()
    settings = aws.eks_settings()
    assert settings["otherUpdateSeconds"] == eks_settings.DEFAULT_OTHER_UPDATE_SECONDS
    assert settings["failModeUpdates"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"other_update_seconds": -1},
        {"other_update_seconds": 4000},
        {"fail_mode_updates": -1},
        {"fail_mode_updates": 1.5},
        {"fail_mode_updates": True},
    ],
)
def test_bad_update_settings_are_refused(aws: Emulator, body: dict[str, Any]) -> None:
    with pytest.raises(EmulatorError, match="400"):
        aws.set_eks_settings(**body)
    assert aws.eks_settings()["failModeUpdates"] == 0


def test_the_default_other_update_time_comes_from_the_environment() -> None:
    assert eks_settings.defaults({"LOCAL_EKS_OTHER_UPDATE_SECONDS": "0.5"}).other_update_seconds == 0.5
    assert eks_settings.defaults({}).other_update_seconds == 2.0
