"""Statements shared by several functions: reading baselines, reading IAM, and the few list actions that
support no resource-level permissions at all."""

from __future__ import annotations

from access_guard.core.triggers import baselines_root

from .iam import Allow, arn


def read_baselines(*, prefix: str, region: str, account: str) -> Allow:
    """GetParameter(s)/GetParametersByPath on the baselines of this region.

    The store keeps a cluster's baseline at `{prefix}clusters/{region}/{cluster}` (manifest) and
    `.../{cluster}/v/...` (chunks). The statement covers the region's baselines, not each managed cluster's
    two paths: named one by one they would overflow IAM's policy sizes at about 20 clusters (core.limits),
    and reading the guard's own baseline of a cluster it does not manage gives no power over that cluster
    (every EKS statement still names the managed clusters). README, Deploy: limits.
    """
    root = baselines_root(prefix).rstrip("/")  # /eks-access-guard/clusters
    base = f"parameter{root}/{region}"
    return Allow(
        sid="ReadBaselines",
        actions=["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
        resources=[arn("ssm", region, account, p) for p in (base, f"{base}/*")],
        wildcard_reason="A baseline is a manifest parameter plus chunk parameters under it "
        "(.../CLUSTER/v/VERSION/N, names made at push time); only this region's baselines, read-only.",
    )


def read_iam_principals(*, account: str) -> Allow:
    """Whether a principal named in a baseline or a grant exists (IAM is global: no region)."""
    return Allow(
        sid="ReadIamPrincipals",
        actions=["iam:GetRole", "iam:GetUser"],
        resources=[arn("iam", "", account, "role/*"), arn("iam", "", account, "user/*")],
        wildcard_reason="Baselines and grants may name any role or user of the account (with any path); "
        "GetRole and GetUser only read them.",
    )


def list_without_resources(*, eks: bool = False, iam: bool = False, ssm: bool = False) -> Allow:
    """List actions that the Service Authorization Reference gives no resource type, so Resource is `*`."""
    actions = (
        (["eks:ListAccessPolicies"] if eks else [])
        + (["iam:ListRoles", "iam:ListUsers"] if iam else [])
        + (["ssm:DescribeParameters"] if ssm else [])
    )
    return Allow(
        sid="ListWithoutResourceLevelPermissions",
        actions=actions,
        resources=["*"],
        wildcard_reason=f"{', '.join(actions)} support no resource-level permissions (Service "
        "Authorization Reference), so Resource must be '*'; they list names and metadata, never values.",
    )
