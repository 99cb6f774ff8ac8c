"""The break-glass API: AWS_IAM on every method, only on-call principals, MFA when required."""

from __future__ import annotations

import re
from typing import Any

from access_guard.core.breakglass import API_ROUTES, API_STAGE, API_URL_OUTPUT, SERVICE_STACK_NAME
from infra_synth import ACCOUNT, Synth

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


def _arn_like(pattern: str, value: str) -> bool:
    """IAM's ArnLike: `*` and `?` match within and across the ARN's sections, compared case-sensitively."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), value) is not None


def _condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """The few operators the resource policy uses, as IAM evaluates them (every key must hold)."""
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            wanted = wanted if isinstance(wanted, list) else [wanted]
            value = context.get(key)
            if operator == "StringEquals":
                ok = value is not None and value in wanted
            elif operator == "ArnNotLike":
                ok = value is None or not any(_arn_like(w, value) for w in wanted)
            elif operator == "BoolIfExists":
                ok = value is None or str(value).lower() in wanted
            else:
                raise AssertionError(f"operator the test does not know: {operator}")
            if not ok:
                return False
    return True


def _invoke_allowed(policy: dict[str, dict[str, Any]], context: dict[str, Any]) -> bool:
    """Explicit deny wins; otherwise an allow is needed (the caller's own IAM policy grants nothing here)."""
    matching = [s for s in policy.values() if _condition_holds(s.get("Condition", {}), context)]
    return not any(s["Effect"] == "Deny" for s in matching) and any(s["Effect"] == "Allow" for s in matching)


def _with_other_region_segment(arn: str) -> str:
    """The same Identity Center role as named with (or without) the region segment."""
    head, name = arn.rsplit("/", 1)
    if head.endswith("sso.amazonaws.com"):
        return f"{head}/eu-central-1/{name}"
    return f"{head.rsplit('/', 1)[0]}/{name}"


def test_only_on_call_principals_may_invoke_and_everyone_else_is_denied(synth: Synth) -> None:
    oncall = synth.config["oncallPrincipals"]
    for region in synth.config["regions"]:
        policy = _resource_policy(synth, region)
        assert all(s["Action"] == "execute-api:Invoke" for s in policy.values())
        with_mfa = {"aws:MultiFactorAuthPresent": "true"}
        for arn in oncall:
            # aws:PrincipalArn is the role ARN (with its path) for every session of the role
            context = {"aws:PrincipalArn": arn, "aws:PrincipalAccount": arn.split(":")[4], **with_mfa}
            assert _invoke_allowed(policy, context), arn
            if "/aws-reserved/sso.amazonaws.com/" in arn:
                other = {**context, "aws:PrincipalArn": _with_other_region_segment(arn)}
                assert _invoke_allowed(policy, other), other
        strangers = [
            f"arn:aws:iam::{ACCOUNT}:role/not-on-call",
            f"arn:aws:iam::{ACCOUNT}:user/someone",
            f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Other_0123456789abcdef",
            f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Other_01234567",
            oncall[0].replace(ACCOUNT, "210987654321"),
        ]
        for arn in strangers:
            context = {"aws:PrincipalArn": arn, "aws:PrincipalAccount": arn.split(":")[4], **with_mfa}
            assert not _invoke_allowed(policy, context), arn


def test_on_call_permission_sets_roles_may_invoke_whatever_their_suffix(synth: Synth) -> None:
    sets = synth.config.get("oncallPermissionSets", [])
    account = synth.config["account"]
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/"
    with_mfa = {"aws:MultiFactorAuthPresent": "true", "aws:PrincipalAccount": account}
    for region in synth.config["regions"]:
        policy = _resource_policy(synth, region)
        for name in sets:
            for arn in (
                f"{sso}AWSReservedSSO_{name}_0123456789abcdef",
                f"{sso}eu-west-1/AWSReservedSSO_{name}_fe",
            ):
                assert _invoke_allowed(policy, {"aws:PrincipalArn": arn, **with_mfa}), arn
            # the same set's name on another path is not Identity Center's: refused
            other = f"arn:aws:iam::{account}:role/elsewhere/AWSReservedSSO_{name}_0123456789abcdef"
            assert not _invoke_allowed(policy, {"aws:PrincipalArn": other, **with_mfa}), other


def test_mfa_is_required_by_an_explicit_deny_only_when_configured(synth: Synth) -> None:
    for region in synth.config["regions"]:
        policy = _resource_policy(synth, region)
        for arn in synth.config["oncallPrincipals"]:
            base = {"aws:PrincipalArn": arn, "aws:PrincipalAccount": arn.split(":")[4]}
            identity_center = "/aws-reserved/sso.amazonaws.com/" in arn
            for mfa in ("false", None):  # a session without MFA, or one that cannot carry the key
                context = base if mfa is None else {**base, "aws:MultiFactorAuthPresent": mfa}
                # Identity Center (SAML) sessions never carry the key: exempt, their MFA is Identity Center's
                expected = identity_center or not synth.config["requireMfa"]
                assert _invoke_allowed(policy, context) is expected, (arn, mfa)
        assert ("DenyWithoutMfa" in policy) is synth.config["requireMfa"]


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
