"""IAM enforced for chosen roles: each call a session of such a role makes is evaluated against the identity
policies given for the role, and refused with AccessDenied as AWS refuses it.

    PUT    /_emulator/iam {"roles": {"<role ARN>": [statement, ...]}}   enforce these roles (others: not)
    GET    /_emulator/iam                                               the roles enforced, the refusals
    DELETE /_emulator/iam                                               enforce nothing (also on reset)

moto checks no identity policy by default (and its own check knows no resource or condition of the calls
here), so this module models what the callers it is given need: for each call (named by the middleware from
botocore's models) the IAM action, the resource ARN and the condition keys AWS fills from the request,
then AWS's evaluation of identity policies (an explicit Deny wins; else an Allow whose Action, Resource and
Condition all match; else an implicit deny). Modelled:

- actions `service:Operation`, batch forms authorized as their single form (SendMessageBatch: SendMessage);
  `sts:GetCallerIdentity` needs no permission;
- resources of EKS (cluster, access entry), SSM parameters (each name of GetParameters), DynamoDB tables and
  indexes, SQS queues, SNS topics, Scheduler schedules, IAM roles and users; other calls are `*`;
- the extra authorizations AWS makes: CreateAccessEntry of a node type (EC2_LINUX, EC2_WINDOWS, ...)
  needs `iam:PassRole` on the node role (iam:PassedToService ec2.amazonaws.com), CreateSchedule and
  UpdateSchedule `iam:PassRole` on the target's role (scheduler.amazonaws.com);
- condition keys: eks:policyArn, eks:accessScope, eks:namespaces, eks:principalArn, eks:accessEntryType
  (CreateAccessEntry's `type`), iam:PassedToService, dynamodb:LeadingKeys (PutItem, UpdateItem, GetItem,
  DeleteItem: the partition key's value), aws:PrincipalArn, aws:RequestedRegion; operators String*,
  Arn*, Bool, Null with the ForAllValues/ForAnyValue qualifiers and IfExists.

Not modelled: resource-based policies (queues, topics, keys: KMS key policies and `kms:ViaService`, which
AWS evaluates when a service calls KMS for the caller; no local service does), permission boundaries, SCPs,
session policies, tag conditions (aws:ResourceTag) on resources the local AWS does not tag. This module
imports nothing of the product.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

from . import control
from .calls import Call

AUTHORIZED_AS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
NODE_ENTRY_TYPES = {"EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYPERPOD_LINUX", "EC2"}
_SIGNING_PREFIX = {"scheduler": "scheduler", "eks": "eks", "ssm": "ssm", "dynamodb": "dynamodb"}


class IamPolicies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.roles: dict[str, list[dict[str, Any]]] = {}
        self.denied: list[dict[str, str]] = []  # every refusal since the roles were given: what, on what, who

    def configure(self, body: Any) -> dict[str, Any]:
        roles = body.get("roles") if isinstance(body, dict) and set(body) == {"roles"} else None
        if not isinstance(roles, dict) or not all(
            isinstance(k, str) and k.startswith("arn:") and isinstance(v, list) for k, v in roles.items()
        ):
            raise ValueError('the body is {"roles": {"<role ARN>": [policy statement, ...]}}')
        for statements in roles.values():
            for statement in statements:
                if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
                    raise ValueError("each statement is an object with Effect Allow or Deny")
        with self._lock:
            self.roles = {k: list(v) for k, v in roles.items()}
            self.denied = []
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"roles": sorted(self.roles), "denied": list(self.denied)}

    def reset(self) -> None:
        with self._lock:
            self.roles = {}
            self.denied = []

    # --- the check ---------------------------------------------------------------------------------
    def before_call(self, call: Call, protocol: str) -> tuple[int, dict[str, str], bytes] | None:
        role = call.caller.session_issuer_arn
        with self._lock:
            statements = self.roles.get(role or "")
        if statements is None:
            return None
        for action, resource, context in authorizations(call):
            if not allowed(statements, action, resource, context):
                with self._lock:
                    self.denied.append(
                        {
                            "action": action,
                            "resource": resource,
                            "role": role or "",
                            "caller": call.caller.arn,
                        }
                    )
                message = (
                    f"User: {call.caller.arn} is not authorized to perform: {action} on resource: {resource}"
                    f" because no identity-based policy allows the {action} action"
                )
                return access_denied(message, protocol)
        return None


def authorizations(call: Call) -> list[tuple[str, str, dict[str, list[str]]]]:
    """(action, resource ARN, condition keys) of every authorization AWS makes for the call."""
    service, name = call.operation.service, call.operation.name
    action = f"{_SIGNING_PREFIX.get(service, service)}:{name}"
    action = AUTHORIZED_AS.get(action, action)
    if action in NEEDS_NO_PERMISSION:
        return []
    account, region = call.caller.account_id, call.region
    context: dict[str, list[str]] = {
        "aws:PrincipalArn": [call.caller.principal_arn],
        "aws:RequestedRegion": [region],
    }
    body = _body(call)
    params = {k: unquote(v) for k, v in call.operation.path_params.items()}
    query = {k: v[-1] for k, v in parse_qs(call.query_string).items()}
    extra: list[tuple[str, str, dict[str, list[str]]]] = []
    resources = ["*"]
    if service == "eks":
        cluster = params.get("name")
        if cluster and "principalArn" in params:
            resources = [f"arn:aws:eks:{region}:{account}:access-entry/{cluster}/{_entry_tail(params)}"]
        elif cluster:
            resources = [f"arn:aws:eks:{region}:{account}:cluster/{cluster}"]
        policy = params.get("policyArn") or body.get("policyArn")
        if policy:
            context["eks:policyArn"] = [str(policy)]
        scope = body.get("accessScope")
        if isinstance(scope, dict):
            context["eks:accessScope"] = [str(scope.get("type"))]
            context["eks:namespaces"] = [str(n) for n in scope.get("namespaces") or []]
        if name == "CreateAccessEntry":
            principal, kind = str(body.get("principalArn", "")), str(body.get("type") or "STANDARD")
            context["eks:principalArn"] = [principal]
            context["eks:accessEntryType"] = [kind]
            if kind in NODE_ENTRY_TYPES:
                passed = {"iam:PassedToService": ["ec2.amazonaws.com"], **_common(context)}
                extra.append(("iam:PassRole", principal, passed))
    elif service == "ssm":
        names = body.get("Names") if name == "GetParameters" else [body.get("Name") or body.get("Path")]
        names = [n for n in names or [] if isinstance(n, str)]
        if names:
            resources = [_parameter_arn(region, account, n) for n in names]
    elif service == "dynamodb":
        table = body.get("TableName")
        if isinstance(table, str):
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
            index = body.get("IndexName")
            resources = [f"{arn}/index/{index}" if isinstance(index, str) else arn]
            leading = _leading_key(account, region, table, body)
            if leading is not None:
                context["dynamodb:LeadingKeys"] = [leading]
    elif service == "sqs":
        url = body.get("QueueUrl")
        if isinstance(url, str):
            resources = [f"arn:aws:sqs:{region}:{account}:{url.rstrip('/').rsplit('/', 1)[-1]}"]
    elif service == "sns":
        form = {k: v[-1] for k, v in parse_qs(call.body.decode("utf-8", "replace")).items()}
        topic = form.get("TopicArn") or form.get("TargetArn")
        if topic:
            resources = [topic]
    elif service == "scheduler" and "Name" in params:
        group = body.get("GroupName") or query.get("groupName") or "default"
        resources = [f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{params['Name']}"]
        target = body.get("Target")
        if (
            name in ("CreateSchedule", "UpdateSchedule")
            and isinstance(target, dict)
            and target.get("RoleArn")
        ):
            passed = {"iam:PassedToService": ["scheduler.amazonaws.com"], **_common(context)}
            extra.append(("iam:PassRole", str(target["RoleArn"]), passed))
    elif service == "iam":
        form = {k: v[-1] for k, v in parse_qs(call.body.decode("utf-8", "replace")).items()}
        if form.get("RoleName"):
            resources = [_iam_arn(account, "role", form["RoleName"])]
        elif form.get("UserName"):
            resources = [_iam_arn(account, "user", form["UserName"])]
    return [(action, r, context) for r in resources] + extra


def allowed(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any]) -> bool:
    """AWS's evaluation of identity policies: an explicit Deny wins, else an Allow that matches."""
    verdict = False
    for statement in statements:
        if not _matches(statement, action, resource, context):
            continue
        if statement["Effect"] == "Deny":
            return False
        verdict = True
    return verdict


