"""One Lambda entry point of the runtime package: its own role, its own log group, the shared code asset."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from access_guard.core.config import METRICS_NAMESPACE, SERVICE_NAME
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .. import powertools
from ..iam import Allow, Permissions, attach

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
# The asset is the runtime package as it is in the repository, minus what Python and pip leave behind.
ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "*.egg-info", "**/.mypy_cache", "**/.pytest_cache"]


class GuardFunction(Construct):
    """A handler of `access_guard.handlers`, with a role that has only what the stack grants it.

    The stack gathers the function's statements into `permissions`, then calls `finish()` once to write
    them as one policy (the only policy the role has: no managed policies, no default policy).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration,
        layer: lambda_.ILayerVersion,
        log_retention: logs.RetentionDays,
        memory_mb: int = 512,
    ) -> None:
        super().__init__(scope, id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"EKS Access Guard {id}: {description}",
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=powertools.RUNTIME,
            architecture=powertools.ARCHITECTURE,
            handler=handler,
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=ASSET_EXCLUDE),
            layers=[layer],
            role=self.role,
            log_group=self.log_group,
            timeout=timeout,
            memory_size=memory_mb,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                **environment,
            },
        )
        # Active tracing without the L2's `tracing` prop, which would add a second (default) policy to the
        # role; the X-Ray statement is in the function's one policy instead.
        cfn = self.function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        self.permissions = Permissions()
        self.permissions.add(
            Allow(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
                wildcard_reason="A log group's ARN ends in ':*' (its streams); Lambda names a stream per "
                "execution environment. This is the function's own log group only.",
            ),
            Allow(
                sid="SendTraces",
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                resources=["*"],
                wildcard_reason="X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level "
                "permissions (Service Authorization Reference); they only write trace data.",
            ),
        )
        self._finished = False

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    def finish(self) -> list[iam.Policy | iam.ManagedPolicy]:
        """Write the gathered statements as the role's policies (call once, after every grant)."""
        if self._finished:
            raise RuntimeError(f"{self.node.path}: permissions already written")
        self._finished = True
        policies = attach(self, "Permissions", role=self.role, permissions=self.permissions)
        # Created only once its role can do what it needs from the first call: with active tracing, Lambda
        # refuses CreateFunction while the role cannot call xray:PutTraceSegments (aws-cdk #4176).
        self.function.node.add_dependency(*policies)
        return policies
