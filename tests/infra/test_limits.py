"""AWS's limits at scale, measured on the synthesized templates as AWS will measure them.

Every CloudFormation value that exists only at deploy (Ref, Fn::GetAtt, Fn::Join...) is replaced by a
realistic stand-in built here from the template itself: a generated name is the stack name, the logical id
and a 13-character suffix, cut where the service cuts it. The limits are access_guard.core.limits (one
definition, each with its source); the measuring is this file's own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from access_guard.core import limits
from access_guard.core.config import PARAMETER_SETTINGS, Env
from access_guard.core.limits import LimitExceeded
from infra_synth import ACCOUNT, SCALE, Synth
from infra_templates import actions, as_list, function_policies, resources_of

from infra.eks import CLUSTER_READ, CLUSTER_WRITE
from infra.stacks import SERVICE_STACK

NAME_LIMITS = {"AWS::IAM::Role": 64, "AWS::Lambda::Function": 64, "AWS::SQS::Queue": 80}
ARN_FORMS = {
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::IAM::ManagedPolicy": "arn:aws:iam::{account}:policy/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/12345678-1234-1234-1234-123456789012",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
    "AWS::Scheduler::ScheduleGroup": "arn:aws:scheduler:{region}:{account}:schedule-group/{name}",
}


class Realistic:
    """One template's intrinsics, resolved to values as long as CloudFormation makes them."""

    def __init__(self, stack: str, template: dict[str, Any], region: str) -> None:
        self.stack, self.template, self.region = stack, template, region

    def name(self, logical_id: str) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        generated = f"{self.stack}-{logical_id}-ABCDEFGHIJKLM"
        return generated[: NAME_LIMITS.get(kind, 255)]

    def arn(self, logical_id: str) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        form = ARN_FORMS.get(kind, "arn:aws:service:{region}:{account}:resource/{name}")
        return form.format(region=self.region, account=ACCOUNT, name=self.name(logical_id))

    def ref(self, target: str) -> str:
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": self.region, "AWS::Partition": "aws"}
        if target in pseudo:
            return pseudo[target]
        if target in self.template.get("Parameters", {}):
            layer = "AWSLambdaPowertoolsPythonV3-python314-arm64:99"  # the Powertools layer's ARN
            return f"arn:aws:lambda:{self.region}:017000801446:layer:{layer}"
        kind = self.template["Resources"][target]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{self.name(target)}"
        if kind in ("AWS::SNS::Topic", "AWS::IAM::ManagedPolicy"):
            return self.arn(target)
        return self.name(target)

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"}:
            return self.ref(node["Ref"])
        if set(node) == {"Fn::GetAtt"}:
            logical_id, attribute = node["Fn::GetAtt"]
            return self.arn(logical_id) if attribute.endswith("Arn") else self.name(logical_id)
        if set(node) == {"Fn::Join"}:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(str(self(item)) for item in items)
        if set(node) == {"Fn::Select"}:
            index, items = node["Fn::Select"]
            return self(items)[index] if isinstance(self(items), list) else str(self(items))
        if set(node) == {"Fn::Split"}:
            delimiter, text = node["Fn::Split"]
            return str(self(text)).split(delimiter)
        return {key: self(value) for key, value in node.items()}


def _region(template_name: str, synth: Synth) -> str:
    return next((r for r in synth.config["regions"] if template_name.endswith(r)), "us-east-1")


def _measured(synth: Synth) -> dict[str, dict[str, int]]:
    """Every document and environment the limits apply to, measured: kind -> what -> size."""
    found: dict[str, dict[str, int]] = {
        k: {} for k in ("inline", "managed", "per_role", "env", "api", "sqs", "sns", "kms", "ssm")
    }
    for stack, template in synth.templates.items():
        real = Realistic(stack, template, _region(stack, synth))
        inline: dict[str, int] = {}
        for logical_id, resource in template["Resources"].items():
            kind, props = resource["Type"], resource["Properties"]
            where = f"{stack}/{logical_id}"
            if kind == "AWS::IAM::Policy":
                for role in props["Roles"]:
                    inline[role["Ref"]] = inline.get(role["Ref"], 0) + limits.iam_policy_size(
                        real(props["PolicyDocument"])
                    )
            elif kind == "AWS::IAM::Role":
                for policy in props.get("Policies", []):
                    inline[logical_id] = inline.get(logical_id, 0) + limits.iam_policy_size(
                        real(policy["PolicyDocument"])
                    )
            elif kind == "AWS::IAM::ManagedPolicy":
                found["managed"][where] = limits.iam_policy_size(real(props["PolicyDocument"]))
                for role in props["Roles"]:
                    key = f"{stack}/{role['Ref']}"
                    found["per_role"][key] = found["per_role"].get(key, 0) + 1
            elif kind == "AWS::Lambda::Function":
                variables = {k: str(real(v)) for k, v in props["Environment"]["Variables"].items()}
                found["env"][where] = limits.environment_size(variables)
            elif kind == "AWS::ApiGateway::RestApi" and "Policy" in props:
                text = json.dumps(real(props["Policy"]), separators=(",", ":"))
                api_arn = (
                    f"arn:aws:execute-api:{real.region}:{ACCOUNT}:a1b2c3d4e5/*"  # as API Gateway stores it
                )
                found["api"][where] = len(text.replace("execute-api:/*", api_arn))
            elif kind == "AWS::SQS::QueuePolicy":
                found["sqs"][where] = limits.policy_size(real(props["PolicyDocument"]))
            elif kind == "AWS::SNS::TopicPolicy":
                found["sns"][where] = limits.policy_size(real(props["PolicyDocument"]))
            elif kind == "AWS::KMS::Key":
                found["kms"][where] = limits.policy_size(real(props["KeyPolicy"]))
            elif kind == "AWS::SSM::Parameter":
                found["ssm"][where] = len(str(real(props["Value"])).encode())
        found["inline"].update({f"{stack}/{role}": size for role, size in inline.items()})
    return found


