"""The break-glass API served locally: the real API and expiry handlers, behind the local API Gateway (SigV4
checked against the local IAM and STS) and fired by the local scheduler, on resources made in the local AWS.

    registry = FunctionRegistry(endpoint_url=aws.endpoint)
    gateway = serve_api(registry, oncall_principals=[ROLE_ARN], port=8080)   # http://127.0.0.1:8080/v1
    scheduler = expiry_scheduler(registry)                                  # .tick(), or .start(1.0)
    ...
    scheduler.stop(); gateway.stop()

`provision` makes (when missing) the state, grants and audit tables, the SNS topic, the schedule group and
the scheduler role, and registers the two functions with the environment the CDK gives them
(`core.config.Env`), pointing at those resources. Every name can be changed through `LocalNames`, so the
remediation path can share the grants and state tables (it must: remediation reads the grants).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from access_guard.core.breakglass import API_ROUTES, API_STAGE
from access_guard.core.config import (
    AUDIT_TABLE_KEYS,
    DEFAULT_PREFIX,
    GRANTS_TABLE_KEYS,
    STATE_TABLE_KEYS,
    Env,
    TableKeys,
)
from access_guard.core.limits import API_GATEWAY_TIMEOUT_SECONDS

from .runtime import FunctionRegistry, LocalApiGateway, LocalScheduler

ROUTES = [f"{method} {path}" for path, method in API_ROUTES]
API_HANDLER = "access_guard.handlers.api.handler"
EXPIRY_HANDLER = "access_guard.handlers.expiry.handler"
TRUST = '{"Version":"2012-10-17","Statement":[]}'


@dataclass(frozen=True)
class LocalNames:
    """What the local resources are called (the CDK names its own)."""

    state_table: str = "access-guard-state"
    grants_table: str = "access-guard-grants"
    audit_table: str = "access-guard-audit"
    topic: str = "access-guard-notifications"
    schedule_group: str = "access-guard-grants"
    scheduler_role: str = "access-guard-grant-scheduler"
    api_function: str = "access-guard-api"
    expiry_function: str = "access-guard-expiry"
    access_log_group: str = "access-guard-api-access-logs"  # the stage's access logs (as_deployed)


def ensure_table(dynamodb: Any, name: str, keys: TableKeys) -> None:
    """Create the table as the CDK lays it out (string keys, its global indexes), unless it exists."""
    if name in dynamodb.list_tables()["TableNames"]:
        return
    attributes = {keys.partition, *([keys.sort] if keys.sort else [])}
    schema = [{"AttributeName": keys.partition, "KeyType": "HASH"}]
    if keys.sort:
        schema.append({"AttributeName": keys.sort, "KeyType": "RANGE"})
    indexes = []
    for index, partition, sort in keys.indexes:
        attributes |= {partition, sort}
        indexes.append(
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": sort, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    extra: dict[str, Any] = {"GlobalSecondaryIndexes": indexes} if indexes else {}
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        KeySchema=schema,
        **extra,
    )


def provision(
    registry: FunctionRegistry,
    *,
    oncall_principals: Sequence[str],
    require_mfa: bool = False,
    prefix: str = DEFAULT_PREFIX,
    names: LocalNames = LocalNames(),
    settings: Mapping[str, str] | None = None,
    log_level: str | None = None,
    roles: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Make the resources (when missing) and register the API and expiry functions; their environment.

    `settings` adds or overrides environment variables (Env names: ACCESS_GUARD_MAX_GRANT_MINUTES, ...).
    `log_level` sets the handlers' Powertools loggers (e.g. "WARNING" for a quiet console). `roles` gives
    the functions execution roles ({"api": ARN, "expiry": ARN}): their calls are then their roles'.
    The functions are registered by their handlers' import paths: a registry with process isolation runs
    them in worker processes (stopped at their timeouts), an inline one imports them at first use."""
    dynamodb = registry.client("dynamodb")
    for table, keys in (
        (names.state_table, STATE_TABLE_KEYS),
        (names.grants_table, GRANTS_TABLE_KEYS),
        (names.audit_table, AUDIT_TABLE_KEYS),
    ):
        ensure_table(dynamodb, table, keys)
    topic_arn = registry.client("sns").create_topic(Name=names.topic)["TopicArn"]
    scheduler = registry.client("scheduler")
    groups = {g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]}
    if names.schedule_group not in groups:
        scheduler.create_schedule_group(Name=names.schedule_group)
    iam = registry.client("iam")
    try:
        role_arn = iam.get_role(RoleName=names.scheduler_role)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName=names.scheduler_role, AssumeRolePolicyDocument=TRUST)["Role"][
            "Arn"
        ]
    expiry_arn = f"arn:aws:lambda:{registry.region}:{registry.account_id}:function:{names.expiry_function}"
    environment = {
        "AWS_ENDPOINT_URL": str(registry.client("sts").meta.endpoint_url),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        Env.PREFIX: prefix,
        Env.TOPIC_ARN: topic_arn,
        Env.STATE_TABLE: names.state_table,
        Env.GRANTS_TABLE: names.grants_table,
        Env.AUDIT_TABLE: names.audit_table,
        Env.ONCALL_PRINCIPALS: ",".join(oncall_principals),
        Env.REQUIRE_MFA: "true" if require_mfa else "false",
        Env.SCHEDULE_GROUP: names.schedule_group,
        Env.SCHEDULER_ROLE_ARN: role_arn,
        Env.EXPIRY_FUNCTION_ARN: expiry_arn,
        **(settings or {}),
    }
    roles = roles or {}
    if log_level is not None:
        environment["POWERTOOLS_LOG_LEVEL"] = log_level.upper()
    registry.register(
        names.api_function,
        API_HANDLER,
        timeout=API_GATEWAY_TIMEOUT_SECONDS,
        environment=environment,
        role_arn=roles.get("api"),
    )
    # The CDK gives the expiry what every function shares, the audit table and the work queue; no schedules.
    expiry_env = {
        k: v
        for k, v in environment.items()
        if k not in (Env.SCHEDULE_GROUP, Env.SCHEDULER_ROLE_ARN, Env.EXPIRY_FUNCTION_ARN)
    }
    registry.register(
        names.expiry_function,
        EXPIRY_HANDLER,
        timeout=180,
        environment=expiry_env,
        role_arn=roles.get("expiry"),
    )
    if log_level is not None and registry.isolation == "inline":
        from access_guard.handlers import api, expiry

        for module in (api, expiry):  # imported already in this process: their loggers were made
            module.logger.setLevel(getattr(logging, log_level.upper()))
    return environment


