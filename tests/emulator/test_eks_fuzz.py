"""Whatever JSON arrives, the emulator answers with an EKS client error and changes nothing; never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.client import Emulator

from .helpers import signed

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
EKS_ERRORS = {
    "InvalidParameterException",
    "InvalidRequestException",
    "ResourceNotFoundException",
    "ResourceInUseException",
}

# Any JSON value, with the field names EKS knows more likely than not, so that the rules behind the
# type checks are reached too.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
field_values = {
    "principalArn": st.sampled_from([ROLE, ROLE + "x", "arn:aws:sts::1:assumed-role/a/b", ""]) | json_values,
    "kubernetesGroups": st.lists(st.sampled_from(["devs", "system:masters", ""]), max_size=2) | json_values,
    "username": st.sampled_from(["dev", "system:x", "a{{SessionName}}", ""]) | json_values,
    "type": st.sampled_from(["STANDARD", "EC2_LINUX", "FARGATE", ""]) | json_values,
    "tags": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2) | json_values,
    "policyArn": st.sampled_from([VIEW, VIEW + "x", "arn:aws:iam::aws:policy/x"]) | json_values,
    "accessScope": st.fixed_dictionaries(
        {"type": st.sampled_from(["cluster", "namespace", "x"]) | json_values},
        optional={
            "namespaces": st.lists(st.sampled_from(["default", "dev-*", "", "*"]), max_size=2) | json_values
        },
    )
    | json_values,
    "accessConfig": st.fixed_dictionaries(
        {"authenticationMode": st.sampled_from(["API", "CONFIG_MAP", "nope"]) | json_values}
    )
    | json_values,
}
bodies = st.fixed_dictionaries({}, optional=field_values) | json_values

ENTRY = "/clusters/c/access-entries/" + quote(ROLE, safe="")
ROUTES = [
    ("POST", "/clusters/c/access-entries"),  # CreateAccessEntry
    ("POST", ENTRY),  # UpdateAccessEntry
    ("POST", ENTRY + "/access-policies"),  # AssociateAccessPolicy
    ("POST", "/clusters/c/update-config"),  # UpdateClusterConfig
    ("POST", "/clusters/unknown/access-entries"),
]


@pytest.fixture
def cluster(aws: Emulator) -> Emulator:
    # An update an earlier example started must not finish (by the clock) between one example's before and
    # after snapshots: make updates complete at once.
    aws.set_eks_settings(mode_update_seconds=0, other_update_seconds=0)
    boto3.client("iam").create_role(RoleName="dev", AssumeRolePolicyDocument="{}")
    boto3.client("iam").create_role(RoleName="eks-cluster", AssumeRolePolicyDocument="{}")
    eks = boto3.client("eks")
    eks.create_cluster(
        name="c",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": "API_AND_CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    )
    eks.create_access_entry(clusterName="c", principalArn=ROLE, kubernetesGroups=["devs"])
    return aws


def snapshot() -> Any:
    eks = boto3.client("eks")
    cluster = eks.describe_cluster(name="c")["cluster"]
    entries = eks.list_access_entries(clusterName="c")["accessEntries"]
    details = [eks.describe_access_entry(clusterName="c", principalArn=a)["accessEntry"] for a in entries]
    policies = [
        eks.list_associated_access_policies(clusterName="c", principalArn=a)["associatedAccessPolicies"]
        for a in entries
    ]
    return cluster["accessConfig"], cluster["status"], details, policies


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_any_body_gets_an_eks_error_or_success_never_a_server_error(
    cluster: Emulator, route: tuple[str, str], body: Any
) -> None:
    # Given a cluster with one entry
    before = snapshot()
    # When an arbitrary JSON body is sent to a write route
    status, headers, payload = signed(cluster.endpoint_url, route[0], route[1], json.dumps(body).encode())
    # Then it is a success, or an EKS client error that changed nothing
    assert status < 500, (status, payload)
    if status >= 400:
        error = next((v for k, v in headers.items() if k.lower() == "x-amzn-errortype"), None)
        assert error in EKS_ERRORS, (status, headers, payload)
        assert payload.get("message"), payload
        assert snapshot() == before
