"""The AWS-managed EKS access policies this release knows by name.

AWS adds policies over time: code that *reads* a well-formed policy ARN it does not know must carry on;
only a baseline that *asks* for an unknown name is refused (it is almost always a typo).
"""

from __future__ import annotations

import re

POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
ADMIN_POLICY_NAME = "AmazonEKSClusterAdminPolicy"
ADMIN_POLICY_ARN = POLICY_ARN_PREFIX + ADMIN_POLICY_NAME

KNOWN_POLICY_NAMES: tuple[str, ...] = (
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
)
KNOWN_POLICY_ARNS: frozenset[str] = frozenset(POLICY_ARN_PREFIX + n for n in KNOWN_POLICY_NAMES)

_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]+$")


def is_well_formed_policy_arn(arn: str) -> bool:
    return bool(_POLICY_ARN.match(arn))


def policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


# Policies whose holder can write Kubernetes RBAC (ClusterRoleBindings, service-account tokens, ...): an
# attacker who held one may have left backdoors that removing the access entry does not undo.
RBAC_WRITING_POLICY_ARNS: frozenset[str] = frozenset(
    {ADMIN_POLICY_ARN, POLICY_ARN_PREFIX + "AmazonEKSAdminPolicy"}
)
