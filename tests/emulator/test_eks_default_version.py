"""A cluster created without a version gets the version EKS gives new clusters today (local/eks/rules.py
DEFAULT_VERSION), not moto's 1.19, which EKS no longer creates: a user's next step, an update one minor
version up, works."""

from __future__ import annotations

import time

import boto3

from local.client import Emulator
from local.eks.rules import DEFAULT_VERSION

ACCOUNT = "123456789012"


def test_a_cluster_made_without_a_version_gets_todays_default_and_can_be_updated(aws: Emulator) -> None:
    aws.set_eks_settings(mode_update_seconds=0.05, other_update_seconds=0.05)
    eks = boto3.client("eks", region_name="us-east-1")
    made = eks.create_cluster(
        name="fresh",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )["cluster"]
    assert made["version"] == DEFAULT_VERSION
    assert int(DEFAULT_VERSION.split(".")[1]) >= 33  # a version EKS still creates
    minor = int(DEFAULT_VERSION.split(".")[1]) + 1
    update = eks.update_cluster_version(name="fresh", version=f"1.{minor}")["update"]
    deadline = time.monotonic() + 10
    while eks.describe_update(name="fresh", updateId=update["id"])["update"]["status"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert eks.describe_cluster(name="fresh")["cluster"]["version"] == f"1.{minor}"
