"""The baseline store's key: one customer-managed KMS key per region for the SecureString baselines in SSM
and everything else the guard keeps (queues, topic, tables).

The key policy names every action (no `kms:*`). It lets the account's IAM policies administer and use the
key (so the deployer, the operators pushing baselines and the guard's roles work through IAM, each as
narrowly as its own policy says), and lets the two AWS services that write into the key's resources on
the guard's behalf use it: EventBridge (rule targets are encrypted queues) and CloudWatch (alarm actions
publish to the encrypted topic), each with only the conditions AWS documents for that service (a comment on
each statement names its source; reference, section 6).

The baselines' trust boundary (`trust_baselines`, statements of its own, added to the rest): through SSM,
only the deployment's `baselineWriters` may encrypt with the key, and only under the baseline prefix; only
they and the guard's roles may decrypt a baseline. The guard applies only SecureStrings under this key, so
"may write SSM parameters" no longer means "may change cluster access". Administering the key (and so this
policy) stays with the account.
"""

from __future__ import annotations

from collections.abc import Sequence

from access_guard.core.trust import BASELINE_KEY_ALIAS, SSM_ENCRYPTION_CONTEXT_KEY, baseline_parameters_glob
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
# What SSM asks of KMS to write a SecureString (Encrypt; GenerateDataKey for the Advanced tier's envelope).
SSM_ENCRYPT_ACTIONS = ("kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext")
# Denied to all but the writers through SSM: every way to make a ciphertext under the key.
SSM_ENCRYPT_DENIED = ("kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
# The key policy statements of the trust boundary, by sid (tests and the README name them).
SID_WRITERS_ENCRYPT = "BaselineWritersEncryptBaselinesThroughSsm"
SID_WRITERS_DECRYPT = "BaselineWritersReadBaselinesThroughSsm"
SID_OTHERS_NO_ENCRYPT = "NobodyElseEncryptsThroughSsm"
SID_OTHERS_NO_DECRYPT = "OnlyGuardAndWritersDecryptBaselines"


class BaselineKey(Construct):
    def __init__(self, scope: Construct, id: str, *, alias: str = BASELINE_KEY_ALIAS) -> None:
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

    def trust_baselines(self, *, writers: Sequence[str], guard_roles: Sequence[str], prefix: str) -> None:
        """The trust boundary of the baselines under `prefix` (see the module's docstring)."""
        if not writers:
            raise ValueError("the baseline key needs at least one baseline writer (baselineWriters)")
        stack = Stack.of(self)
        via_ssm = {"kms:ViaService": f"ssm.{stack.region}.amazonaws.com"}
        baselines = {
            f"kms:EncryptionContext:{SSM_ENCRYPTION_CONTEXT_KEY}": baseline_parameters_glob(
                stack.region, stack.account, prefix, PARTITION
            )
        }
        writer_principals = [iam.ArnPrincipal(arn) for arn in writers]
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=SID_WRITERS_ENCRYPT,
                principals=writer_principals,
                actions=list(SSM_ENCRYPT_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": via_ssm, "StringLike": baselines},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=SID_WRITERS_DECRYPT,  # a push reads the manifest it replaces; show and plan read
                principals=writer_principals,
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": via_ssm, "StringLike": baselines},
            )
        )
        # Explicit denials win over any Allow, including what IAM policies grant through the account's
        # delegation above: nobody else encrypts anything with this key through SSM.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=SID_OTHERS_NO_ENCRYPT,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(SSM_ENCRYPT_DENIED),
                resources=["*"],
                conditions={"StringEquals": via_ssm, "ArnNotEquals": {"aws:PrincipalArn": list(writers)}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=SID_OTHERS_NO_DECRYPT,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": via_ssm,
                    "StringLike": baselines,
                    "ArnNotEquals": {"aws:PrincipalArn": [*writers, *guard_roles]},
                },
            )
        )

    def use(self, sid: str, *, service: str, actions: tuple[str, ...]) -> Allow:
        """Let a role use the key through one AWS service only (`kms:ViaService`)."""
        stack = Stack.of(self)
        return Allow(
            sid=sid,
            actions=actions,
            resources=[self.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{stack.region}.amazonaws.com"}},
        )
