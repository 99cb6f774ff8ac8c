"""The baseline store's key: one customer-managed KMS key per region for the SecureString baselines in SSM
and everything else the guard keeps (queues, topic, tables).

The key policy names every action (no `kms:*`). It lets the account's IAM policies administer and use the
key (so the deployer, the operators pushing baselines and the guard's roles work through IAM, each as
narrowly as its own policy says), and lets the two AWS services that write into the key's resources on
the guard's behalf use it: EventBridge (rule targets are encrypted queues) and CloudWatch (alarm actions
publish to the encrypted topic), each with only the conditions AWS documents for that service (a comment on
each statement names its source; reference, section 6).
"""

from __future__ import annotations

from access_guard.core.config import APP_ID
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..iam import PARTITION, Allow

# What administering the key means, action by action (the deployer's CloudFormation role needs these).
KEY_ADMIN_ACTIONS = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:ListGrants",
    "kms:RevokeGrant",
)
# Using the key for data, as IAM policies in the account may grant it.
KEY_USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")


class BaselineKey(Construct):
    def __init__(self, scope: Construct, id: str, *, alias: str = f"alias/{APP_ID}") -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        account = stack.account
        root = iam.AccountRootPrincipal()
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministersKey",
                    principals=[root],
                    actions=list(KEY_ADMIN_ACTIONS),
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="AccountIamPoliciesUseKey",
                    principals=[root],
                    actions=list(KEY_USE_ACTIONS),
                    resources=["*"],
                ),
                # DynamoDB makes a grant on the key when a table is created with it (CloudFormation does
                # that as the deployer); only for AWS resources.
                iam.PolicyStatement(
                    sid="AccountGrantsKeyToAwsResources",
                    principals=[root],
                    actions=["kms:CreateGrant"],
                    resources=["*"],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                # No condition: the EventBridge User Guide's statement for targets that are encrypted SQS
                # queues has none, and the SNS Developer Guide (key management: compatibility with event
                # sources) says aws:SourceAccount and aws:SourceArn are not supported for EventBridge; a
                # condition EventBridge does not send fails every delivery. Who may send is narrowed by each
                # queue's policy instead (aws:SourceArn of the guard's own rules, documented for SQS targets).
                iam.PolicyStatement(
                    sid="EventBridgeSendsToEncryptedQueues",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                ),
                # aws:SourceAccount and aws:SourceArn: documented for CloudWatch alarms publishing to an
                # encrypted topic (SNS Developer Guide, key management: compatibility with event sources).
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsPublishToEncryptedTopic",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{PARTITION}:cloudwatch:{stack.region}:{account}:alarm:*"
                        },
                    },
                ),
            ]
        )
        self.key = kms.Key(
            self,
            "Key",
            description="EKS Access Guard: baselines (SSM SecureString), queues, topic and tables",
            enable_key_rotation=True,
            policy=policy,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.alias = self.key.add_alias(alias)

    def use(self, sid: str, *, service: str, actions: tuple[str, ...]) -> Allow:
        """Let a role use the key through one AWS service only (`kms:ViaService`)."""
        stack = Stack.of(self)
        return Allow(
            sid=sid,
            actions=actions,
            resources=[self.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{stack.region}.amazonaws.com"}},
        )
