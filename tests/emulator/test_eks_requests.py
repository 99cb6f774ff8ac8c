"""Malformed requests get EKS's 400s (never a crash), and path parameters are URL-decoded."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.client import Emulator

from .helpers import signed

ACCOUNT = "123456789012"
TRUST = '{"Version":"2012-10-17","Statement":[]}'


def refused(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def loose(aws: Emulator) -> Any:
    """An EKS client that sends what it is given, as a buggy or hand-rolled caller would."""
    eks = boto3.client("eks", config=Config(parameter_validation=False))
    eks.create_cluster(
        name="c",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    boto3.client("iam").create_role(RoleName="dev", AssumeRolePolicyDocument=TRUST)
    return eks


ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def error_type(headers: dict[str, str]) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == "x-amzn-errortype"), None)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"principalArn": 42},
        {"principalArn": ROLE, "kubernetesGroups": "devs"},
        {"principalArn": ROLE, "kubernetesGroups": [1]},
        {"principalArn": ROLE, "tags": ["a"]},
        {"principalArn": ROLE, "tags": {"a": 1}},
        {"principalArn": ROLE, "username": ["me"]},
        {"principalArn": ROLE, "type": 3},
    ],
)
def test_a_malformed_create_is_an_invalid_parameter(loose: Any, endpoint: str, body: dict[str, Any]) -> None:
    status, headers, reply = signed(endpoint, "POST", "/clusters/c/access-entries", json.dumps(body).encode())
    assert (status, error_type(headers)) == (400, "InvalidParameterException")
    assert reply["message"]
    assert loose.list_access_entries(clusterName="c")["accessEntries"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"accessScope": {"type": "cluster"}},
        {"policyArn": VIEW},
        {"policyArn": VIEW, "accessScope": "cluster"},
        {"policyArn": VIEW, "accessScope": {"type": "namespace", "namespaces": "default"}},
        {"policyArn": [VIEW], "accessScope": {"type": "cluster"}},
    ],
)
def test_a_malformed_associate_is_an_invalid_parameter(
    loose: Any, endpoint: str, body: dict[str, Any]
) -> None:
    loose.create_access_entry(clusterName="c", principalArn=ROLE)
    path = f"/clusters/c/access-entries/{quote(ROLE, safe='')}/access-policies"
    status, headers, _ = signed(endpoint, "POST", path, json.dumps(body).encode())
    assert (status, error_type(headers)) == (400, "InvalidParameterException")
    assert (
        loose.list_associated_access_policies(clusterName="c", principalArn=ROLE)["associatedAccessPolicies"]
        == []
    )


def test_a_malformed_update_is_an_invalid_parameter(loose: Any, endpoint: str) -> None:
    loose.create_access_entry(clusterName="c", principalArn=ROLE, kubernetesGroups=["a"])
    path = f"/clusters/c/access-entries/{quote(ROLE, safe='')}"
    status, headers, _ = signed(endpoint, "POST", path, json.dumps({"kubernetesGroups": {"a": 1}}).encode())
    assert (status, error_type(headers)) == (400, "InvalidParameterException")
    assert loose.describe_access_entry(clusterName="c", principalArn=ROLE)["accessEntry"][
        "kubernetesGroups"
    ] == ["a"]


def test_a_missing_principal_is_an_invalid_parameter_through_the_sdk(loose: Any) -> None:
    assert refused(lambda: loose.create_access_entry(clusterName="c")) == ("InvalidParameterException", 400)


def test_a_body_that_is_not_json_is_an_invalid_request(loose: Any, endpoint: str) -> None:
    status, headers, body = signed(endpoint, "POST", "/clusters/c/access-entries", b"{not json")
    assert status == 400
    assert error_type(headers) == "InvalidRequestException"
    assert body["message"]


def test_a_body_that_is_a_json_list_is_an_invalid_request(loose: Any, endpoint: str) -> None:
    status, _, body = signed(endpoint, "POST", "/clusters/c/access-entries", b"[1, 2]")
    assert status == 400
    assert "message" in body


def test_path_parameters_are_url_decoded(loose: Any, endpoint: str) -> None:
    # given an entry for a role whose ARN has a path
    arn = boto3.client("iam").create_role(RoleName="ops", Path="/team/a/", AssumeRolePolicyDocument=TRUST)[
        "Role"
    ]["Arn"]
    loose.create_access_entry(clusterName="c", principalArn=arn)
    # when it is read with the ARN URL-encoded in the path, as every SDK sends it
    status, _, body = signed(endpoint, "GET", "/clusters/c/access-entries/" + quote(arn, safe=""))
    # then the entry is found
    assert status == 200
    assert body["accessEntry"]["principalArn"] == arn
    policy = quote("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", safe="")
    status, _, body = signed(
        endpoint,
        "POST",
        "/clusters/c/access-entries/" + quote(arn, safe="") + "/access-policies",
        json.dumps(
            {"policyArn": policy.replace("%3A", ":").replace("%2F", "/"), "accessScope": {"type": "cluster"}}
        ).encode(),
    )
    assert status == 200
    status, _, _ = signed(
        endpoint, "DELETE", f"/clusters/c/access-entries/{quote(arn, safe='')}/access-policies/{policy}"
    )
    assert status == 200
    assert (
        loose.list_associated_access_policies(clusterName="c", principalArn=arn)["associatedAccessPolicies"]
        == []
    )


def test_describe_cluster_and_other_moto_operations_still_work(loose: Any) -> None:
    assert loose.describe_cluster(name="c")["cluster"]["name"] == "c"
    assert loose.list_clusters()["clusters"] == ["c"]
    loose.delete_cluster(name="c")
    assert loose.list_clusters()["clusters"] == []
