"""A managed cluster behind the local break-glass API: on-call principals (an IAM Identity Center role with
its path, an IAM user), others who are not on call, a baseline, the API on the local API Gateway, the
expiry on the local scheduler, an SQS queue subscribed to the SNS topic, and one clock for the services.

The API and the expiry run under their own roles, and the local AWS enforces the synthesized template's
policies for those roles (tests/iam_profile.py): a call the deployed policy does not allow is refused with
AccessDenied, as in AWS. The world's deployment manages MANAGED_CLUSTERS and grants the default grant
policies: the template's policies are bound to them (iam_profile.bound_policies).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import iam_profile
import pytest
from access_guard.adapters import clients
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.core.config import DEFAULT_GRANT_POLICIES, Env
from access_guard.core.policies import POLICY_ARN_PREFIX
from access_guard.handlers import wiring
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.breakglass_api import LocalNames, expiry_scheduler, serve_api
from local.client import Emulator
from local.runner import API_FUNCTIONS
from local.runtime import FunctionRegistry, LocalApiGateway, LocalScheduler

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "payments"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
# IAM Identity Center puts its roles under /aws-reserved/sso.amazonaws.com/. The local AWS cannot serve an
# access entry for a principal whose ARN holds ".amazonaws.com" (moto reads the region from the request
# URL: test_the_real_identity_center_path.py), so the on-call role that gets entries has a path of the same
# shape; the real path is used where no entry is made.
SSO_PATH = "/aws-reserved/identity-center/"
REAL_SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
REAL_SSO = f"arn:aws:iam::{ACCOUNT}:role{REAL_SSO_PATH}AWSReservedSSO_Restorers_fedcba9876543210"
ONCALL_ROLE_NAME = "AWSReservedSSO_OnCall_0123456789abcdef"
ONCALL = f"arn:aws:iam::{ACCOUNT}:role{SSO_PATH}{ONCALL_ROLE_NAME}"
SRE = f"arn:aws:iam::{ACCOUNT}:role/teams/sre-oncall"
SAM = f"arn:aws:iam::{ACCOUNT}:user/people/sam"
PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/platform/platform-admins"
DEV = f"arn:aws:iam::{ACCOUNT}:role/dev"
NODES = f"arn:aws:iam::{ACCOUNT}:role/nodes"
ADMIN = POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
EDIT = POLICY_ARN_PREFIX + "AmazonEKSEditPolicy"
# The functions are registered under the template's names for them, as the pipeline registers them (the IAM
# binding finds each function's policy by that name).
NAMES = LocalNames(api_function="api", expiry_function="expiry")
# The clusters the world's deployment manages (its roles' policies name them): the world's, a cluster in
# CONFIG_MAP mode and one that does not exist (test_writers.py).
MANAGED_CLUSTERS = (CLUSTER, "legacy", "orders")
LAMBDA_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},'
    '"Action":"sts:AssumeRole"}]}'
)


class Clock:
    """The services' clock: real time plus an offset moved by the test (never a sleep)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def sleep(self, seconds: float) -> None:
        """The services wait on this clock by moving it (an expiry waiting for its grant's exact end)."""
        self.advance(seconds=seconds)


MAX_MINUTES = 30  # the cluster's own maximum (the deployment's is 60)


def baseline_text(
    cluster: str = CLUSTER,
    *,
    extra: str = "",
    guard: str = f"prune: true, breakGlass: {{maxMinutes: {MAX_MINUTES}}}",
) -> str:
    return f"""\
metadata: {{name: {cluster}, region: {REGION}}}
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
  accessEntries:
    - principalARN: {PLATFORM}
      accessPolicies:
        - policyARN: {ADMIN}
          accessScope: {{type: cluster}}
    - principalARN: {DEV}
      accessPolicies:
        - policyARN: {EDIT}
          accessScope: {{type: namespace, namespaces: [payments]}}
    - principalARN: {SRE}
      accessPolicies:
        - policyARN: {EDIT}
          accessScope: {{type: namespace, namespaces: [payments]}}
{extra}accessGuard: {{{guard}}}
"""


@dataclass
class Response:
    status: int
    body: Any
    headers: Any = None

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


