"""Alarms (to the topic) and a dashboard, on the runtime's own metric names (`Metrics.*`)."""

from __future__ import annotations

from collections.abc import Mapping

from access_guard.core.config import METRICS_NAMESPACE, SERVICE_NAME, Metrics
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .function import GuardFunction

PERIOD = Duration.minutes(5)

# The runtime metrics that page someone whenever they are non-zero, and why.
ALARMED_METRICS: dict[str, str] = {
    Metrics.FAILURES: "a remediation run failed a write or raised",
    Metrics.REFUSED_STEPS: "the safety rules held back a remediation step",
    Metrics.BREAK_GLASS_REQUESTS: "someone used the break-glass API",
    Metrics.REVOCATION_FAILURES: "a grant revocation failed (it is retried)",
    Metrics.BASELINE_REJECTED: "a baseline from outside the trust boundary was refused (not a SecureString "
    "under the baseline key): someone who is not a baseline writer wrote it",
}
DASHBOARD_METRICS = (
    Metrics.DRIFT_DETECTED,
    Metrics.ACTIONS_APPLIED,
    Metrics.FAILURES,
    Metrics.REFUSED_STEPS,
    Metrics.BREAK_GLASS_REQUESTS,
    Metrics.REVOCATION_FAILURES,
)


def runtime_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},  # Powertools' service dimension
        statistic=statistic,
        period=PERIOD,
    )


def queue_depth(queue: sqs.IQueue) -> cloudwatch.Metric:
    return queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")


class DeadLetterAlarms(Construct):
    """One alarm per dead-letter queue: any message there is an event or a work item the guard lost."""

    def __init__(
        self, scope: Construct, id: str, *, queues: Mapping[str, sqs.IQueue], topic: sns.ITopic
    ) -> None:
        super().__init__(scope, id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for name, queue in queues.items():
            alarm = cloudwatch.Alarm(
                self,
                name,
                alarm_description=f"EKS Access Guard: messages in the dead-letter queue {name}",
                metric=queue_depth(queue),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(actions.SnsAction(topic))
            self.alarms[name] = alarm


# EventBridge's per-rule metrics (namespace AWS/Events, dimension RuleName on the default bus) that mean an
# event was lost or nearly so, and why each pages someone.
RULE_DELIVERY_METRICS: dict[str, str] = {
    "FailedInvocations": "EventBridge could not deliver an event to the rule's target after its retries "
    "(a queue or key policy refusing it, a target gone): it went to the dead-letter queue, if it could",
    "InvocationsFailedToBeSentToDLQ": "EventBridge could not put an undeliverable event in the dead-letter "
    "queue either: the event is lost (only the sweep will notice the drift it carried)",
}


def rule_metric(rule: events.IRule, name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name=name,
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=PERIOD,
    )


class RuleDeliveryAlarms(Construct):
    """Two alarms per EventBridge rule: deliveries that failed, and failures that did not reach the DLQ."""

    def __init__(
        self, scope: Construct, id: str, *, rules: Mapping[str, events.IRule], topic: sns.ITopic
    ) -> None:
        super().__init__(scope, id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for name, rule in rules.items():
            for metric_name, why in RULE_DELIVERY_METRICS.items():
                alarm = cloudwatch.Alarm(
                    self,
                    f"{name}{metric_name}",
                    alarm_description=f"EKS Access Guard: rule {name}: {why}",
                    metric=rule_metric(rule, metric_name),
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                alarm.add_alarm_action(actions.SnsAction(topic))
                self.alarms[f"{name}{metric_name}"] = alarm


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        functions: Mapping[str, GuardFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        queues: Mapping[str, sqs.IQueue],
        rules: Mapping[str, events.IRule],
    ) -> None:
        super().__init__(scope, id)
        action = actions.SnsAction(topic)
        self.dead_letters = DeadLetterAlarms(self, "DeadLetters", queues=dead_letter_queues, topic=topic)
        self.deliveries = RuleDeliveryAlarms(self, "Deliveries", rules=rules, topic=topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {**self.dead_letters.alarms, **self.deliveries.alarms}

        def alarm(name: str, metric: cloudwatch.IMetric, description: str) -> None:
            made = cloudwatch.Alarm(
                self,
                name,
                alarm_description=f"EKS Access Guard: {description}",
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            made.add_alarm_action(action)
            self.alarms[name] = made

        for name, fn in functions.items():
            alarm(f"{name}Errors", fn.function.metric_errors(period=PERIOD), f"the {name} handler failed")
        for metric_name, why in ALARMED_METRICS.items():
            alarm(metric_name, runtime_metric(metric_name), why)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Guard activity", left=[runtime_metric(m) for m in DASHBOARD_METRICS], width=12
            ),
            cloudwatch.GraphWidget(
                title="Event to remediated (s)",
                left=[
                    runtime_metric(Metrics.REMEDIATION_DELAY, "p99"),
                    runtime_metric(Metrics.REMEDIATION_DELAY, "Average"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth", left=[queue_depth(q) for q in queues.values()], width=12
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[queue_depth(q) for q in dead_letter_queues.values()],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Handler errors",
                left=[fn.function.metric_errors(period=PERIOD) for fn in functions.values()],
                width=24,
            )
        )