def _matches(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    if "NotAction" in statement:
        if _any(statement["NotAction"], action, fold=True):
            return False
    elif not _any(statement.get("Action", []), action, fold=True):
        return False
    if "NotResource" in statement:
        if _any(statement["NotResource"], resource):
            return False
    elif not _any(statement.get("Resource", []), resource):
        return False
    return all(
        _condition(operator, key, expected, context)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, expected in block.items()
    )


def _any(patterns: Any, value: str, *, fold: bool = False) -> bool:
    patterns = patterns if isinstance(patterns, list) else [patterns]
    if fold:
        return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in patterns)
    return any(fnmatch.fnmatchcase(value, str(p)) for p in patterns)


def _condition(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    expected = [str(e).lower() if isinstance(e, bool) else str(e) for e in _list(expected)]
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    values = context.get(key)
    if op == "Null":
        return (values is None) == (expected[0] == "true")
    if values is None:
        return if_exists or qualifier == "ForAllValues"
    negated = "Not" in op
    test = {
        "StringEquals": lambda v, e: v == e,
        "StringNotEquals": lambda v, e: v == e,
        "StringEqualsIgnoreCase": lambda v, e: v.lower() == e.lower(),
        "StringNotEqualsIgnoreCase": lambda v, e: v.lower() == e.lower(),
        "StringLike": fnmatch.fnmatchcase,
        "StringNotLike": fnmatch.fnmatchcase,
        "ArnEquals": lambda v, e: v == e,
        "ArnNotEquals": lambda v, e: v == e,
        "ArnLike": fnmatch.fnmatchcase,
        "ArnNotLike": fnmatch.fnmatchcase,
        "Bool": lambda v, e: v.lower() == e.lower(),
    }.get(op)
    if test is None:  # an operator this model does not know never matches: the statement does not apply
        return False

    def one(value: str) -> bool:
        hit = any(test(value, e) for e in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    return len(values) == 1 and one(values[0]) if values else False


def access_denied(message: str, protocol: str) -> tuple[int, dict[str, str], bytes]:
    """AccessDenied as the service's protocol writes it."""
    request_id = str(uuid.uuid4())
    if protocol in ("query", "ec2", "rest-xml"):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 403, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    if protocol == "json":
        document = {"__type": "AccessDeniedException", "message": message}
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
        return 400, headers, json.dumps(document).encode()
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": "AccessDeniedException",
        "x-amzn-RequestId": request_id,
    }
    return 403, headers, json.dumps({"message": message}).encode()


def _common(context: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in context.items() if k.startswith("aws:")}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _body(call: Call) -> dict[str, Any]:
    try:
        document = json.loads(call.body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _entry_tail(params: dict[str, str]) -> str:
    """An access entry's ARN after the cluster name: the principal's kind, account and name, an id."""
    principal = params["principalArn"]
    parts = principal.split(":", 5)
    kind, _, name = (parts[5] if len(parts) == 6 else principal).partition("/")
    return f"{kind}/{parts[4] if len(parts) == 6 else ''}/{name.rsplit('/', 1)[-1]}/entry"


def _parameter_arn(region: str, account: str, name: str) -> str:
    name = name.rstrip("/") or "/"
    return f"arn:aws:ssm:{region}:{account}:parameter{name if name.startswith('/') else '/' + name}"


def _iam_arn(account: str, kind: str, name: str) -> str:
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    try:
        found = iam.get_role(name) if kind == "role" else iam.get_user(name)
        return str(found.arn)
    except Exception:  # no such principal: the name alone (AWS authorizes before it looks)
        return f"arn:aws:iam::{account}:{kind}/{name}"


def _leading_key(account: str, region: str, table: str, body: dict[str, Any]) -> str | None:
    item = body.get("Item") or body.get("Key")
    if not isinstance(item, dict):
        return None
    from moto.dynamodb.models import dynamodb_backends

    try:
        hash_key = dynamodb_backends[account][region].get_table(table).hash_key_attr
    except Exception:
        return None
    value = item.get(hash_key)
    if isinstance(value, dict) and value:
        return str(next(iter(value.values())))
    return None


IAM_POLICIES = IamPolicies()
control.on_reset(IAM_POLICIES.reset)


@control.route("GET", "iam")
def _get(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, IAM_POLICIES.describe()


@control.route("PUT", "iam")
def _put(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, IAM_POLICIES.configure(body)


@control.route("DELETE", "iam")
def _delete(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    IAM_POLICIES.reset()
    return 200, IAM_POLICIES.describe()
