"""The deployment's settings that grow with it (the managed cluster names, the on-call principals): standard
SSM parameters under one path per region, read by every function at cold start, instead of Lambda
environments that allow 4 KB in all (access_guard.core.limits). The functions' environments name the path and
carry a digest of the values, so a deploy that changes the lists also replaces warm execution environments
(and a cold start that reads them half-written knows it; core.config.with_parameter_settings)."""

from __future__ import annotations

from collections.abc import Mapping

from access_guard.core.config import Env, settings_chunks, settings_digest, settings_path
from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from ..iam import Allow, arn


class DeploymentSettings(Construct):
    def __init__(
        self, scope: Construct, id: str, *, prefix: str, region: str, settings: Mapping[str, str]
    ) -> None:
        super().__init__(scope, id)
        self.path = settings_path(prefix, region)
        chunks = settings_chunks(settings)
        self.parameters = [
            ssm.StringParameter(
                self,
                f"Part{index:02d}",
                parameter_name=f"{self.path}/{index:02d}",
                string_value=value,
                tier=ssm.ParameterTier.STANDARD,
                description="EKS Access Guard: managed clusters and on-call principals (set by the deploy)",
            )
            for index, value in enumerate(chunks, start=1)
        ]
        self.digest = settings_digest(chunks)

    @property
    def environment(self) -> dict[str, str]:
        return {Env.SETTINGS_PATH: self.path, Env.SETTINGS_DIGEST: self.digest}

    def read(self) -> Allow:
        stack = Stack.of(self)
        return Allow(
            sid="ReadDeploymentSettings",
            actions=["ssm:GetParametersByPath"],
            resources=[arn("ssm", stack.region, stack.account, f"parameter{self.path}")],
        )