LIMIT_OF = {
    "inline": limits.IAM_ROLE_INLINE_POLICIES,
    "managed": limits.IAM_MANAGED_POLICY,
    "per_role": limits.IAM_MANAGED_POLICIES_PER_ROLE,
    "env": limits.LAMBDA_ENVIRONMENT,
    "api": limits.API_GATEWAY_RESOURCE_POLICY,
    "sqs": limits.SQS_QUEUE_POLICY,
    "sns": limits.SNS_TOPIC_POLICY,
    "kms": limits.KMS_KEY_POLICY,
    "ssm": limits.SSM_STANDARD_PARAMETER,
}


def test_every_document_and_environment_fits_its_aws_limit(synth: Synth) -> None:
    measured = _measured(synth)
    assert measured["inline"] and measured["env"] and measured["api"] and measured["kms"] and measured["ssm"]
    for kind, sizes in measured.items():
        limit = LIMIT_OF[kind]
        over = {what: size for what, size in sizes.items() if size > limit.value}
        assert not over, f"{limit.describe()}: {over}"


def test_every_template_fits_cloudformation(synth: Synth) -> None:
    for stack, template in synth.templates.items():
        assert len(json.dumps(template).encode()) <= limits.CLOUDFORMATION_TEMPLATE.value, stack
        assert len(template["Resources"]) <= limits.CLOUDFORMATION_RESOURCES.value, stack


def test_at_scale_the_lists_are_out_of_the_environment_and_in_standard_settings_parameters(
    scale: Synth,
) -> None:
    for region in scale.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        parameters = sorted(
            (
                p
                for p in scale.resources("AWS::SSM::Parameter", stack).values()
                if "/settings/" in str(p["Properties"]["Name"])  # (the deployment record aside)
            ),
            key=lambda p: p["Properties"]["Name"],
        )
        assert len(parameters) > 1  # the lists did not fit one standard parameter
        paths = {p["Properties"]["Name"].rsplit("/", 1)[0] for p in parameters}
        assert all(p["Properties"]["Tier"] == "Standard" for p in parameters)
        lists: dict[str, list[str]] = {}
        for parameter in parameters:
            for name, value in json.loads(parameter["Properties"]["Value"]).items():
                lists.setdefault(name, []).extend(value.split(","))
        assert lists == {
            Env.CLUSTERS: scale.config["clusters"][region],
            Env.ONCALL_PRINCIPALS: scale.config["oncallPrincipals"],
        }
        for function in scale.resources("AWS::Lambda::Function", stack).values():
            variables = function["Properties"]["Environment"]["Variables"]
            assert not set(PARAMETER_SETTINGS) & set(variables)
            assert {variables[Env.SETTINGS_PATH]} == paths


def test_at_scale_every_role_still_names_exactly_the_managed_clusters(scale: Synth) -> None:
    for region in scale.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        clusters = scale.config["clusters"][region]
        wanted = {f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{c}" for c in clusters} | {
            f"arn:aws:eks:{region}:{ACCOUNT}:access-entry/{c}/*" for c in clusters
        }
        for handler, statements in function_policies(scale.templates[stack]).items():
            eks = [s for s in statements if any(a.startswith("eks:") for a in actions(s))]
            named = {r for s in eks for r in resources_of(s)} - {"*"}
            assert named == wanted, handler
            # each action reaches every managed cluster: the split statements together cover the list
            for action in {a for s in eks for a in actions(s) if a.startswith("eks:")} - {
                "eks:ListAccessPolicies"
            }:
                reached = {r for s in eks if action in actions(s) for r in as_list(s["Resource"])}
                kind = "cluster/" if action in CLUSTER_READ + CLUSTER_WRITE else "access-entry/"
                assert {r for r in wanted if kind in r} <= reached, (handler, action)


def _build(config: dict[str, Any]) -> None:
    from aws_cdk import App

    from infra import config as config_mod
    from infra.app import build

    build(App(), config_mod.parse(config))


@pytest.mark.parametrize(
    ("change", "limit", "way_out"),
    [
        (  # 300 named clusters: the roles' permissions overflow the managed policies a role may have
            {"clusters": {r: [f"payments-prod-{r}-{i:03d}" for i in range(300)] for r in SCALE["regions"]}},
            limits.IAM_MANAGED_POLICIES_PER_ROLE,
            "clusterTag",
        ),
        (  # 90 on-call principals with long names: the API's resource policy
            {
                "oncallPrincipals": [
                    f"arn:aws:iam::{ACCOUNT}:role/oncall/responders/platform/team-{i:02d}-incident-responder-role"
                    for i in range(90)
                ]
            },
            limits.API_GATEWAY_RESOURCE_POLICY,
            "on-call role",
        ),
    ],
)
def test_a_config_beyond_what_fits_is_refused_at_synth_naming_the_limit_and_the_way_out(
    change: dict[str, Any], limit: limits.Limit, way_out: str
) -> None:
    with pytest.raises(LimitExceeded) as refused:
        _build({**SCALE, **change})
    assert refused.value.limit == limit
    message = str(refused.value)
    assert limit.name in message and limit.source in message and way_out in message