@dataclass
class World:
    aws: Emulator
    registry: FunctionRegistry
    gateway: LocalApiGateway
    scheduler: LocalScheduler
    clock: Clock
    queue_url: str
    credentials: dict[str, Credentials] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # function (api, expiry) -> its role ARN
    queues: dict[str, str] = field(default_factory=dict)  # no event source mappings here (iam_profile)
    # the policies enforced: role ARN -> statements
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refusals_expected: bool = False  # a test that takes statements out says so: the fixture checks none

    @property
    def url(self) -> str:
        return self.gateway.endpoint

    @property
    def environment(self) -> dict[str, str]:
        """The API function's environment (what the CDK would set), pointing at the local resources."""
        return dict(self.registry.get(NAMES.api_function).environment)

    def service(self, holder: str = "test") -> Any:
        """The break-glass service as a Lambda builds it, in the test (the sweep's fallback, say)."""
        from access_guard.handlers.wiring import breakglass

        return breakglass(env={**self.environment, "AWS_REGION": REGION}, holder=holder, clock=self.clock)

    # --- calling the API ------------------------------------------------------------------------------
    def sign(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        who: str = "oncall",
        raw: bytes | None = None,
        at: datetime | None = None,
        credentials: Credentials | None = None,
    ) -> AWSRequest:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if data else {}
        request = AWSRequest(method=method, url=self.url + path, data=data, headers=headers)
        signer = SigV4Auth(credentials or self.credentials[who], "execute-api", REGION)
        if at is None:
            signer.add_auth(request)
        else:
            with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
                signer.add_auth(request)
        return request

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Response:
        return send(self.sign(method, path, body, **kwargs))

    def grant(
        self,
        minutes: int = 15,
        policy: str = "AmazonEKSClusterAdminPolicy",
        *,
        who: str = "oncall",
        cluster: str = CLUSTER,
        **fields: Any,
    ) -> Response:
        body = {
            "accessPolicy": policy,
            "durationMinutes": minutes,
            "reason": "INC-42 payments down",
            **fields,
        }
        return self.call("POST", f"/clusters/{cluster}/grants", body, who=who)

    # --- what is true now -----------------------------------------------------------------------------
    def admins(self) -> list[str]:
        return self.aws.admins(CLUSTER, region=REGION)

    def access(self) -> dict[str, dict[str, Any]]:
        """principal ARN -> {policy ARN: scope} as the emulator's oracle sees it (entries only)."""
        out = {}
        for p in self.aws.access(CLUSTER, region=REGION)["principals"]:
            out[p["principalArn"]] = {
                a["policyArn"]: (a["accessScope"]["type"], tuple(a["accessScope"].get("namespaces") or ()))
                for a in p["accessPolicies"]
            }
        return out

    def grants_table(self) -> list[dict[str, Any]]:
        db = boto3.client("dynamodb", region_name=REGION)
        return db.scan(TableName=NAMES.grants_table)["Items"]

    def audit(self) -> list[dict[str, Any]]:
        db = boto3.client("dynamodb", region_name=REGION)
        items = db.scan(TableName=NAMES.audit_table)["Items"]
        return sorted((json.loads(i["record"]["S"]) for i in items), key=lambda r: r["at"])

    def schedules(self) -> list[str]:
        scheduler = boto3.client("scheduler", region_name=REGION)
        return [s["Name"] for s in scheduler.list_schedules(GroupName=NAMES.schedule_group)["Schedules"]]

    def messages(self) -> list[dict[str, Any]]:
        """The SNS notes published so far (each once), as {subject, text, document, kind}."""
        sqs = boto3.client("sqs", region_name=REGION)
        out = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            found = batch.get("Messages", [])
            if not found:
                return out
            for message in found:
                envelope = json.loads(message["Body"])
                document = json.loads(envelope["Message"])
                out.append(
                    {
                        "subject": envelope.get("Subject"),
                        "kind": document.get("kind"),
                        "document": document,
                    }
                )
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def denied(self) -> list[tuple[str, str]]:
        """(IAM action, function) of every call of the API's or the expiry's role the local IAM refused."""
        functions = {arn: function for function, arn in self.roles.items()}
        return [
            (d["action"], functions.get(d["role"], d["role"])) for d in self.aws.iam_enforcement()["denied"]
        ]

    def snapshot(self) -> tuple[Any, ...]:
        """What a refused request must not change: access, grants and schedules."""
        grants = sorted(json.dumps(i, sort_keys=True) for i in self.grants_table())
        return (self.aws.access(CLUSTER, region=REGION), grants, sorted(self.schedules()))


