"""What the intake asks EKS about a cluster: its authentication mode, and which principals have entries.

Small on purpose: the intake only needs to know which clusters an IAM principal's change concerns (the
remediator reads the cluster in full, itself). Listing uses botocore's paginator.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .clients import error_code

PAGE_SIZE = 100


def authentication_mode(eks: Any, cluster: str) -> str | None:
    """The cluster's authentication mode (CONFIG_MAP when EKS reports none); None when there is no such
    cluster."""
    try:
        described = eks.describe_cluster(name=cluster)["cluster"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    return str((described.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP")


def entry_principal_arns(eks: Any, cluster: str) -> list[str]:
    """The principal ARN of every access entry of the cluster (none when the cluster is gone)."""
    paginator = eks.get_paginator("list_access_entries")
    found: list[str] = []
    try:
        for page in paginator.paginate(clusterName=cluster, PaginationConfig={"PageSize": PAGE_SIZE}):
            found.extend(page.get("accessEntries", []))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return []
        raise
    return found


def list_entry_arns(eks: Any, cluster: str, *, associated_policy_arn: str | None = None) -> list[str]:
    """The principal ARNs of the cluster's entries, or only of those with `associated_policy_arn` associated
    (ListAccessEntries' own filter): one call a page of 100. A gone cluster raises (ResourceNotFound)."""
    kwargs: dict[str, Any] = {"clusterName": cluster, "PaginationConfig": {"PageSize": PAGE_SIZE}}
    if associated_policy_arn is not None:
        kwargs["associatedPolicyArn"] = associated_policy_arn
    found: list[str] = []
    for page in eks.get_paginator("list_access_entries").paginate(**kwargs):
        found.extend(page.get("accessEntries", []))
    return found
