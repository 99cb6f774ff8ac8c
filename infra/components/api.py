"""The break-glass API: API Gateway REST, AWS_IAM (SigV4) on every method, Lambda proxy to the api handler.

Who may call it is decided three times: IAM signs every request; the resource policy allows only the
on-call principals (a role's sessions match by `aws:PrincipalArn`) and explicitly denies everyone else,
since a same-account caller with `execute-api:Invoke` in its own IAM policy would otherwise be allowed;
and the handler checks the on-call list again. With requireMfa, a session without MFA is denied, except an
IAM Identity Center role's (SAML sessions never carry the MFA key; Identity Center enforces MFA at sign-in).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from access_guard.core import identity_center, principals
from access_guard.core.breakglass import API_ROUTES, API_STAGE
from access_guard.core.deployment import API_TIMEOUT_SECONDS
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..nag import acknowledge
from .function import GuardFunction
from .pipeline import HANDLERS

# Every Identity Center role of any account (the path is reserved to Identity Center).
IDENTITY_CENTER_ROLES = f"arn:aws:iam::*:role{principals.IDENTITY_CENTER_PATH}*"

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "userArn": "$context.identity.userArn",
    "accountId": "$context.identity.accountId",
    "method": "$context.httpMethod",
    "resource": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "error": "$context.error.message",
    "authorizeError": "$context.authorize.error",
}


def _principal_patterns(oncall_principals: Sequence[str]) -> list[str]:
    """How the policy names each on-call principal: its ARN, or for an Identity Center role a pattern that
    matches it with and without the region segment (IAM reserves that path to Identity Center)."""
    return [
        principals.identity_center_pattern(arn) if principals.identity_center(arn) else arn
        for arn in oncall_principals
    ]


def resource_policy(
    *,
    oncall_principals: Sequence[str],
    require_mfa: bool,
    oncall_permission_sets: Sequence[str] = (),
    account: str = "",
) -> iam.PolicyDocument:
    """Who may invoke: the on-call principals' accounts (and the deployment's, for on-call permission sets)
    are allowed, and every principal that is neither on call nor an on-call permission set's role (whatever
    its suffix, with or without the region segment) is explicitly denied. The on-call list is written once,
    so 40 principals fit API Gateway's 8,192 characters (core.limits)."""
    invoke = "execute-api:Invoke"
    everything = "execute-api:/*"
    anyone = iam.AnyPrincipal()
    sets = [p for name in oncall_permission_sets for p in identity_center.role_arn_patterns(account, name)]
    patterns = _principal_patterns(oncall_principals) + sets
    accounts = sorted({arn.split(":")[4] for arn in oncall_principals} | ({account} if sets else set()))
    statements = [
        iam.PolicyStatement(
            sid="OnCallAccountsInvoke",
            principals=[anyone],
            actions=[invoke],
            resources=[everything],
            conditions={"StringEquals": {"aws:PrincipalAccount": accounts}},
        ),
        iam.PolicyStatement(
            sid="DenyEveryoneElse",
            effect=iam.Effect.DENY,
            principals=[anyone],
            actions=[invoke],
            resources=[everything],
            conditions={"ArnNotLike": {"aws:PrincipalArn": patterns}},
        ),
    ]
    if require_mfa:
        # aws:MultiFactorAuthPresent is absent for AssumeRoleWithSAML sessions (IAM User Guide, MFA-protected
        # API access), and IAM Identity Center signs in with SAML: its roles are exempt here, their MFA is
        # enforced at Identity Center sign-in. IAM users and AssumeRole sessions must carry MFA.
        statements.append(
            iam.PolicyStatement(
                sid="DenyWithoutMfa",
                effect=iam.Effect.DENY,
                principals=[anyone],
                actions=[invoke],
                resources=[everything],
                conditions={
                    "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
                    "ArnNotLike": {"aws:PrincipalArn": IDENTITY_CENTER_ROLES},
                },
            )
        )
    return iam.PolicyDocument(statements=statements)


class BreakGlassApi(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: Mapping[str, str],
        layer: lambda_.ILayerVersion,
        log_retention: logs.RetentionDays,
        oncall_principals: Sequence[str],
        require_mfa: bool,
        rate_limit: int,
        oncall_permission_sets: Sequence[str] = (),
        account: str = "",
        burst_limit: int,
    ) -> None:
        super().__init__(scope, id)
        self.handler = GuardFunction(
            self,
            "Handler",
            handler=f"{HANDLERS}.api.handler",
            description="Break-glass API: drift, restore, temporary grants, audit",
            environment=environment,
            timeout=Duration.seconds(API_TIMEOUT_SECONDS),  # API Gateway's integration limit
            layer=layer,
            log_retention=log_retention,
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            description="EKS Access Guard break-glass API (AWS_IAM)",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            policy=resource_policy(
                oncall_principals=oncall_principals,
                require_mfa=require_mfa,
                oncall_permission_sets=oncall_permission_sets,
                account=account,
            ),
            cloud_watch_role=False,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies (reasons, principals) stay out of the logs
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
            ),
        )
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        # Bodies must be JSON objects; the handler checks their fields (one definition, in the runtime).
        self.body_model = self.api.add_model(
            "JsonObject",
            content_type="application/json",
            schema=apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4, type=apigw.JsonSchemaType.OBJECT),
        )
        integration = apigw.LambdaIntegration(self.handler.function, proxy=True, allow_test_invoke=False)
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for path, verb in API_ROUTES:  # every route the api handler serves
            resource = self.api.root.resource_for_path(path)
            params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
            method = resource.add_method(
                verb,
                integration,
                authorization_type=apigw.AuthorizationType.IAM,
                request_validator=self.validator,
                request_parameters={f"method.request.path.{p}": True for p in params} or None,
                request_models={"application/json": self.body_model} if verb == "POST" else None,
            )
            acknowledge(
                method,
                "COG4",
                "Callers are IAM principals (on-call roles and users), authorized with AWS_IAM (SigV4) and "
                "the API's resource policy; there is no Cognito user pool to authorize against.",
            )
            self.methods[(path, verb)] = method
        acknowledge(
            self.api.deployment_stage,
            "APIG3",
            "No WAF web ACL: every request must be SigV4-signed by an on-call principal the resource policy "
            "allows (everyone else is explicitly denied before the handler), and the stage is throttled.",
        )

    @property
    def url(self) -> str:
        return self.api.url
