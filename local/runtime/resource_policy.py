"""An API Gateway resource policy, evaluated for one request as API Gateway does before the integration runs.

What is modelled: statements with Effect, Principal ("*", {"AWS": "*"} or ARNs/account ids), Action
(execute-api:Invoke, execute-api:*, *), Resource (`execute-api:/STAGE/METHOD/PATH` shorthand or full ARNs,
with * wildcards), NotAction/NotResource are refused as unsupported, and these condition operators, each
with its ...IfExists form: ArnEquals, ArnNotEquals, ArnLike, ArnNotLike, StringEquals, StringNotEquals,
StringLike, StringNotLike, Bool. An explicit deny wins; otherwise an allow is needed (the caller's own IAM
policy, which same-account callers may also be allowed by, is not modelled: a request the resource policy
does not allow is refused).

Context keys the local gateway supplies: aws:PrincipalArn (a role's session: the role ARN with its path; an
IAM user: its ARN), aws:PrincipalAccount, aws:username (users), aws:MultiFactorAuthPresent: absent for
long-term user keys and for IAM Identity Center sessions (roles under /aws-reserved/sso.amazonaws.com/, whose
sessions carry no MFA key), "true"/"false" for other role sessions. A policy using another key or operator
is refused when the gateway is made, never silently ignored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_OPERATORS = {
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "Bool",
}
KEYS = {"aws:PrincipalArn", "aws:PrincipalAccount", "aws:username", "aws:MultiFactorAuthPresent"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    statement: str | None = None  # the Sid that decided


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check(policy: Mapping[str, Any]) -> None:
    """Refuse (ValueError) a policy this module cannot evaluate faithfully."""
    for statement in _list(policy.get("Statement", [])):
        for unsupported in ("NotAction", "NotResource", "NotPrincipal"):
            if unsupported in statement:
                raise ValueError(f"resource policy: {unsupported} is not modelled locally")
        for operator, conditions in statement.get("Condition", {}).items():
            base = operator.removesuffix("IfExists")
            if base not in _OPERATORS:
                raise ValueError(f"resource policy: condition operator {operator} is not modelled locally")
            for key in conditions:
                if key not in KEYS:
                    raise ValueError(f"resource policy: condition key {key} is not modelled locally")


def evaluate(
    policy: Mapping[str, Any], *, resource_arn: str, api_arn_prefix: str, context: Mapping[str, str]
) -> Decision:
    """`resource_arn`: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH; `api_arn_prefix` the same up
    to and including the API id (for the `execute-api:/...` shorthand)."""
    allow: str | None = None
    for i, statement in enumerate(_list(policy.get("Statement", []))):
        sid = str(statement.get("Sid", f"#{i}"))
        if not _principal_matches(statement.get("Principal"), context):
            continue
        if not any(a in ("*", "execute-api:*", "execute-api:Invoke") for a in _list(statement.get("Action"))):
            continue
        resources = [_expand(r, api_arn_prefix) for r in _list(statement.get("Resource", "*"))]
        if not any(fnmatch.fnmatchcase(resource_arn, r) for r in resources):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement.get("Effect") == "Deny":
            return Decision(False, explicit_deny=True, statement=sid)
        if statement.get("Effect") == "Allow" and allow is None:
            allow = sid
    return Decision(allow is not None, statement=allow)


def _expand(resource: str, api_arn_prefix: str) -> str:
    if resource.startswith("execute-api:/"):
        return api_arn_prefix + resource[len("execute-api:") :]
    return resource


def _principal_matches(principal: Any, context: Mapping[str, str]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in _list(principal.get("AWS", [])):
        if value == "*":
            return True
        account = context.get("aws:PrincipalAccount", "")
        if value in (account, f"arn:aws:iam::{account}:root", context.get("aws:PrincipalArn")):
            return True
    return False


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, tests in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                if if_exists:
                    continue  # ...IfExists: a missing key matches
                # A missing key: the positive operators fail, the negated ones match.
                if "Not" in base:
                    continue
                return False
            if not _test(base, actual, [str(v) for v in _list(expected)]):
                return False
    return True


def _test(base: str, actual: str, expected: list[str]) -> bool:
    negated = "Not" in base
    if base == "Bool":
        hit = actual.lower() in (e.lower() for e in expected)
    elif base in ("StringEquals", "StringNotEquals"):
        hit = actual in expected
    else:  # StringLike and every Arn operator (IAM's ArnEquals takes * and ? too)
        hit = any(fnmatch.fnmatchcase(actual, e) for e in expected)
    return not hit if negated else hit
