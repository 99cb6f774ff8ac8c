"""The remediation pipeline: EventBridge rules (the runtime's own patterns) -> intake queue -> intake
handler -> FIFO work queue (one message group per cluster) -> remediate handler.

Each queue has a dead-letter queue; the rule targets share one more. Every queue is encrypted with the
guard's key and refuses requests without TLS. The queue policies are written here rather than by CDK's
`SqsQueue` target, which would grant EventBridge `kms:ReEncrypt*`/`kms:GenerateDataKey*` on the key and
drop the rule condition for encrypted queues: here EventBridge may send only from these rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from access_guard.core import deployment
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..iam import Allow
from .function import GuardFunction

HANDLERS = "access_guard.handlers"
MAX_RECEIVES = deployment.MAX_RECEIVES  # deliveries before a message goes to its dead-letter queue
DLQ_RETENTION = Duration.days(14)
# EventBridge pattern keys and the EventPattern fields that carry them.
_PATTERN_FIELDS = {
    "source": "source",
    "detail-type": "detail_type",
    "detail": "detail",
    "account": "account",
    "region": "region",
    "resources": "resources",
    "id": "id",
    "time": "time",
    "version": "version",
}


def event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """The runtime's pattern (a dict, as EventBridge reads it) as CDK's EventPattern, unchanged."""
    unknown = set(pattern) - set(_PATTERN_FIELDS)
    if unknown:
        raise ValueError(f"pattern keys CDK cannot express: {sorted(unknown)}")
    return events.EventPattern(**{_PATTERN_FIELDS[k]: v for k, v in pattern.items()})


def encrypted_queue(
    scope: Construct, id: str, *, key: kms.IKey, fifo: bool = False, **props: Any
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        data_key_reuse=Duration.minutes(5),
        enforce_ssl=True,
        fifo=fifo or None,
        **props,
    )


@jsii.implements(events.IRuleTarget)
class QueueTarget:
    """An SQS rule target with a dead-letter queue, granting nothing (the queue policies are explicit)."""

    def __init__(self, queue: sqs.IQueue, *, dead_letter_queue: sqs.IQueue) -> None:
        self.queue = queue
        self.dead_letter_queue = dead_letter_queue

    def bind(self, _rule: Any, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self.queue.queue_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=24 * 3600, maximum_retry_attempts=185
            ),
        )


def allow_rules_to_send(queue: sqs.IQueue, sid: str, rules: list[events.IRule]) -> None:
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": [r.rule_arn for r in rules]}},
        )
    )


class RuleTargetDeadLetters(Construct):
    """The dead-letter queue of every EventBridge rule target in the region (events EventBridge could not
    deliver after its retries)."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.queue = encrypted_queue(self, "Queue", key=key, retention_period=DLQ_RETENTION)
        self._rules: list[events.IRule] = []

    def add_rules(self, rules: list[events.IRule]) -> None:
        self._rules.extend(rules)

    def allow_rules(self) -> None:
        """Write the queue policy once every rule that dead-letters here is known."""
        allow_rules_to_send(self.queue, "EventBridgeRuleTargetsDeadLetter", self._rules)


class RemediationPipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        patterns: Mapping[str, Mapping[str, Any]],
        rule_dead_letters: RuleTargetDeadLetters,
        layer: lambda_.ILayerVersion,
        log_retention: logs.RetentionDays,
        intake_environment: Mapping[str, str],
        remediate_environment: Mapping[str, str],
        remediate_timeout: Duration,
    ) -> None:
        super().__init__(scope, id)
        intake_timeout = Duration.seconds(deployment.INTAKE_TIMEOUT_SECONDS)
        # Lambda's advice for SQS sources: visibility timeout at least six times the function timeout.
        self.intake_dead_letters = encrypted_queue(
            self, "IntakeDeadLetters", key=key, retention_period=DLQ_RETENTION
        )
        self.intake_queue = encrypted_queue(
            self,
            "IntakeQueue",
            key=key,
            visibility_timeout=Duration.seconds(
                intake_timeout.to_seconds() * deployment.VISIBILITY_TIMEOUT_FACTOR
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.intake_dead_letters, max_receive_count=MAX_RECEIVES
            ),
        )
        self.work_dead_letters = encrypted_queue(
            self, "WorkDeadLetters", key=key, fifo=True, retention_period=DLQ_RETENTION
        )
        # The intake sets MessageGroupId (the cluster) and an explicit MessageDeduplicationId itself.
        self.work_queue = encrypted_queue(
            self,
            "WorkQueue",
            key=key,
            fifo=True,
            content_based_deduplication=False,
            visibility_timeout=Duration.seconds(
                remediate_timeout.to_seconds() * deployment.VISIBILITY_TIMEOUT_FACTOR
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.work_dead_letters, max_receive_count=MAX_RECEIVES
            ),
        )

        self.rules: dict[str, events.Rule] = {}
        for name, pattern in patterns.items():
            rule = events.Rule(
                self,
                name,  # the runtime's stable rule name is the construct id
                description=f"EKS Access Guard: '{name}' events to the intake queue",
                event_pattern=event_pattern(pattern),
            )
            rule.add_target(QueueTarget(self.intake_queue, dead_letter_queue=rule_dead_letters.queue))
            self.rules[name] = rule
        allow_rules_to_send(self.intake_queue, "EventBridgeRulesSend", list(self.rules.values()))
        rule_dead_letters.add_rules(list(self.rules.values()))

        self.intake = GuardFunction(
            self,
            "Intake",
            handler=f"{HANDLERS}.intake.handler",
            description="Turns EKS, IAM and baseline events into per-cluster work",
            environment=intake_environment,
            timeout=intake_timeout,
            layer=layer,
            log_retention=log_retention,
        )
        self.remediate = GuardFunction(
            self,
            "Remediate",
            handler=f"{HANDLERS}.remediate.handler",
            description="Reconciles one cluster per work item with its baseline",
            environment=remediate_environment,
            timeout=remediate_timeout,
            layer=layer,
            log_retention=log_retention,
        )
        self.intake.permissions.add(self.consume(self.intake_queue, "ConsumeIntakeQueue"))
        self.remediate.permissions.add(self.consume(self.work_queue, "ConsumeWorkQueue"))
        self.intake_source = self._source("IntakeSource", self.intake, self.intake_queue)
        self.work_source = self._source("WorkSource", self.remediate, self.work_queue)

    def _source(self, id: str, function: GuardFunction, queue: sqs.IQueue) -> lambda_.EventSourceMapping:
        return lambda_.EventSourceMapping(
            self,
            id,
            target=function.function,
            event_source_arn=queue.queue_arn,
            batch_size=deployment.SQS_BATCH_SIZE,
            report_batch_item_failures=True,
        )

    @staticmethod
    def consume(queue: sqs.IQueue, sid: str) -> Allow:
        return Allow(
            sid=sid,
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            resources=[queue.queue_arn],
        )

    def send_work(self, sid: str = "SendWork") -> Allow:
        return Allow(sid=sid, actions=["sqs:SendMessage"], resources=[self.work_queue.queue_arn])

    @property
    def dead_letter_queues(self) -> dict[str, sqs.IQueue]:
        return {"IntakeDeadLetters": self.intake_dead_letters, "WorkDeadLetters": self.work_dead_letters}
