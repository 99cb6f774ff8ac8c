"""Every AWS call a function really makes is one its role in the template allows.

The handlers run on the local AWS as in Lambda (each under its own role's session, local/runner.py) through
a night that exercises every path: a CONFIG_MAP cluster locked behind another update, its baseline pushed,
a rogue admin, a disassociated policy, a deleted entry, the sweep, and every break-glass route up to a
grant that ends on its own. Each call is recorded with the keys that signed it; the keys say (through STS)
which function's role made it, and the synthesized template must allow that action to that role. A handler
that starts calling something new fails here before it fails in AWS with AccessDenied.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.adapters.breakglass_client import BreakGlassClient
from access_guard.core.config import PARAMETER_SETTINGS, Env
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring
from botocore.client import BaseClient
from botocore.credentials import Credentials
from infra_synth import Synth
from infra_templates import actions, as_list, function_policies

from infra.stacks import SERVICE_STACK
from local.baseline_key import ensure_baseline_key
from local.runner import Pipeline

REGION = "us-east-1"  # a service region of the named configuration
ACCOUNT = "123456789012"
CLUSTER = "edge"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
# Calls IAM authorizes as another action (batch forms), or not at all.
AUTHORIZED_AS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
FUNCTIONS = ("intake", "remediate", "sweep", "api", "expiry")
ENGINEER_ROLE = "AWSReservedSSO_OnCall_0a1b2c3d4e5f6a7b"
LOCAL_ONLY = ("AWS_ENDPOINT_URL", "POWERTOOLS_")  # where the local AWS is; no X-Ray daemon, no metrics


class ShiftedClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


Call = tuple[str, str, str, str]  # access key, secret, token, action (dynamodb: "action@table")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Call]]:
    """Every AWS API call made in this process, with the credentials that signed it."""
    calls: list[Call] = []
    real = BaseClient._make_api_call

    def record(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        credentials = self._request_signer._credentials
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            action = f"{self.meta.service_model.signing_name}:{operation_name}"
            if action.startswith("dynamodb:") and isinstance(api_params.get("TableName"), str):
                action += "@" + api_params["TableName"]
            calls.append((frozen.access_key, frozen.secret_key, frozen.token or "", action))
        return real(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    yield calls


def person(name: str) -> boto3.Session:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )


def role(name: str, path: str = "/") -> str:
    iam = boto3.client("iam", region_name=REGION)
    return str(iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def baseline(platform: str, oncall: str) -> str:
    return f"""\
metadata: {{name: {CLUSTER}, region: {REGION}}}
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
  accessEntries:
    - principalARN: {platform}
      accessPolicies:
        - {{policyARN: {ADMIN}, accessScope: {{type: cluster}}}}
    - principalARN: {oncall}
      accessPolicies:
        - {{policyARN: {VIEW}, accessScope: {{type: namespace, namespaces: [edge]}}}}
