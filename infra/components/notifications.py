"""Where the guard says what it did and what went wrong: one encrypted topic, optional e-mail subscribers."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from ..iam import PARTITION, Allow


class Notifications(Construct):
    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, emails: Sequence[str]) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.topic = sns.Topic(
            self, "Topic", display_name="EKS Access Guard", master_key=key, enforce_ssl=True
        )
        # Alarm actions: CloudWatch publishes as a service, for alarms of this account and region only.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{PARTITION}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    },
                },
            )
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, sid: str = "PublishNotifications") -> Allow:
        return Allow(sid=sid, actions=["sns:Publish"], resources=[self.topic.topic_arn])