def send(request: AWSRequest) -> Response:
    prepared = urllib.request.Request(
        request.url, data=request.body or None, headers=dict(request.headers.items()), method=request.method
    )
    try:
        with urllib.request.urlopen(prepared, timeout=60) as answer:
            status, headers, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return Response(status, body, headers)


def assume(role_arn: str, session: str, *, mfa: bool = False) -> Credentials:
    extra = {"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/{session}", "TokenCode": "123456"} if mfa else {}
    c = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role_arn, RoleSessionName=session, **extra
    )["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def user_key(name: str, path: str = "/") -> Credentials:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name, Path=path)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def make_world(
    aws: Emulator,
    *,
    template: dict[str, Any] | None,
    settings: dict[str, str] | None = None,
    require_mfa: bool = False,
) -> World:
    """The world, with the template's policies enforced for the API's and the expiry's roles; `template=None`
    enforces nothing (a test that does so says why)."""
    wiring.reset()
    iam = boto3.client("iam", region_name=REGION)
    for name, path in [
        (ONCALL_ROLE_NAME, SSO_PATH),
        ("sre-oncall", "/teams/"),
        ("platform-admins", "/platform/"),
        ("dev", "/"),
        ("nodes", "/"),
        ("eks-cluster", "/"),
        # Same name as the on-call role, another path: still the on-call role? No: IAM names are unique
        # per account, so this cannot exist beside it; an impostor can only use another name.
        ("AWSReservedSSO_OnCall_impostor", SSO_PATH),
        ("AWSReservedSSO_Restorers_fedcba9876543210", REAL_SSO_PATH),
    ]:
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)
    create_cluster(CLUSTER)
    BaselineStore(boto3.client("ssm", region_name=REGION)).put(baseline_text())
    reach_baseline(CLUSTER)
    clock = Clock()
    registry = FunctionRegistry(region=REGION, account_id=ACCOUNT, endpoint_url=aws.endpoint_url)
    roles = {
        function: iam.create_role(RoleName=f"access-guard-{function}", AssumeRolePolicyDocument=LAMBDA_TRUST)[
            "Role"
        ]["Arn"]
        for function in API_FUNCTIONS
    }
    gateway = serve_api(
        registry,
        oncall_principals=[ONCALL, SRE, SAM, REAL_SSO],
        clock=clock,
        require_mfa=require_mfa,
        names=NAMES,
        settings={
            Env.RATE_LIMIT_PER_MINUTE: "1000",
            Env.GRANT_POLICIES: ",".join(DEFAULT_GRANT_POLICIES),
            **(settings or {}),
        },
        roles=roles,
    )
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="notes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"}
    )
    world = World(
        aws, registry, gateway, expiry_scheduler(registry, clock=clock), clock, queue_url, roles=roles
    )
    if template is not None:
        world.policies = iam_profile.enforce(aws, world, template, cluster=CLUSTER, clusters=MANAGED_CLUSTERS)
    world.credentials = {
        "oncall": assume(ONCALL, "alice", mfa=require_mfa),
        "sre": assume(SRE, "bob", mfa=require_mfa),
        "sam": user_key("sam", "/people/"),
        "mallory": user_key("mallory"),
        "dev": assume(DEV, "dana"),
        "restorer": assume(REAL_SSO, "carol", mfa=require_mfa),
        "impostor": assume(f"arn:aws:iam::{ACCOUNT}:role{SSO_PATH}AWSReservedSSO_OnCall_impostor", "eve"),
    }
    return world


def create_cluster(name: str) -> None:
    boto3.client("eks", region_name=REGION).create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        accessConfig={
            "authenticationMode": "API_AND_CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    )


def reach_baseline(cluster: str) -> None:
    from access_guard.services.reconcile import Reconciler

    store = BaselineStore(boto3.client("ssm", region_name=REGION))
    reconciler = Reconciler(
        eks=clients.client("eks", region=REGION), iam=clients.client("iam", region=REGION)
    )
    outcome = reconciler.apply(store.get(cluster, REGION))
    assert outcome.reached_baseline, outcome.to_json()


@pytest.fixture
def world(aws: Emulator, template: dict[str, Any]) -> Iterator[World]:
    made = make_world(aws, template=template)
    yield made
    # No call of the guard's roles was refused, even one the product survives (a note not published, say)
    refused = made.denied()
    aws.enforce_iam(None)
    made.scheduler.stop()
    made.gateway.stop()
    wiring.set_clock(None)
    assert made.refusals_expected or refused == [], f"the local IAM refused the guard's roles: {refused}"