accessGuard: {{mode: enforce, prune: true, breakGlass: {{maxMinutes: 30}}}}
"""


def as_deployed(pipeline: Pipeline, names: tuple[str, ...], template: dict[str, Any]) -> None:
    """Each function's environment cut down to the variables the template gives it (and the local endpoint):
    a handler that needs a setting its function is not given fails here."""
    given = {
        resource["Properties"]["Handler"].split(".")[2]: set(
            resource["Properties"].get("Environment", {}).get("Variables", {})
        )
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    for name in names:
        environment = pipeline.registry.get(name).environment
        for variable in list(environment):
            # the cluster and on-call lists come from the settings path in a deployment (PARAMETER_SETTINGS)
            deployed_elsewhere = variable in PARAMETER_SETTINGS and Env.SETTINGS_PATH in given[name]
            if variable not in given[name] and not variable.startswith(LOCAL_ONLY) and not deployed_elsewhere:
                del environment[variable]


def night(aws: Any, endpoint: str, template: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every path of every function, once, each function with its template's environment; the audit trail,
    and the local tables by the variable that names them."""
    # the other update outlasts the first runs of the drain, however loaded the machine (each run also checks
    # the baseline against its key now)
    aws.set_eks_settings(mode_update_seconds=0.05, other_update_seconds=12.0)
    # as `python -m local serve` runs it: the baseline key under its alias, its ARN given to every function
    key = ensure_baseline_key(boto3.client("kms", region_name=REGION))
    pipeline = Pipeline.create(endpoint, region=REGION, environment={Env.BASELINE_KEY_ARN: key})
    as_deployed(pipeline, ("intake", "remediate", "sweep"), template)
    wiring.reset()
    intake_handler.reset()
    try:
        platform, oncall = role("platform-admins", "/platform/"), role("oncall")
        alice, bob = person("alice"), person("bob")
        role("eks-cluster")
        eks = alice.client("eks")
        eks.create_cluster(
            name=CLUSTER,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-1"]},
            accessConfig={
                "authenticationMode": "CONFIG_MAP",
                "bootstrapClusterCreatorAdminPermissions": True,
            },
        )
        # another update holds the cluster when the baseline asks for a new mode (the run looks: ListUpdates)
        other = eks.update_cluster_config(
            name=CLUSTER, logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}
        )["update"]["id"]
        BaselineStore(boto3.client("ssm", region_name=REGION), prefix=pipeline.prefix, kms_key_id=key).put(
            baseline(platform, oncall)
        )
        pipeline.drain()
        assert aws.access(CLUSTER, region=REGION)["authenticationMode"] == "CONFIG_MAP"  # it waited
        while eks.describe_update(name=CLUSTER, updateId=other)["update"]["status"] == "InProgress":
            time.sleep(0.1)
        pipeline.sweep()  # the other update is over: the sweep finishes the job
        # drift of every kind, each remediated from its event
        rogue = bob.client("eks")
        bob_arn = f"arn:aws:iam::{ACCOUNT}:user/bob"
        rogue.create_access_entry(clusterName=CLUSTER, principalArn=bob_arn)
        rogue.associate_access_policy(
            clusterName=CLUSTER, principalArn=bob_arn, policyArn=ADMIN, accessScope={"type": "cluster"}
        )
        rogue.disassociate_access_policy(clusterName=CLUSTER, principalArn=oncall, policyArn=VIEW)
        rogue.delete_access_entry(clusterName=CLUSTER, principalArn=platform)
        pipeline.drain()
        iam = boto3.client("iam", region_name=REGION)
        iam.delete_role(RoleName="oncall")
        iam.create_role(RoleName="oncall", AssumeRolePolicyDocument=TRUST)
        pipeline.drain()
        # the on-call engineer, through every route of the break-glass API
        engineer = role(ENGINEER_ROLE, "/aws-reserved/identity-center/")
        clock = ShiftedClock()
        url = pipeline.serve_api(oncall_principals=[engineer], clock=clock, tick_seconds=None)
        as_deployed(pipeline, ("api", "expiry"), template)
        keys = boto3.client("sts", region_name=REGION).assume_role(RoleArn=engineer, RoleSessionName="carol")
        c = keys["Credentials"]
        api = BreakGlassClient(
            url,
            credentials=Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
            region=REGION,
        )
        reason = "INC-7 permissions review"
        grant = {"accessPolicy": "AmazonEKSClusterAdminPolicy", "durationMinutes": 15, "reason": reason}
        longer = {**grant, "durationMinutes": 20}
        answers = [
            api.call("GET", "/clusters"),
            api.call("GET", f"/clusters/{CLUSTER}/drift"),
            api.call("POST", f"/clusters/{CLUSTER}/restore", body={"reason": reason}),
            early := api.call("POST", f"/clusters/{CLUSTER}/grants", body=grant),
            api.call("GET", f"/clusters/{CLUSTER}/grants"),
            api.call("DELETE", f"/clusters/{CLUSTER}/grants/{early.body['grant']['grantId']}"),
            api.call("POST", f"/clusters/{CLUSTER}/grants", body=grant),
            lost := api.call("POST", f"/clusters/{CLUSTER}/grants", body=longer),
            api.call("GET", "/audit", query={"cluster": CLUSTER}),
        ]
        assert [a.status for a in answers] == [200, 200, 200, 201, 200, 200, 201, 201, 200], [
            (a.status, a.body) for a in answers
        ]
        # the 15-minute grant ends on its schedule; the 20-minute one loses its schedule: remediation ends it
        lose_schedule(lost.body["grant"]["grantId"])
        assert pipeline.scheduler is not None
        clock.offset += timedelta(minutes=16)
        pipeline.scheduler.tick()
        assert engineer in aws.admins(CLUSTER, region=REGION)  # the longer grant still holds
        clock.offset += timedelta(minutes=5)
        assert pipeline.scheduler.tick() == []
        # a cluster-wide event (no principal): its remediation reconciles the whole cluster, the grant too
        rogue.update_cluster_config(
            name=CLUSTER, logging={"clusterLogging": [{"types": ["audit"], "enabled": True}]}
        )
        pipeline.drain()
        assert engineer not in aws.admins(CLUSTER, region=REGION)
        pipeline.sweep()
        assert aws.admins(CLUSTER, region=REGION) == [platform]
        trail = api.call("GET", "/audit", query={"cluster": CLUSTER})
        assert trail.status == 200, trail.body
        tables = {k: v for k, v in pipeline.environment.items() if k.endswith("_TABLE")}
        return list(trail.body["records"]), tables
    finally:
        pipeline.stop()
        wiring.reset()
        intake_handler.reset()


