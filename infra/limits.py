"""AWS's limits checked at synth (their values and sources: access_guard.core.limits).

A synthesized document holds CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join...) whose values exist
only at deploy; to measure it as AWS will, each is replaced by a realistic stand-in of the longest length it
takes: a generated name is the stack name, the logical id and a random suffix, cut at the service's limit, so
an ARN of one is at most about 140 characters. `check_stack` measures every policy and environment of a
stack and refuses the synth, naming the limit and the way out, when one would not fit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from access_guard.core import limits
from access_guard.core.limits import LimitExceeded
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm

GENERATED_VALUE_LENGTH = 140  # the longest ARN, URL or name CloudFormation makes for our resources
PSEUDO = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "ap-southeast-2",  # among the longest region names
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "x" * 128,
    "AWS::StackId": "x" * GENERATED_VALUE_LENGTH,
    "AWS::NoValue": "",
}

WAY_OUT_CLUSTERS = (
    "name fewer clusters in this region (split them over deployments with their own prefix and regions), "
    "or choose them by clusterTag (README, Deploy: limits and how the design scales)"
)
WAY_OUT_ONCALL = (
    "list fewer on-call principals: name a role that several people assume (an Identity Center permission "
    "set's role, or one on-call role) rather than each person (README, Deploy: limits)"
)


def realistic(node: Any) -> Any:
    """`node` (a resolved CloudFormation value) with every intrinsic replaced by a realistic stand-in."""
    if isinstance(node, list):
        return [realistic(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((name, arg),) = node.items()
        if name == "Ref":
            return PSEUDO.get(arg, "x" * GENERATED_VALUE_LENGTH)
        if name in ("Fn::GetAtt", "Fn::ImportValue", "Fn::Select", "Fn::GetAZs", "Fn::Base64"):
            return "x" * GENERATED_VALUE_LENGTH
        if name == "Fn::Join":
            delimiter, items = arg
            return delimiter.join(str(realistic(item)) for item in items)
        if name == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            for pseudo, value in PSEUDO.items():
                text = text.replace("${" + pseudo + "}", value)
            while "${" in text:
                start = text.index("${")
                text = text[:start] + "x" * GENERATED_VALUE_LENGTH + text[text.index("}", start) + 1 :]
            return text
        if name == "Fn::If":
            _, yes, no = arg
            return max((realistic(yes), realistic(no)), key=lambda v: len(json.dumps(v)))
    return {key: realistic(value) for key, value in node.items()}


def resolved(stack: Stack, value: Any) -> Any:
    return realistic(stack.resolve(value))


def check_stack(stack: Stack) -> None:
    """Measure every policy document and function environment of `stack`; raise LimitExceeded on the first
    that does not fit (each construct's own check gives the more precise way out first)."""
    role_paths = {
        json.dumps(stack.resolve(c.ref)): c.node.path
        for c in stack.node.find_all()
        if isinstance(c, iam.CfnRole)
    }
    inline_by_role: dict[str, int] = defaultdict(int)
    managed_by_role: dict[str, int] = defaultdict(int)
    for construct in stack.node.find_all():
        path = construct.node.path
        if isinstance(construct, iam.CfnPolicy):
            size = limits.iam_policy_size(resolved(stack, construct.policy_document))
            for role in stack.resolve(construct.roles) or []:
                inline_by_role[json.dumps(role)] += size
        elif isinstance(construct, iam.CfnRole):
            size = sum(
                limits.iam_policy_size(realistic(policy["policyDocument"]))
                for policy in stack.resolve(construct.policies) or []
            )
            inline_by_role[json.dumps(stack.resolve(construct.ref))] += size
        elif isinstance(construct, iam.CfnManagedPolicy):
            _fit(
                limits.IAM_MANAGED_POLICY,
                path,
                limits.iam_policy_size(resolved(stack, construct.policy_document)),
                WAY_OUT_CLUSTERS,
            )
            for role in stack.resolve(construct.roles) or []:
                managed_by_role[json.dumps(role)] += 1
        elif isinstance(construct, lambda_.CfnFunction):
            variables = (stack.resolve(construct.environment) or {}).get("variables", {})
            size = limits.environment_size({k: str(realistic(v)) for k, v in variables.items()})
            _fit(limits.LAMBDA_ENVIRONMENT, f"{path} environment", size, WAY_OUT_ONCALL)
        elif isinstance(construct, apigw.CfnRestApi) and construct.policy is not None:
            document = resolved(stack, construct.policy)
            # API Gateway stores each `execute-api:/*` resource as the API's full ARN.
            text = json.dumps(document, separators=(",", ":")).replace(
                '"execute-api:/*"', '"' + "x" * GENERATED_VALUE_LENGTH + '"'
            )
            _fit(limits.API_GATEWAY_RESOURCE_POLICY, f"{path} resource policy", len(text), WAY_OUT_ONCALL)
        elif isinstance(construct, sqs.CfnQueuePolicy):
            size = limits.policy_size(resolved(stack, construct.policy_document))
            _fit(limits.SQS_QUEUE_POLICY, f"{path}", size, "fewer rules per queue")
        elif isinstance(construct, sns.CfnTopicPolicy):
            size = limits.policy_size(resolved(stack, construct.policy_document))
            _fit(limits.SNS_TOPIC_POLICY, f"{path}", size, "fewer statements on the topic")
        elif isinstance(construct, kms.CfnKey):
            size = limits.policy_size(resolved(stack, construct.key_policy))
            _fit(limits.KMS_KEY_POLICY, f"{path} key policy", size, "fewer statements on the key")
        elif isinstance(construct, ssm.CfnParameter):
            size = len(str(realistic(stack.resolve(construct.value))).encode())
            _fit(limits.SSM_STANDARD_PARAMETER, f"{path} value", size, WAY_OUT_CLUSTERS)
    for role, size in inline_by_role.items():
        what = f"{role_paths.get(role, role)} inline policies"
        _fit(limits.IAM_ROLE_INLINE_POLICIES, what, size, WAY_OUT_CLUSTERS)
    for role, count in managed_by_role.items():
        _fit(limits.IAM_MANAGED_POLICIES_PER_ROLE, role_paths.get(role, role), count, WAY_OUT_CLUSTERS)


def _fit(limit: limits.Limit, what: str, measured: int, way_out: str) -> None:
    if measured > limit.value:
        raise LimitExceeded(limit, what=what, measured=measured, way_out=way_out)
