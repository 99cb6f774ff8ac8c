"""Grants and their expiry: a schedule group holding one one-time schedule per grant (made by the API at
grant time), the role those schedules run as, and the expiry handler they invoke."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from ..iam import PARTITION, Allow
from .function import GuardFunction
from .pipeline import HANDLERS


class GrantExpiry(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: Mapping[str, str],
        layer: lambda_.ILayerVersion,
        log_retention: logs.RetentionDays,
        timeout: Duration,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.group = scheduler.ScheduleGroup(self, "Schedules")
        self.expiry = GuardFunction(
            self,
            "Expiry",
            handler=f"{HANDLERS}.expiry.handler",
            description="Revokes one break-glass grant when its schedule fires",
            environment=environment,
            timeout=timeout,
            layer=layer,
            log_retention=log_retention,
        )
        # The role EventBridge Scheduler runs the grant schedules as: it may invoke the expiry handler and
        # nothing else, and only schedules of this account's grant group may assume it.
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            description="EKS Access Guard: grant-expiry schedules invoke the expiry function",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": self.group.schedule_group_arn},
                },
            ),
            inline_policies={
                "InvokeExpiry": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="InvokeExpiryFunction",
                            actions=["lambda:InvokeFunction"],
                            resources=[self.expiry.function.function_arn],
                        )
                    ]
                )
            },
        )

    @property
    def schedules_arn(self) -> str:
        """Every schedule of the grant group (schedule names are made per grant, at grant time)."""
        stack = Stack.of(self)
        return (
            f"arn:{PARTITION}:scheduler:{stack.region}:{stack.account}:schedule/"
            f"{self.group.schedule_group_name}/*"
        )

    def manage_schedules(self, sid: str, actions: tuple[str, ...]) -> Allow:
        return Allow(
            sid=sid,
            actions=actions,
            resources=[self.schedules_arn],
            wildcard_reason="One schedule per grant, named when the grant is made; only schedules of the "
            "guard's own grant schedule group.",
        )

    def pass_scheduler_role(self) -> Allow:
        return Allow(
            sid="PassSchedulerRoleToScheduler",
            actions=["iam:PassRole"],
            resources=[self.scheduler_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        )
