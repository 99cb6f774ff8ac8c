"""AWS limits the design must fit, each defined once with its source: infra checks them at synth, tests
measure the synthesized templates against them, and the runtime bounds its own work by them.

Pure data and the one way each is measured (`iam_policy_size`, `environment_size`); no AWS calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    """One AWS quota: its value, its unit, and where AWS says so."""

    name: str
    value: int
    unit: str
    source: str

    def describe(self) -> str:
        return f"{self.name} ({self.value:,} {self.unit}; {self.source})"


IAM_ROLE_INLINE_POLICIES = Limit(
    "IAM: a role's inline policies together",
    10_240,
    "characters, whitespace not counted",
    "IAM User Guide, IAM and AWS STS quotas: role policy size",
)
IAM_MANAGED_POLICY = Limit(
    "IAM: one customer managed policy",
    6_144,
    "characters, whitespace not counted",
    "IAM User Guide, IAM and AWS STS quotas: managed policy size",
)
IAM_MANAGED_POLICIES_PER_ROLE = Limit(
    "IAM: managed policies attached to a role",
    10,
    "policies (default quota, adjustable to 20)",
    "IAM User Guide, IAM and AWS STS quotas: managed policies per role",
)
LAMBDA_ENVIRONMENT = Limit(
    "Lambda: a function's environment variables together",
    4_096,
    "bytes (names and values)",
    "Lambda Developer Guide, Lambda quotas: environment variables",
)
API_GATEWAY_RESOURCE_POLICY = Limit(
    "API Gateway REST: a resource policy",
    8_192,
    "characters",
    "API Gateway Developer Guide, quotas for REST APIs: resource policy size",
)
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = Limit(
    "API Gateway REST: integration timeout",
    29,
    "seconds (default; Regional and private APIs may raise it by quota)",
    "API Gateway Developer Guide, quotas for REST APIs: integration timeout",
)
LAMBDA_TIMEOUT_SECONDS = Limit(
    "Lambda: function timeout", 900, "seconds", "Lambda Developer Guide, Lambda quotas: function timeout"
)
SQS_QUEUE_POLICY = Limit(
    "SQS: a queue policy", 8_192, "bytes", "SQS Developer Guide, policy quotas: maximum policy size"
)
SNS_TOPIC_POLICY = Limit(
    "SNS: a topic policy", 30_720, "bytes", "SNS Developer Guide, SNS quotas: topic access policy size"
)
KMS_KEY_POLICY = Limit(
    "KMS: a key policy", 32_768, "bytes", "KMS Developer Guide, quotas: key policy document size"
)
SSM_STANDARD_PARAMETER = Limit(
    "SSM Parameter Store: a standard parameter's value",
    4_096,
    "bytes",
    "Systems Manager User Guide, Parameter Store quotas: standard tier value size",
)
SSM_ADVANCED_PARAMETER = Limit(
    "SSM Parameter Store: an advanced parameter's value",
    8_192,
    "bytes",
    "Systems Manager User Guide, Parameter Store quotas: advanced tier value size",
)
CLOUDFORMATION_TEMPLATE = Limit(
    "CloudFormation: a template uploaded through S3 (as cdk deploy does)",
    1_000_000,
    "bytes",
    "CloudFormation User Guide, quotas: template body size in an S3 object",
)
CLOUDFORMATION_RESOURCES = Limit(
    "CloudFormation: resources in one stack",
    500,
    "resources",
    "CloudFormation User Guide, quotas: resources per stack",
)
EVENTBRIDGE_TARGETS_PER_RULE = Limit(
    "EventBridge: targets of one rule", 5, "targets", "EventBridge User Guide, quotas: targets per rule"
)
EKS_ACCESS_ENTRIES_PER_CLUSTER = Limit(
    "EKS: access entries of one cluster",
    3_000,
    "entries (not adjustable)",
    "EKS User Guide, service quotas: access entries per cluster",
)

ALL: tuple[Limit, ...] = (
    IAM_ROLE_INLINE_POLICIES,
    IAM_MANAGED_POLICY,
    IAM_MANAGED_POLICIES_PER_ROLE,
    LAMBDA_ENVIRONMENT,
    API_GATEWAY_RESOURCE_POLICY,
    API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS,
    LAMBDA_TIMEOUT_SECONDS,
    SQS_QUEUE_POLICY,
    SNS_TOPIC_POLICY,
    KMS_KEY_POLICY,
    SSM_STANDARD_PARAMETER,
    SSM_ADVANCED_PARAMETER,
    CLOUDFORMATION_TEMPLATE,
    CLOUDFORMATION_RESOURCES,
    EVENTBRIDGE_TARGETS_PER_RULE,
    EKS_ACCESS_ENTRIES_PER_CLUSTER,
)

_WHITESPACE = re.compile(r"\s")


def iam_policy_size(document: Mapping[str, Any]) -> int:
    """A policy document's size as IAM counts it: its JSON with every whitespace character left out."""
    return len(_WHITESPACE.sub("", json.dumps(document, separators=(",", ":"))))


def policy_size(document: Mapping[str, Any]) -> int:
    """A resource policy's size (SQS, SNS, KMS, API Gateway): its compact JSON, in bytes."""
    return len(json.dumps(document, separators=(",", ":")).encode())


def environment_size(variables: Mapping[str, str]) -> int:
    """A Lambda environment's size as Lambda counts it: every name and value, in bytes."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in variables.items())


class LimitExceeded(ValueError):
    """A deployment that would not fit an AWS limit: which one, by how much, and the way out."""

    def __init__(self, limit: Limit, *, what: str, measured: int, way_out: str) -> None:
        self.limit = limit
        self.measured = measured
        super().__init__(
            f"{what} needs {measured:,} where {limit.describe()} allows {limit.value:,}: {way_out}"
        )


# --- plain numbers the runtime and the local AWS bound their work by -------------------------------------

API_GATEWAY_TIMEOUT_SECONDS = API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS.value
LAMBDA_MAX_TIMEOUT_SECONDS = LAMBDA_TIMEOUT_SECONDS.value

# Systems Manager Parameter Store: GetParameter, GetParameters and GetParametersByPath share a default
# throughput of 40 transactions per second per account and region (standard throughput).
# https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm
SSM_GET_TPS = 40

# EventBridge Scheduler: a schedule fires within the minute of its time ("60 second precision").
# https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-types.html
SCHEDULER_PRECISION_SECONDS = 60

# SQS event source mappings: at most 10 messages per batch from a FIFO queue.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
SQS_FIFO_MAX_BATCH_SIZE = 10
