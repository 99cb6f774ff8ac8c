"""The deployment as the CLI finds it: its record in Parameter Store (`core.deployment`; read by the CLI,
written by the local runner, the stack writes its own with CloudFormation), and what the CLI checks about a
region before it stores a baseline there: the deployment's KMS key (by its alias), whether the cluster exists,
and whether a guard watches these baselines (an EventBridge rule with the runtime's own baseline pattern, as
the CDK and the local runner make it)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..core.deployment import Deployment, deployment_parameter
from .clients import error_code


def read_deployment(ssm: Any, prefix: str, region: str) -> Deployment | None:
    """The region's deployment record, or None when no guard is deployed there (DeploymentRecordError when
    it cannot be read)."""
    try:
        value = ssm.get_parameter(Name=deployment_parameter(prefix, region))["Parameter"]["Value"]
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return None
        raise
    return Deployment.loads(value)


def write_deployment(ssm: Any, prefix: str, record: Deployment) -> None:
    ssm.put_parameter(
        Name=deployment_parameter(prefix, record.region),
        Value=record.dumps(),
        Type="String",
        Overwrite=True,
        Description="EKS Access Guard: where this region's guard keeps its state (written by its deployment)",
    )


def key_by_alias(kms: Any, alias: str) -> str | None:
    """The alias when a KMS key answers to it in this region (and the caller may describe it), else None."""
    try:
        kms.describe_key(KeyId=alias)
    except ClientError as exc:
        if error_code(exc) in ("NotFoundException", "AccessDeniedException"):
            return None
        raise
    return alias


def cluster_exists(eks: Any, name: str) -> bool:
    try:
        eks.describe_cluster(name=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return False
        raise
    return True


def rule_with_pattern(events: Any, pattern: dict[str, Any]) -> bool:
    """Whether an EventBridge rule on the default bus has exactly this event pattern."""
    token = None
    while True:
        page = events.list_rules(**({"NextToken": token} if token else {}))
        for rule in page.get("Rules", []):
            try:
                if json.loads(rule.get("EventPattern") or "null") == pattern:
                    return True
            except ValueError:
                continue
        token = page.get("NextToken")
        if not token:
            return False