def lose_schedule(grant_id: str) -> None:
    scheduler = boto3.client("scheduler", region_name=REGION)
    for group in scheduler.list_schedule_groups()["ScheduleGroups"]:
        for schedule in scheduler.list_schedules(GroupName=group["Name"])["Schedules"]:
            if grant_id in schedule["Name"]:
                scheduler.delete_schedule(Name=schedule["Name"], GroupName=group["Name"])
                return
    raise AssertionError(f"no schedule for grant {grant_id}")


def made_by_function(calls: list[Call]) -> dict[str, set[str]]:
    """function -> the IAM actions its role's sessions called (the session is named after the function)."""
    by_keys: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for key, secret, token, action in calls:
        by_keys[(key, secret, token)].add(AUTHORIZED_AS.get(action, action))
    found: dict[str, set[str]] = defaultdict(set)
    for (key, secret, token), called in by_keys.items():
        sts = boto3.client(
            "sts",
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token or None,
        )
        arn = sts.get_caller_identity()["Arn"]
        kind, _, rest = arn.split(":", 5)[5].partition("/")
        if kind == "assumed-role" and rest.split("/")[-1] in FUNCTIONS:
            found[rest.split("/")[-1]] |= called - NEEDS_NO_PERMISSION
    return found


def allowed(statements: list[dict[str, Any]], action: str, table_ids: dict[str, str] | None = None) -> bool:
    """Whether a statement allows the action (and, for "action@table", on that table of the template)."""
    action, _, table = action.partition("@")
    for s in statements:
        if s["Effect"] != "Allow" or not any(fnmatch.fnmatchcase(action, p) for p in actions(s)):
            continue
        if not table:
            return True
        logical_id = (table_ids or {}).get(table)
        if logical_id is not None and any(logical_id in json.dumps(r) for r in as_list(s["Resource"])):
            return True
    return False


def test_every_call_a_function_makes_is_allowed_to_its_role(
    aws: Any, endpoint: str, named: Synth, recorded: list[Call]
) -> None:
    template = named.templates[SERVICE_STACK.format(region=REGION)]
    trail, tables = night(aws, endpoint, template)
    by_function = made_by_function(list(recorded))
    assert set(by_function) == set(FUNCTIONS), sorted(by_function)  # each function ran, as its own role
    # every grant's end is in the audit trail once, by the guard: the one revoked early (its call has its own
    # record), the two that ended (one on its schedule, one by a remediation: its schedule was lost)
    ends = sorted(
        (r["request"]["end"], r["status"], r["caller"]) for r in trail if r["action"] == "grant-end"
    )
    assert ends == [("ended", 200, "access-guard")] * 2 + [("revoked", 200, "access-guard")], ends
    carol = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ENGINEER_ROLE}/carol"
    assert [(r["status"], r["caller"]) for r in trail if r["action"] == "revoke"] == [(200, carol)]
    policies = function_policies(template)
    table_ids = table_logical_ids(template, tables)
    missing = {
        name: sorted(
            a for a in called if not allowed(policies[f"access_guard.handlers.{name}.handler"], a, table_ids)
        )
        for name, called in by_function.items()
    }
    assert {k: v for k, v in missing.items() if v} == {}


def table_logical_ids(template: dict[str, Any], tables: dict[str, str]) -> dict[str, str]:
    """local table name -> the template's table logical id, through the variable that names both."""
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            for variable, value in resource["Properties"]["Environment"]["Variables"].items():
                if variable in tables and isinstance(value, dict) and "Ref" in value:
                    found[tables[variable]] = value["Ref"]
    return found


def test_the_recorder_sees_what_a_role_lacks(named: Synth) -> None:
    # the check itself: an action no role has is reported missing
    policies = function_policies(named.templates[SERVICE_STACK.format(region=REGION)])
    statements = as_list(policies["access_guard.handlers.intake.handler"])
    assert not allowed(statements, "eks:DeleteAccessEntry")
    assert allowed(statements, "eks:DescribeCluster")
    # and a table action is allowed only on the tables its statement names
    remediate = policies["access_guard.handlers.remediate.handler"]
    ids = {"grants": "GrantsTableId", "idem": "IdempotencyTableId"}
    fake = [
        {
            "Effect": "Allow",
            "Action": "dynamodb:UpdateItem",
            "Resource": {"Fn::GetAtt": ["IdempotencyTableId", "Arn"]},
        }
    ]
    assert allowed(fake, "dynamodb:UpdateItem@idem", ids)
    assert not allowed(fake, "dynamodb:UpdateItem@grants", ids)
    assert remediate
