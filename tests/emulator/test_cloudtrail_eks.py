"""CloudTrail records of every EKS write, made through boto3 against the EKS access-entry emulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.client import Emulator

ACCOUNT = "123456789012"
REGION = "eu-west-1"
TRUST = '{"Version": "2012-10-17", "Statement": []}'
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def encoded(arn: str) -> str:
    """As botocore puts an ARN in a URL path (and CloudTrail shows it)."""
    return quote(arn, safe="-_.~")


def only(aws: Emulator, name: str) -> dict[str, Any]:
    found = [r for r in aws.cloudtrail_records() if r["eventName"] == name]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def eks(aws: Emulator) -> Any:
    return boto3.client("eks", region_name=REGION)


@pytest.fixture
def role_arn(aws: Emulator) -> str:
    role = boto3.client("iam").create_role(RoleName="ops", Path="/team/", AssumeRolePolicyDocument=TRUST)
    return str(role["Role"]["Arn"])


@pytest.fixture
def cluster(eks: Any) -> str:
    eks.create_cluster(
        name="prod",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": []},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )
    return "prod"


@pytest.fixture
def entry(eks: Any, cluster: str, role_arn: str) -> str:
    eks.create_access_entry(clusterName=cluster, principalArn=role_arn, kubernetesGroups=["ops"])
    return role_arn


def test_create_cluster_is_recorded_in_the_clusters_region(aws: Emulator, cluster: str) -> None:
    record = only(aws, "CreateCluster")
    assert record["eventSource"] == "eks.amazonaws.com"
    assert record["awsRegion"] == REGION
    assert record["requestParameters"]["name"] == "prod"
    assert record["requestParameters"]["accessConfig"] == {"authenticationMode": "API_AND_CONFIG_MAP"}
    assert record["responseElements"]["cluster"]["name"] == "prod"
    assert isinstance(record["responseElements"]["cluster"]["createdAt"], str)


def test_delete_cluster_is_recorded_with_the_name_path_parameter(
    aws: Emulator, eks: Any, cluster: str
) -> None:
    eks.delete_cluster(name=cluster)
    record = only(aws, "DeleteCluster")
    assert record["requestParameters"] == {"name": "prod"}
    assert record["awsRegion"] == REGION


def test_update_cluster_config_carries_the_mode_and_the_update(aws: Emulator, eks: Any, cluster: str) -> None:
    update = eks.update_cluster_config(name=cluster, accessConfig={"authenticationMode": "API"})["update"]
    record = only(aws, "UpdateClusterConfig")
    assert record["requestParameters"]["name"] == "prod"
    assert record["requestParameters"]["accessConfig"] == {"authenticationMode": "API"}
    assert record["responseElements"]["update"]["id"] == update["id"]
    assert record["responseElements"]["update"]["params"] == [{"type": "AuthenticationMode", "value": "API"}]


def test_create_access_entry_has_the_plain_principal_arn_and_echoes_the_entry(
    aws: Emulator, entry: str
) -> None:
    record = only(aws, "CreateAccessEntry")
    assert record["requestParameters"]["name"] == "prod"
    assert record["requestParameters"]["principalArn"] == entry
    assert record["requestParameters"]["kubernetesGroups"] == ["ops"]
    echoed = record["responseElements"]["accessEntry"]
    assert echoed["principalArn"] == entry
    assert echoed["clusterName"] == "prod"
    assert isinstance(echoed["createdAt"], str)


def test_update_access_entry_has_the_url_encoded_principal_arn(aws: Emulator, eks: Any, entry: str) -> None:
    eks.update_access_entry(clusterName="prod", principalArn=entry, kubernetesGroups=["dev"])
    record = only(aws, "UpdateAccessEntry")
    params = record["requestParameters"]
    assert (params["name"], params["principalArn"], params["kubernetesGroups"]) == (
        "prod",
        encoded(entry),
        ["dev"],
    )
    assert params["clientRequestToken"]  # botocore fills the idempotency token in; CloudTrail shows it
    assert record["responseElements"]["accessEntry"]["kubernetesGroups"] == ["dev"]


def test_delete_access_entry_has_the_url_encoded_principal_arn(aws: Emulator, eks: Any, entry: str) -> None:
    eks.delete_access_entry(clusterName="prod", principalArn=entry)
    record = only(aws, "DeleteAccessEntry")
    assert record["requestParameters"] == {"name": "prod", "principalArn": encoded(entry)}
    assert "%3A" in record["requestParameters"]["principalArn"]


def test_associate_access_policy_has_the_encoded_principal_and_the_plain_policy(
    aws: Emulator, eks: Any, entry: str
) -> None:
    eks.associate_access_policy(
        clusterName="prod", principalArn=entry, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    record = only(aws, "AssociateAccessPolicy")
    params = record["requestParameters"]
    assert (params["name"], params["principalArn"], params["policyArn"]) == ("prod", encoded(entry), VIEW)
    assert params["accessScope"] == {"type": "cluster"}


def test_disassociate_access_policy_has_both_arns_url_encoded(aws: Emulator, eks: Any, entry: str) -> None:
    eks.associate_access_policy(
        clusterName="prod", principalArn=entry, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    eks.disassociate_access_policy(clusterName="prod", principalArn=entry, policyArn=VIEW)
    record = only(aws, "DisassociateAccessPolicy")
    assert record["requestParameters"] == {
        "name": "prod",
        "principalArn": encoded(entry),
        "policyArn": encoded(VIEW),
    }


def test_a_duplicate_entry_is_recorded_as_a_409_resource_in_use(aws: Emulator, eks: Any, entry: str) -> None:
    with pytest.raises(ClientError):
        eks.create_access_entry(clusterName="prod", principalArn=entry)
    failed = [
        r for r in aws.cloudtrail_records() if r["eventName"] == "CreateAccessEntry" and "errorCode" in r
    ]
    assert len(failed) == 1
    assert failed[0]["errorCode"] == "ResourceInUseException"
    assert failed[0]["errorMessage"]
    assert failed[0]["responseElements"] is None


def test_a_missing_entry_is_recorded_as_resource_not_found(
    aws: Emulator, eks: Any, cluster: str, role_arn: str
) -> None:
    with pytest.raises(ClientError):
        eks.delete_access_entry(clusterName=cluster, principalArn=role_arn)
    record = only(aws, "DeleteAccessEntry")
    assert record["errorCode"] == "ResourceNotFoundException"
    assert record["errorMessage"]
    assert record["responseElements"] is None


def test_an_injected_eks_throttle_is_recorded(aws: Emulator, cluster: str, role_arn: str) -> None:
    aws.set_fault("eks:CreateAccessEntry", throttle=1)
    eks = boto3.client("eks", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError):
        eks.create_access_entry(clusterName=cluster, principalArn=role_arn)
    record = only(aws, "CreateAccessEntry")
    assert record["errorCode"] == "ThrottlingException"
    assert record["requestParameters"]["principalArn"] == role_arn


def test_eks_reads_are_not_recorded(aws: Emulator, eks: Any, entry: str) -> None:
    eks.describe_cluster(name="prod")
    eks.list_access_entries(clusterName="prod")
    eks.describe_access_entry(clusterName="prod", principalArn=entry)
    eks.list_access_policies()
    names = [r["eventName"] for r in aws.cloudtrail_records() if r["eventSource"] == "eks.amazonaws.com"]
    assert names == ["CreateCluster", "CreateAccessEntry"]
