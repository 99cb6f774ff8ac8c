"""CreateAccessEntry of a principal IAM made moments ago: EKS does not know it yet (the local AWS's
`newPrincipalSeconds`); the writer retries with bounded backoff, never past the run's deadline."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from access_guard.adapters.eks_writer import NEW_PRINCIPAL_DEADLINE_MARGIN_SECONDS, EksWriter
from access_guard.core.model import CreateEntry, EntrySpec

from local.client import Emulator

from .scenario import ACCOUNT, REGION, TRUST

CLUSTER = "c1"


@pytest.fixture
def cluster(aws: Emulator) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=TRUST)
    boto3.client("eks", region_name=REGION).create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API"},
    )


def new_role(aws: Emulator, seconds: float) -> str:
    aws.set_strict(new_principal_seconds=seconds)
    iam = boto3.client("iam", region_name=REGION)
    return str(iam.create_role(RoleName="fresh", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def writer(aws: Emulator, remaining: float | None, slept: list[float]) -> EksWriter:
    def sleep(seconds: float) -> None:  # time passes for the local AWS too, without waiting for it
        slept.append(seconds)
        aws.advance_clock(seconds)

    return EksWriter(boto3.client("eks", region_name=REGION), remaining=lambda: remaining, sleep=sleep)


def entries(aws: Emulator) -> set[str]:
    return {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}


def test_a_principal_eks_does_not_know_yet_gets_its_entry_after_a_few_retries(
    cluster: Any, aws: Emulator
) -> None:
    arn = new_role(aws, 5)
    slept: list[float] = []
    result, _ = writer(aws, 120, slept).write(CLUSTER, CreateEntry(EntrySpec(arn)))
    assert result.ok, result.error
    assert slept == [1.0, 2.0, 4.0]
    assert result.note and "not yet known" in result.note
    assert arn in entries(aws)


def test_the_retries_stop_at_about_thirty_seconds(cluster: Any, aws: Emulator) -> None:
    arn = new_role(aws, 120)
    slept: list[float] = []
    result, _ = writer(aws, 600, slept).write(CLUSTER, CreateEntry(EntrySpec(arn)))
    assert not result.ok and "invalid principal" in str(result.error)
    assert sum(slept) == 30
    assert arn not in entries(aws)


def test_the_retries_never_outlive_the_runs_deadline(cluster: Any, aws: Emulator) -> None:
    arn = new_role(aws, 120)
    slept: list[float] = []
    result, _ = writer(aws, NEW_PRINCIPAL_DEADLINE_MARGIN_SECONDS + 3, slept).write(
        CLUSTER, CreateEntry(EntrySpec(arn))
    )
    assert not result.ok
    assert sum(slept) <= 3
    slept.clear()
    result, _ = writer(aws, None, slept).write(CLUSTER, CreateEntry(EntrySpec(arn)))  # no deadline known
    assert not result.ok and slept == []


def test_other_refusals_are_not_retried(cluster: Any, aws: Emulator) -> None:
    slept: list[float] = []
    bad = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
    result, _ = writer(aws, 600, slept).write(CLUSTER, CreateEntry(EntrySpec(bad)))
    assert not result.ok and slept == []
