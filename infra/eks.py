"""What the guard may do to EKS, and on which clusters: the statements a security review reads first.

Per the Service Authorization Reference for EKS:
- cluster ARN (`arn:aws:eks:REGION:ACCOUNT:cluster/NAME`): DescribeCluster, ListAccessEntries,
  CreateAccessEntry, UpdateClusterConfig, DescribeUpdate, ListUpdates;
- access-entry ARN (`.../access-entry/NAME/TYPE/ACCOUNT/PRINCIPAL/UUID`, so `.../access-entry/NAME/*`):
  DescribeAccessEntry, UpdateAccessEntry, DeleteAccessEntry, AssociateAccessPolicy,
  DisassociateAccessPolicy, ListAssociatedAccessPolicies;
- no resource type: ListAccessPolicies (`*`).

With clusters named, every statement names them. With a tag selector instead, the cluster statements use
`cluster/*` narrowed by `aws:ResourceTag/KEY` (the cluster resource type supports it). The access-entry
statements cannot be narrowed that way: on those actions `aws:ResourceTag` is the *entry's* tags, which
EKS does not copy from the cluster, and an entry someone else made has none. So in tag mode the entry
statements cover `access-entry/*/*` of the account and region; the tag-narrowed ListAccessEntries is
how the guard finds entries at all, but IAM alone does not stop an entry write on an untagged cluster.
Name the clusters where that matters (see the README, Deploy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import ClusterTag
from .iam import Allow, arn

CLUSTER_READ = ("eks:DescribeCluster", "eks:ListAccessEntries")
# DescribeUpdate and ListUpdates: following the guard's own mode update, and finding one already running
# when the cluster is busy (ListUpdates; without it a running mode update is mistaken for someone else's).
CLUSTER_WRITE = (
    "eks:CreateAccessEntry",
    "eks:UpdateClusterConfig",
    "eks:DescribeUpdate",
    "eks:ListUpdates",
)
ENTRY_READ = ("eks:DescribeAccessEntry", "eks:ListAssociatedAccessPolicies")
ENTRY_WRITE = ("eks:UpdateAccessEntry", "eks:DeleteAccessEntry", "eks:DisassociateAccessPolicy")
ASSOCIATE = ("eks:AssociateAccessPolicy",)

ENTRY_WILDCARD_REASON = (
    "An access entry's ARN ends in the principal and a UUID that EKS assigns at creation, so entries of a "
    "managed cluster can only be named as access-entry/CLUSTER/* (Service Authorization Reference)."
)
TAG_MODE_REASON = (
    "Clusters are chosen by tag (config clusterTag): cluster/* narrowed by the aws:ResourceTag condition on "
    "the cluster; entry actions cannot be narrowed by the cluster's tag (see infra/eks.py)."
)


@dataclass(frozen=True)
class EksScope:
    """The managed clusters of one region, as IAM resources and conditions."""

    region: str
    account: str
    clusters: tuple[str, ...] | None
    tag: ClusterTag | None

    def _cluster_resources(self) -> list[str]:
        if self.clusters is None:
            return [arn("eks", self.region, self.account, "cluster/*")]
        return [arn("eks", self.region, self.account, f"cluster/{name}") for name in self.clusters]

    def _entry_resources(self) -> list[str]:
        if self.clusters is None:
            return [arn("eks", self.region, self.account, "access-entry/*/*")]
        return [arn("eks", self.region, self.account, f"access-entry/{name}/*") for name in self.clusters]

    def _tag_condition(self) -> dict[str, dict[str, str]] | None:
        if self.tag is None:
            return None
        return {"StringEquals": {f"aws:ResourceTag/{self.tag.key}": self.tag.value}}

    def _entry_reason(self) -> str:
        return ENTRY_WILDCARD_REASON if self.tag is None else f"{ENTRY_WILDCARD_REASON} {TAG_MODE_REASON}"

    @property
    def manages_any(self) -> bool:
        return self.clusters is None or bool(self.clusters)

    def read(self) -> list[Allow]:
        """See a managed cluster's access configuration and entries."""
        if not self.manages_any:
            return []
        return [
            Allow(
                sid="ReadManagedClusters",
                actions=CLUSTER_READ,
                resources=self._cluster_resources(),
                conditions=self._tag_condition(),
                wildcard_reason=TAG_MODE_REASON,
            ),
            Allow(
                sid="ReadAccessEntries",
                actions=ENTRY_READ,
                resources=self._entry_resources(),
                wildcard_reason=self._entry_reason(),
            ),
        ]

    def read_write(self, *, policy_arns: Sequence[str] | None = None) -> list[Allow]:
        """See and change a managed cluster's access, in one statement per resource type: each cluster's
        ARNs written once, so 100 named clusters fit IAM's policy sizes (core.limits). `policy_arns`: the
        only access policies it may associate (a statement of its own, narrowed by eks:policyArn)."""
        if not self.manages_any:
            return []
        entry_actions = ENTRY_READ + ENTRY_WRITE + (ASSOCIATE if policy_arns is None else ())
        statements = [
            Allow(
                sid="ReadWriteManagedClusters",
                actions=CLUSTER_READ + CLUSTER_WRITE,
                resources=self._cluster_resources(),
                conditions=self._tag_condition(),
                wildcard_reason=TAG_MODE_REASON,
            ),
            Allow(
                sid="ReadWriteAccessEntries",
                actions=entry_actions,
                resources=self._entry_resources(),
                wildcard_reason=self._entry_reason(),
            ),
        ]
        if policy_arns is not None:
            statements.append(
                Allow(
                    sid="AssociateGrantPolicies",
                    actions=ASSOCIATE,
                    resources=self._entry_resources(),
                    conditions={"StringEquals": {"eks:policyArn": list(policy_arns)}},
                    wildcard_reason=self._entry_reason(),
                )
            )
        return statements


def pass_node_roles(role_arns: Sequence[str]) -> list[Allow]:
    """CreateAccessEntry of a node type (EC2_LINUX...) needs iam:PassRole of that role to EC2."""
    if not role_arns:
        return []
    return [
        Allow(
            sid="PassNodeRolesToNodeEntries",
            actions=["iam:PassRole"],
            resources=list(role_arns),
            conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        )
    ]