def serve_api(
    registry: FunctionRegistry,
    *,
    oncall_principals: Sequence[str],
    port: int = 0,
    host: str = "127.0.0.1",
    require_mfa: bool = False,
    clock: Callable[[], datetime] | None = None,
    names: LocalNames = LocalNames(),
    as_deployed: bool = False,
    **provision_options: Any,
) -> LocalApiGateway:
    """Provision, then serve the API handler on http://HOST:PORT/v1 behind the local API Gateway (started;
    `.endpoint` is the invoke URL, `.stop()` ends it). `clock` is the services' clock (grant times and
    expiry), for tests and benches; the gateway checks signatures against the real time.

    `as_deployed=True` (what `python -m local serve` uses) puts the deployed API's gatekeepers in front of
    the function, taken from the CDK's own definitions (infra.components.api): the resource policy (the
    on-call allow-list by aws:PrincipalArn, the deny for everyone else, the MFA deny), the request validator
    (POST bodies are JSON objects) and the stage's access-log format, written to the CloudWatch Logs group
    `names.access_log_group` on the local AWS. Refused requests never reach the function."""
    provision(
        registry,
        oncall_principals=oncall_principals,
        require_mfa=require_mfa,
        names=names,
        **provision_options,
    )
    if clock is not None:
        from access_guard.handlers import wiring

        wiring.set_clock(clock)  # every function's services: the API, the expiry, the sweep
    gateway = LocalApiGateway(
        registry,
        names.api_function,
        ROUTES,
        stage=API_STAGE,
        require_mfa=require_mfa,
        port=port,
        host=host,
        integration_timeout=API_GATEWAY_TIMEOUT_SECONDS,
        **(_deployed_gatekeepers(oncall_principals, require_mfa, names) if as_deployed else {}),
    )
    gateway.start()
    return gateway


def _deployed_gatekeepers(
    oncall_principals: Sequence[str], require_mfa: bool, names: LocalNames
) -> dict[str, Any]:
    """The gateway's settings from the CDK's definitions of the API (imports the CDK: a few seconds)."""
    from infra.components.api import ACCESS_LOG_FORMAT, resource_policy

    document = resource_policy(oncall_principals=list(oncall_principals), require_mfa=require_mfa).to_json()
    return {
        "resource_policy": document,
        "validate_bodies": True,
        "access_log_group": names.access_log_group,
        "access_log_format": ACCESS_LOG_FORMAT,
    }


def expiry_scheduler(
    registry: FunctionRegistry,
    *,
    clock: Callable[[], datetime] | None = None,
    precision_seconds: float = 0.0,
    seed: int | str | None = 0,
) -> LocalScheduler:
    """The local EventBridge Scheduler that fires grant schedules at the expiry function: `.tick()` fires
    what is due on `clock`, `.start(interval)` ticks in the background until `.stop()`. With
    `precision_seconds=SCHEDULER_PRECISION_SECONDS` (what `python -m local serve` and the strict local world
    use) a schedule fires anywhere within its minute, as in AWS, reproducibly for `seed`; the default, 0,
    fires at the exact second."""
    return LocalScheduler(
        registry, clock=clock or (lambda: datetime.now(UTC)), precision_seconds=precision_seconds, seed=seed
    )
