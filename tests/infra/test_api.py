"""The break-glass API: AWS_IAM on every method, only on-call principals, MFA when required."""

from __future__ import annotations

from typing import Any

from access_guard.core.breakglass import API_ROUTES, API_STAGE, API_URL_OUTPUT, SERVICE_STACK_NAME
from infra_synth import Synth

from infra.stacks import SERVICE_STACK


def _paths(template: dict[str, Any]) -> dict[str, str]:
    """Logical id of each API Gateway resource -> its full path."""
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::ApiGateway::Resource"}

    def path(logical_id: str) -> str:
        props = resources[logical_id]["Properties"]
        parent = props["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    return {k: path(k) for k in resources}


def test_every_api_method_uses_aws_iam_and_the_routes_are_the_handlers(synth: Synth) -> None:
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        paths = _paths(synth.templates[stack])
        methods = synth.resources("AWS::ApiGateway::Method", stack).values()
        assert all(m["Properties"]["AuthorizationType"] == "AWS_IAM" for m in methods)
        routes = sorted(
            (paths[m["Properties"]["ResourceId"]["Ref"]], m["Properties"]["HttpMethod"]) for m in methods
        )
        assert routes == sorted(API_ROUTES)
        for method in methods:
            integration = method["Properties"]["Integration"]
            assert integration["Type"] == "AWS_PROXY"
            assert "RequestValidatorId" in method["Properties"]


def _resource_policy(synth: Synth, region: str) -> dict[str, dict[str, Any]]:
    (api,) = synth.resources("AWS::ApiGateway::RestApi", SERVICE_STACK.format(region=region)).values()
    return {s["Sid"]: s for s in api["Properties"]["Policy"]["Statement"]}


def test_only_on_call_principals_may_invoke_and_everyone_else_is_denied(synth: Synth) -> None:
    oncall = synth.config["oncallPrincipals"]
    for region in synth.config["regions"]:
        policy = _resource_policy(synth, region)
        allow, deny = policy["OnCallPrincipalsInvoke"], policy["DenyEveryoneElse"]
        assert allow["Effect"] == "Allow" and allow["Action"] == "execute-api:Invoke"
        # aws:PrincipalArn is the role ARN for every session of the role (the sessions' own ARNs differ)
        assert allow["Condition"] == {"ArnEquals": {"aws:PrincipalArn": oncall}}
        assert deny["Effect"] == "Deny"
        assert deny["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": oncall}
        allowing = [s["Sid"] for s in policy.values() if s["Effect"] == "Allow"]
        assert allowing[0] == "OnCallPrincipalsInvoke"


def test_on_call_permission_sets_roles_may_invoke_whatever_their_suffix(synth: Synth) -> None:
    sets = synth.config.get("oncallPermissionSets", [])
    account = synth.config["account"]
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/"
    patterns = [p for n in sets for p in (f"{sso}AWSReservedSSO_{n}_*", f"{sso}*/AWSReservedSSO_{n}_*")]
    for region in synth.config["regions"]:
        policy = _resource_policy(synth, region)
        deny = policy["DenyEveryoneElse"]
        if not sets:
            assert "OnCallPermissionSetsInvoke" not in policy and "ArnNotLike" not in deny["Condition"]
            continue
        allow = policy["OnCallPermissionSetsInvoke"]
        assert allow["Effect"] == "Allow"
        assert allow["Condition"] == {"ArnLike": {"aws:PrincipalArn": patterns}}
        # denied only when neither an on-call principal nor a set's role (conditions of one statement AND)
        assert deny["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": patterns}


def test_mfa_is_required_by_an_explicit_deny_only_when_configured(synth: Synth) -> None:
    for region in synth.config["regions"]:
        policy = _resource_policy(synth, region)
        if synth.config["requireMfa"]:
            deny = policy["DenyWithoutMfa"]
            assert deny["Effect"] == "Deny" and deny["Action"] == "execute-api:Invoke"
            assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
        else:
            assert "DenyWithoutMfa" not in policy


def test_stage_is_throttled_logged_and_traced(synth: Synth) -> None:
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        (stage,) = synth.resources("AWS::ApiGateway::Stage", stack).values()
        props = stage["Properties"]
        assert (
            "DestinationArn" in props["AccessLogSetting"]
            and "$context.identity.userArn" in props["AccessLogSetting"]["Format"]
        )
        assert props["TracingEnabled"] is True
        (settings,) = props["MethodSettings"]
        assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
        assert settings["LoggingLevel"] == "ERROR" and settings["DataTraceEnabled"] is False
        validators = synth.resources("AWS::ApiGateway::RequestValidator", stack).values()
        assert [
            (v["Properties"]["ValidateRequestBody"], v["Properties"]["ValidateRequestParameters"])
            for v in validators
        ] == [(True, True)]


def test_the_stage_stack_and_output_are_where_the_cli_looks(synth: Synth) -> None:
    # the CLI finds the API as the stack SERVICE_STACK_NAME's output API_URL_OUTPUT, on stage API_STAGE
    for region in synth.config["regions"]:
        stack = SERVICE_STACK_NAME.format(region=region)
        (stage,) = synth.resources("AWS::ApiGateway::Stage", stack).values()
        template = synth.templates[stack]
        assert stage["Properties"]["StageName"] == API_STAGE
        assert API_URL_OUTPUT in template["Outputs"]
