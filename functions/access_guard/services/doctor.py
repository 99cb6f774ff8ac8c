"""`access-guard doctor`: read what a deploy cannot verify and judge it (core/doctor.py), check by check.

Read-only, except the canary: one event on the default bus, which the intake records in the state table
(an item that expires in a day). Every AWS error becomes that check's FAIL with its reason; the other
checks still run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.baseline_store import BaselineStore
from ..adapters.clients import error_code
from ..adapters.state_table import StateTable
from ..core import doctor as judge
from ..core import principals, triggers
from ..core.breakglass import API_URL_OUTPUT, SERVICE_STACK_NAME
from ..core.config import Config, ConfigError, Env, with_parameter_settings
from ..core.doctor import Check

ClientFor = Callable[[str, str], Any]  # (service, region) -> boto3 client
DEFAULT_CANARY_WAIT_SECONDS = 90.0  # CloudTrail-free path, but EventBridge and SQS polling take seconds
_COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message") or ""
        return f"{error_code(exc)}{': ' + message if message else ''}"
    return f"{type(exc).__name__}: {exc}"


class Doctor:
    def __init__(
        self,
        client: ClientFor,
        region: str,
        *,
        canary_wait_seconds: float = DEFAULT_CANARY_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        on_check: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.client = client
        self.on_check = on_check  # (check, its number, how many): told as each check starts (progress)
        self.region = region
        self.canary_wait_seconds = canary_wait_seconds
        self.sleep, self.clock, self.new_id = sleep, clock, new_id
        self.outputs: dict[str, str] = {}
        self.config: Config | None = None

    def run(self) -> list[Check]:
        steps = (
            ("stack", self.stack),  # first: the others read its outputs
            ("trail", self.trail),
            ("api-gateway-logging-role", self.api_gateway_account),
            ("powertools-layer", self.powertools_layer),
            ("subscriptions", self.subscriptions),
            ("rules", self.rules),
            ("event-path", self.canary),
            ("clusters", self.clusters),
            ("on-call-principals", self.oncall_principals),
        )
        checks = []
        for number, (name, check) in enumerate(steps, 1):
            if self.on_check is not None:
                self.on_check(name, number, len(steps))
            checks.append(self._guarded(name, check))
        return checks

    def _guarded(self, name: str, check: Callable[[], Check]) -> Check:
        try:
            return check()
        except (ClientError, BotoCoreError, ConfigError) as exc:
            return Check(name, "FAIL", f"could not read it: {_reason(exc)}", "check your credentials' access")

    def _output(self, name: str, check: str) -> str | Check:
        value = self.outputs.get(name)
        if value:
            return value
        return Check(
            check, "FAIL", f"not checked: the stack has no {name} output", "deploy the stack (cdk deploy)"
        )

    # --- the checks ---------------------------------------------------------------------------------------
    def stack(self) -> Check:
        name = SERVICE_STACK_NAME.format(region=self.region)
        cloudformation = self.client("cloudformation", self.region)
        try:
            (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if error_code(exc) == "ValidationError":
                return Check(
                    "stack", "FAIL", f"no stack {name} in {self.region}", "deploy it: cdk deploy --all"
                )
            raise
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        status = stack["StackStatus"]
        if status not in _COMPLETE:
            return Check(
                "stack", "FAIL", f"{name} is {status}", "finish or roll back the deploy, then deploy again"
            )
        wanted = (
            API_URL_OUTPUT,
            judge.TOPIC_OUTPUT,
            judge.STATE_TABLE_OUTPUT,
            judge.RULES_OUTPUT,
            judge.SETTINGS_OUTPUT,
            judge.LAYER_PARAMETER_OUTPUT,
        )
        missing = [o for o in wanted if not self.outputs.get(o)]
        if missing:
            return Check(
                "stack",
                "FAIL",
                f"{name} lacks the outputs {', '.join(missing)}",
                "deploy this version's stack",
            )
        return Check("stack", "PASS", f"{name} is {status} with its outputs")

    def trail(self) -> Check:
        regions = list(dict.fromkeys([self.region, triggers.IAM_EVENT_REGION]))
        trails: dict[str, judge.Trail] = {}
        for region in regions:
            cloudtrail = self.client("cloudtrail", region)
            for found in cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]:
                arn = found["TrailARN"]
                if arn in trails:
                    continue
                home = found.get("HomeRegion", region)
                at_home = self.client("cloudtrail", home)
                status = at_home.get_trail_status(Name=arn)
                selectors = at_home.get_event_selectors(TrailName=arn)
                trails[arn] = judge.Trail(
                    name=found["Name"],
                    home_region=home,
                    multi_region=bool(found.get("IsMultiRegionTrail")),
                    logging=bool(status.get("IsLogging")),
                    event_selectors=selectors.get("EventSelectors"),
                    advanced_selectors=selectors.get("AdvancedEventSelectors"),
                )
        return judge.judge_trails(list(trails.values()), regions)

    def api_gateway_account(self) -> Check:
        role = self.client("apigateway", self.region).get_account().get("cloudwatchRoleArn")
        if role:
            return Check("api-gateway-logging-role", "PASS", f"API Gateway logs to CloudWatch as {role}")
        return Check(
            "api-gateway-logging-role",
            "FAIL",
            f"API Gateway has no account-level CloudWatch role in {self.region}: the stage's logging fails",
            "create a role API Gateway may assume with AmazonAPIGatewayPushToCloudWatchLogs, then "
            "aws apigateway update-account "
            "--patch-operations op=replace,path=/cloudwatchRoleArn,value=ROLE_ARN",
        )

    def powertools_layer(self) -> Check:
        name = self.outputs.get(judge.LAYER_PARAMETER_OUTPUT) or judge.powertools_layer_parameter()
        try:
            value = self.client("ssm", self.region).get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            return Check(
                "powertools-layer",
                "FAIL",
                f"{name} does not exist in {self.region}: Powertools publishes no layer for it here",
                "deploy to a region where Powertools publishes this layer, or pin a version it publishes",
            )
        return Check("powertools-layer", "PASS", f"{name} -> {value}")

    def subscriptions(self) -> Check:
        topic = self._output(judge.TOPIC_OUTPUT, "subscriptions")
        if isinstance(topic, Check):
            return topic
        sns = self.client("sns", self.region)
        found = [
            s
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
            for s in page["Subscriptions"]
        ]
        confirmed = [s for s in found if s["SubscriptionArn"].startswith("arn:")]
        if confirmed:
            return Check("subscriptions", "PASS", f"{len(confirmed)} confirmed subscriber(s) on {topic}")
        pending = len(found) - len(confirmed)
        return Check(
            "subscriptions",
            "WARN",
            f"no confirmed subscriber on {topic}{f' ({pending} pending)' if pending else ''}: "
            "alarms reach nobody",
            "set notificationEmails in cdk.json and confirm the e-mails, or subscribe your paging tool",
        )

    def rules(self) -> Check:
        names = self._output(judge.RULES_OUTPUT, "rules")
        if isinstance(names, Check):
            return names
        events = self.client("events", self.region)
        disabled = []
        for name in names.split(","):
            try:
                state = events.describe_rule(Name=name)["State"]
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                state = "missing"
            if state != "ENABLED":
                disabled.append(f"{name} ({state.lower()})")
        if disabled:
            return Check(
                "rules",
                "FAIL",
                f"rules not enabled: {', '.join(disabled)}: their events never reach the guard",
                "aws events enable-rule --name NAME (or deploy the stack again)",
            )
        return Check("rules", "PASS", f"all {len(names.split(','))} rules enabled")

    def canary(self) -> Check:
        table = self._output(judge.STATE_TABLE_OUTPUT, "event-path")
        if isinstance(table, Check):
            return table
        canary = self.new_id()
        entry = triggers.canary_event(canary)
        put = self.client("events", self.region).put_events(Entries=[entry])
        if put.get("FailedEntryCount"):
            reason = put["Entries"][0].get("ErrorMessage", "refused")
            return Check(
                "event-path", "FAIL", f"EventBridge refused the canary: {reason}", "check events:PutEvents"
            )
        state = StateTable(self.client("dynamodb", self.region), table)
        deadline = self.clock() + self.canary_wait_seconds
        while True:
            if state.canary_seen(canary):
                return Check("event-path", "PASS", f"canary {canary} went rule -> intake queue -> intake")
            if self.clock() >= deadline:
                return Check(
                    "event-path",
                    "FAIL",
                    f"canary {canary} not recorded after {self.canary_wait_seconds:g} s: a rule, a queue or "
                    "key "
                    "policy, or the intake drops deliveries",
                    "look at the rules' FailedInvocations alarms, the rule-target dead-letter queue, "
                    "the intake's logs",
                )
            self.sleep(1.0)

    def _config(self) -> Config | Check:
        if self.config is not None:
            return self.config
        path = self._output(judge.SETTINGS_OUTPUT, "settings")
        if isinstance(path, Check):
            return path
        ssm = self.client("ssm", self.region)
        pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path)
        chunks = [v for _, v in sorted((p["Name"], p["Value"]) for page in pages for p in page["Parameters"])]
        prefix = path.rsplit("deployment/", 1)[0]
        self.config = Config.from_env(with_parameter_settings({Env.PREFIX: prefix}, chunks))
        return self.config

    def clusters(self) -> Check:
        config = self._config()
        if isinstance(config, Check):
            return Check("clusters", config.status, config.why, config.fix)
        store = BaselineStore(self.client("ssm", self.region), prefix=config.prefix)
        names = [c for c, r in store.list() if r == self.region and config.manages(c)]
        eks = self.client("eks", self.region)
        missing = []
        for name in names:
            try:
                eks.describe_cluster(name=name)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                missing.append(name)
        if missing:
            return Check(
                "clusters",
                "FAIL",
                f"baselines for clusters that do not exist in {self.region}: {', '.join(missing)}",
                "delete those baselines (access-guard baseline ...) or fix the cluster names",
            )
        if not names:
            return Check("clusters", "WARN", f"no baseline stored for a managed cluster in {self.region}",
                         "push one: access-guard baseline push FILE")  # fmt: skip
        return Check("clusters", "PASS", f"every baseline's cluster exists ({len(names)})")

    def oncall_principals(self) -> Check:
        config = self._config()
        if isinstance(config, Check):
            return Check("on-call-principals", config.status, config.why, config.fix)
        iam = self.client("iam", self.region)
        missing = []
        for arn in config.oncall_principals:
            principal = principals.parse(arn)
            if principal is None:
                missing.append(arn)
                continue
            try:
                if principal.kind == "role":
                    iam.get_role(RoleName=principal.name)
                else:
                    iam.get_user(UserName=principal.name)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
                missing.append(arn)
        if missing:
            return Check(
                "on-call-principals",
                "FAIL",
                f"on-call principals that do not exist: {', '.join(missing)}: nobody can break glass as them",
                "create them, or fix oncallPrincipals in cdk.json and deploy",
            )
        return Check(
            "on-call-principals", "PASS", f"all {len(config.oncall_principals)} on-call principals exist"
        )
