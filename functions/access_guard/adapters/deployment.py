"""The deployment record in Parameter Store (`core.deployment`): read by the CLI, written by the local runner
(the stack writes its own with CloudFormation)."""

from __future__ import annotations

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
