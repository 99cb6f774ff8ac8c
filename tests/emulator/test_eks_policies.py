"""Conformance: access policies, scopes, associations and the three paginated lists."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.client import Emulator

from .helpers import refused

ACCOUNT = "123456789012"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
# The access policies of the fact sheet (section 2), written out here: the emulator's list is checked against
# the fact sheet, not against the product's copy or its own.
FACT_SHEET_POLICIES = [
    "AmazonAIOpsAssistantPolicy",
    "AmazonARCRegionSwitchScalingPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStorageClusterPolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSClusterInsightsPolicy",
    "AmazonEKSComputeClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSLoadBalancingClusterPolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingClusterPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSSecretReaderPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEMRJobPolicy",
    "AmazonSagemakerHyperpodClusterPolicy",
    "AmazonSagemakerHyperpodControllerPolicy",
    "AmazonSagemakerHyperpodSystemNamespacePolicy",
]
VIEW, EDIT, ADMIN = (
    PREFIX + "AmazonEKSViewPolicy",
    PREFIX + "AmazonEKSEditPolicy",
    PREFIX + "AmazonEKSClusterAdminPolicy",
)


def cluster_with_entry(eks: Any, role_name: str = "dev", entry_type: str = "STANDARD") -> str:
    eks.create_cluster(
        name="c",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    arn = boto3.client("iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_access_entry(clusterName="c", principalArn=arn, type=entry_type)
    return str(arn)


@pytest.fixture
def eks(aws: Emulator) -> Any:
    return boto3.client("eks")


# --- ListAccessPolicies --------------------------------------------------------------------------


def test_list_access_policies_returns_every_known_policy_sorted_by_name(eks: Any) -> None:
    policies = eks.get_paginator("list_access_policies").paginate().build_full_result()["accessPolicies"]
    assert [p["name"] for p in policies] == sorted(FACT_SHEET_POLICIES)
    assert all(p["arn"] == PREFIX + p["name"] for p in policies)


def test_list_access_policies_pages(eks: Any) -> None:
    first = eks.list_access_policies(maxResults=5)
    assert len(first["accessPolicies"]) == 5
    second = eks.list_access_policies(maxResults=5, nextToken=first["nextToken"])
    assert second["accessPolicies"][0]["name"] > first["accessPolicies"][-1]["name"]


def test_extra_access_policies_from_settings_are_listed_and_accepted(aws: Emulator, eks: Any) -> None:
    # given AWS "added" a policy since this release
    aws.set_eks_settings(extra_access_policies=["AmazonEKSBrandNewPolicy"])
    arn = cluster_with_entry(eks)
    names = [
        p["name"]
        for p in eks.get_paginator("list_access_policies").paginate().build_full_result()["accessPolicies"]
    ]
    assert "AmazonEKSBrandNewPolicy" in names and names == sorted(names)
    # then it can be associated
    associated = eks.associate_access_policy(
        clusterName="c",
        principalArn=arn,
        policyArn=PREFIX + "AmazonEKSBrandNewPolicy",
        accessScope={"type": "cluster"},
    )
    assert associated["associatedAccessPolicy"]["policyArn"] == PREFIX + "AmazonEKSBrandNewPolicy"


# --- AssociateAccessPolicy -----------------------------------------------------------------------


def test_a_cluster_scope_comes_back_with_no_namespaces(eks: Any) -> None:
    arn = cluster_with_entry(eks)
    result = eks.associate_access_policy(
        clusterName="c", principalArn=arn, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    assert result["clusterName"] == "c" and result["principalArn"] == arn
    policy = result["associatedAccessPolicy"]
    assert policy["accessScope"] == {"type": "cluster", "namespaces": []}
    assert policy["associatedAt"] == policy["modifiedAt"]


def test_a_namespace_scope_keeps_its_namespaces_and_wildcards(eks: Any) -> None:
    arn = cluster_with_entry(eks)
    scope = {"type": "namespace", "namespaces": ["payments", "dev-*"]}
    result = eks.associate_access_policy(clusterName="c", principalArn=arn, policyArn=VIEW, accessScope=scope)
    assert result["associatedAccessPolicy"]["accessScope"] == scope


@pytest.mark.parametrize(
    "scope",
    [
        {"type": "namespace"},
        {"type": "namespace", "namespaces": []},
        {"type": "namespace", "namespaces": ["Not_A_Namespace"]},
        {"type": "cluster", "namespaces": ["default"]},
        {"type": "everything"},
    ],
)
def test_a_bad_scope_is_refused(eks: Any, scope: dict[str, Any]) -> None:
    arn = cluster_with_entry(eks)
    call = lambda: eks.associate_access_policy(  # noqa: E731
        clusterName="c", principalArn=arn, policyArn=VIEW, accessScope=scope
    )
    assert refused(call)[:2] == ("InvalidParameterException", 400)
    assert (
        eks.list_associated_access_policies(clusterName="c", principalArn=arn)["associatedAccessPolicies"]
        == []
    )


@pytest.mark.parametrize(
    "policy_arn",
    [PREFIX + "AmazonEKSMadeUpPolicy", "arn:aws:iam::aws:policy/AdministratorAccess", "AmazonEKSViewPolicy"],
)
def test_an_unknown_policy_is_refused(eks: Any, policy_arn: str) -> None:
    arn = cluster_with_entry(eks)
    call = lambda: eks.associate_access_policy(  # noqa: E731
        clusterName="c", principalArn=arn, policyArn=policy_arn, accessScope={"type": "cluster"}
    )
    assert refused(call)[:2] == ("InvalidParameterException", 400)


def test_associating_again_replaces_the_scope_and_bumps_modified_at(eks: Any) -> None:
    arn = cluster_with_entry(eks)
    first = eks.associate_access_policy(
        clusterName="c",
        principalArn=arn,
        policyArn=VIEW,
        accessScope={"type": "namespace", "namespaces": ["a"]},
    )["associatedAccessPolicy"]
    second = eks.associate_access_policy(
        clusterName="c", principalArn=arn, policyArn=VIEW, accessScope={"type": "cluster"}
    )["associatedAccessPolicy"]
    assert second["accessScope"] == {"type": "cluster", "namespaces": []}
    assert second["associatedAt"] == first["associatedAt"]
    assert second["modifiedAt"] > first["modifiedAt"]
    listed = eks.list_associated_access_policies(clusterName="c", principalArn=arn)[
        "associatedAccessPolicies"
    ]
    assert [p["accessScope"]["type"] for p in listed] == ["cluster"]


def test_associating_on_a_missing_entry_is_not_found(eks: Any) -> None:
    cluster_with_entry(eks)
    missing = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    call = lambda: eks.associate_access_policy(  # noqa: E731
        clusterName="c", principalArn=missing, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    assert refused(call) == (
        "ResourceNotFoundException",
        404,
        "The specified principalArn could not be found. You can view your available access entries with "
        "'list-access-entries'.",
    )


def test_associating_on_a_node_entry_is_refused(eks: Any) -> None:
    arn = cluster_with_entry(eks, "nodes", "EC2_LINUX")
    call = lambda: eks.associate_access_policy(  # noqa: E731
        clusterName="c", principalArn=arn, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    assert refused(call) == (
        "InvalidParameterException",
        400,
        'This operation can only be performed on Access Entries with a type of "STANDARD".',
    )


# --- DisassociateAccessPolicy --------------------------------------------------------------------


def test_disassociate_removes_only_that_policy(eks: Any) -> None:
    arn = cluster_with_entry(eks)
    for policy in (VIEW, EDIT):
        eks.associate_access_policy(
            clusterName="c", principalArn=arn, policyArn=policy, accessScope={"type": "cluster"}
        )
    eks.disassociate_access_policy(clusterName="c", principalArn=arn, policyArn=VIEW)
    listed = eks.list_associated_access_policies(clusterName="c", principalArn=arn)[
        "associatedAccessPolicies"
    ]
    assert [p["policyArn"] for p in listed] == [EDIT]


def test_disassociating_a_policy_that_is_not_associated_is_not_found(eks: Any) -> None:
    arn = cluster_with_entry(eks)
    assert refused(lambda: eks.disassociate_access_policy(clusterName="c", principalArn=arn, policyArn=VIEW))[
        :2
    ] == (
        "ResourceNotFoundException",
        404,
    )


# --- lists and pagination ------------------------------------------------------------------------


def test_list_access_entries_filters_by_associated_policy(eks: Any) -> None:
    viewer = cluster_with_entry(eks)
    other = boto3.client("iam").create_role(RoleName="other", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_access_entry(clusterName="c", principalArn=other)
    eks.associate_access_policy(
        clusterName="c", principalArn=viewer, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    assert eks.list_access_entries(clusterName="c", associatedPolicyArn=VIEW)["accessEntries"] == [viewer]
    assert sorted(eks.list_access_entries(clusterName="c")["accessEntries"]) == sorted([viewer, other])


def test_250_entries_page_through_the_botocore_paginator(eks: Any) -> None:
    # given 250 entries
    eks.create_cluster(
        name="big",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    iam = boto3.client("iam")

    def make(i: int) -> str:
        arn = iam.create_role(RoleName=f"r{i:03d}", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        eks.create_access_entry(clusterName="big", principalArn=arn)
        return str(arn)

    with ThreadPoolExecutor(8) as pool:  # concurrent callers also exercise the backend's lock
        arns = list(pool.map(make, range(250)))
    # when paged with the default page size and with 7 a page
    pages = list(eks.get_paginator("list_access_entries").paginate(clusterName="big"))
    small = eks.get_paginator("list_access_entries").paginate(
        clusterName="big", PaginationConfig={"PageSize": 7}
    )
    # then every entry comes back exactly once, 100 at most a page
    assert [len(p["accessEntries"]) for p in pages] == [100, 100, 50]
    assert sorted(a for p in pages for a in p["accessEntries"]) == sorted(arns)
    assert sorted(small.build_full_result()["accessEntries"]) == sorted(arns)


def test_associated_policies_page(eks: Any) -> None:
    arn = cluster_with_entry(eks)
    for name in FACT_SHEET_POLICIES[:5]:
        eks.associate_access_policy(
            clusterName="c", principalArn=arn, policyArn=PREFIX + name, accessScope={"type": "cluster"}
        )
    pages = list(
        eks.get_paginator("list_associated_access_policies").paginate(
            clusterName="c", principalArn=arn, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["associatedAccessPolicies"]) for p in pages] == [2, 2, 1]
    assert sorted(p["policyArn"] for page in pages for p in page["associatedAccessPolicies"]) == sorted(
        PREFIX + n for n in FACT_SHEET_POLICIES[:5]
    )


@pytest.mark.parametrize("max_results", [0, 101, -1])
def test_max_results_out_of_range_is_refused(aws: Emulator, max_results: int) -> None:
    eks = boto3.client("eks", config=Config(parameter_validation=False))
    cluster_with_entry(eks)
    for call in (
        lambda: eks.list_access_entries(clusterName="c", maxResults=max_results),
        lambda: eks.list_access_policies(maxResults=max_results),
    ):
        assert refused(call)[:2] == ("InvalidParameterException", 400)


def test_a_forged_next_token_is_refused(eks: Any) -> None:
    cluster_with_entry(eks)
    assert refused(lambda: eks.list_access_entries(clusterName="c", nextToken="not-a-token"))[:2] == (
        "InvalidParameterException",
        400,
    )
