"""The sweep: on a schedule, reconcile every managed cluster and revoke overdue grants. Events can arrive
late, twice or never (EventBridge is best effort), and a grant's own expiry schedule can fail: this is the
fallback for both."""

from __future__ import annotations

from collections.abc import Mapping

from access_guard.core.deployment import SWEEP_TIMEOUT_SECONDS
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .function import GuardFunction
from .pipeline import HANDLERS


class Sweep(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        interval: Duration,
        full_interval: Duration,
        environment: Mapping[str, str],
        layer: lambda_.ILayerVersion,
        log_retention: logs.RetentionDays,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        self.sweep = GuardFunction(
            self,
            "Sweep",
            handler=f"{HANDLERS}.sweep.handler",
            description="Reconciles every managed cluster and revokes overdue grants",
            environment=environment,
            timeout=Duration.seconds(SWEEP_TIMEOUT_SECONDS),
            layer=layer,
            log_retention=log_retention,
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            description="EKS Access Guard: the periodic sweep (list check)",
            schedule=events.Schedule.rate(interval),
        )
        self.full_rule = events.Rule(
            self,
            "FullSchedule",
            description="EKS Access Guard: the sweep's full read",
            schedule=events.Schedule.rate(full_interval),
        )
        # CDK's Lambda target adds the invoke permission for this rule only, and the dead-letter queue's
        # policy statement for this rule only.
        for rule, tier in ((self.rule, "check"), (self.full_rule, "full")):
            rule.add_target(
                targets.LambdaFunction(
                    self.sweep.function,
                    event=events.RuleTargetInput.from_object({"tier": tier}),
                    dead_letter_queue=dead_letter_queue,
                    retry_attempts=2,
                )
            )
