"""Helpers for the reconciler's scenario tests: clusters, principals and baselines in the local AWS."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
from access_guard.adapters import clients
from access_guard.core.baseline import load
from access_guard.core.model import Baseline
from access_guard.core.policies import POLICY_ARN_PREFIX
from access_guard.services.reconcile import Reconciler
from botocore.config import Config

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
ADMIN = POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
EDIT = POLICY_ARN_PREFIX + "AmazonEKSEditPolicy"
READS = ("Describe", "List", "Get")


def role(name: str, path: str = "/") -> str:
    iam = boto3.client("iam", region_name=REGION)
    return iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def delete_role(arn: str) -> None:
    boto3.client("iam", region_name=REGION).delete_role(RoleName=arn.rsplit("/", 1)[-1])


def recreate_role(arn: str) -> None:
    """Delete the role and create it again under the same ARN (a new unique id)."""
    path = "/" + arn.split(":role/", 1)[1].rsplit("/", 1)[0] + "/" if arn.count("/") > 1 else "/"
    delete_role(arn)
    role(arn.rsplit("/", 1)[-1], path)


def create_cluster(
    name: str,
    *,
    mode: str | None = None,
    bootstrap: bool | None = None,
    session: boto3.Session | None = None,
) -> None:
    if "eks-cluster" not in {r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]}:
        role("eks-cluster")
    kwargs: dict[str, Any] = {
        "name": name,
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        "resourcesVpcConfig": {"subnetIds": ["subnet-1", "subnet-2"]},
    }
    access_config: dict[str, Any] = {}
    if mode is not None:
        access_config["authenticationMode"] = mode
    if bootstrap is not None:
        access_config["bootstrapClusterCreatorAdminPermissions"] = bootstrap
    if access_config:
        kwargs["accessConfig"] = access_config
    (session or boto3.Session(region_name=REGION)).client("eks", region_name=REGION).create_cluster(**kwargs)


def entry(
    arn: str, *policies: tuple[str, list[str] | None], groups: list[str] | None = None, **extra: Any
) -> dict:
    """A baseline accessEntries item; each policy is (arn, namespaces or None for cluster scope)."""
    item: dict[str, Any] = {"principalARN": arn, **extra}
    if groups:
        item["kubernetesGroups"] = groups
    if policies:
        item["accessPolicies"] = [
            {
                "policyARN": p,
                "accessScope": {"type": "cluster"} if ns is None else {"type": "namespace", "namespaces": ns},
            }
            for p, ns in policies
        ]
    return item


def baseline_doc(
    cluster: str, entries: list[dict], auth: str | None = "API_AND_CONFIG_MAP", **guard: Any
) -> dict:
    access_config: dict[str, Any] = {"accessEntries": entries}
    if auth:
        access_config["authenticationMode"] = auth
    doc: dict[str, Any] = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": cluster, "region": REGION},
        "accessConfig": access_config,
    }
    if guard:
        doc["accessGuard"] = guard
    return doc


def baseline(
    cluster: str, entries: list[dict], auth: str | None = "API_AND_CONFIG_MAP", **guard: Any
) -> Baseline:
    return load(json.dumps(baseline_doc(cluster, entries, auth, **guard)))


class CallCounter:
    """Counts the EKS calls a client makes, per operation (retries included)."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-send.eks", self._count)

    def _count(self, request: Any, **kwargs: Any) -> None:
        self.calls[str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]] += 1

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if not op.startswith(READS))

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if op.startswith(READS))


def reconciler(*, max_attempts: int | None = None, **kwargs: Any) -> tuple[Reconciler, CallCounter]:
    """A reconciler on the product's own client factory, with short polls, and a counter of its EKS calls.

    `max_attempts` gives it clients of its own that try each call that many times in all (tests that make
    every attempt of a write fail need not wait out eight backoffs)."""
    clients.clear_cache()
    if max_attempts is None:
        eks, iam = clients.client("eks", region=REGION), clients.client("iam", region=REGION)
    else:
        config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts})
        eks = boto3.client("eks", region_name=REGION, config=config)
        iam = boto3.client("iam", region_name=REGION, config=config)
    counter = CallCounter(eks)
    options: dict[str, Any] = {"mode_update_poll_seconds": 0.05, **kwargs}
    return Reconciler(eks=eks, iam=iam, **options), counter


def granted(access: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The oracle's principals reduced to what a baseline says: source, username, groups, policies+scopes."""
    out = {}
    for p in access["principals"]:
        out[p["principalArn"]] = {
            "source": p["source"],
            "username": p["username"],
            "groups": sorted(p["kubernetesGroups"]),
            "policies": {
                a["policyArn"]: (
                    a["accessScope"]["type"],
                    tuple(sorted(a["accessScope"].get("namespaces") or ())),
                )
                for a in p["accessPolicies"]
            },
        }
    return out


def wanted(b: Baseline) -> dict[str, dict[str, Any]]:
    """What the oracle should show for a baseline's STANDARD entries (usernames compared apart)."""
    out = {}
    for spec in b.entries:
        out[spec.principal_arn] = {
            "groups": sorted(spec.kubernetes_groups),
            "policies": {
                p.policy_arn: (p.scope.type, tuple(sorted(p.scope.namespaces))) for p in spec.policies
            },
        }
    return out


def eks_writes_in_cloudtrail(emulator: Any) -> list[str]:
    return [
        r["eventName"]
        for r in emulator.cloudtrail_records()
        if r.get("eventSource") == "eks.amazonaws.com"
        and not r.get("readOnly", False)
        and not r["eventName"].startswith(READS)
    ]
