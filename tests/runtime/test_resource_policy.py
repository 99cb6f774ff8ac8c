"""The local gateway's resource-policy evaluation: operators, IfExists, explicit deny, what it refuses."""

from __future__ import annotations

import pytest

from local.runtime import resource_policy as policies

API = "arn:aws:execute-api:us-east-1:123456789012:abc"
RESOURCE = f"{API}/v1/GET/clusters"
ROLE = "arn:aws:iam::123456789012:role/ops/oncall"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def statement(effect: str, condition: dict | None = None, resource: str = "execute-api:/*") -> dict:
    s = {"Effect": effect, "Principal": {"AWS": "*"}, "Action": "execute-api:Invoke", "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def decide(document: dict, **context: str) -> policies.Decision:
    return policies.evaluate(document, resource_arn=RESOURCE, api_arn_prefix=API, context=context)


def test_an_allow_is_needed_and_an_explicit_deny_wins() -> None:
    allow = statement("Allow", {"ArnEquals": {"aws:PrincipalArn": [ROLE]}})
    deny = statement("Deny", {"ArnNotEquals": {"aws:PrincipalArn": [ROLE]}})
    assert decide(policy(allow, deny), **{"aws:PrincipalArn": ROLE}).allowed
    refused = decide(policy(allow, deny), **{"aws:PrincipalArn": ROLE.replace("ops/", "")})
    assert not refused.allowed and refused.explicit_deny
    assert not decide(policy(), **{"aws:PrincipalArn": ROLE}).allowed  # nothing allows it


def test_bool_if_exists_denies_a_missing_key_and_bool_does_not() -> None:
    allow = statement("Allow")
    if_exists = statement("Deny", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
    plain = statement("Deny", {"Bool": {"aws:MultiFactorAuthPresent": "false"}})
    assert not decide(policy(allow, if_exists)).allowed
    assert decide(policy(allow, if_exists), **{"aws:MultiFactorAuthPresent": "true"}).allowed
    assert decide(policy(allow, plain)).allowed


def test_arn_like_and_resources_take_wildcards() -> None:
    allow = statement(
        "Allow", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ops/*"}}, "execute-api:/v1/GET/*"
    )
    assert decide(policy(allow), **{"aws:PrincipalArn": ROLE}).allowed
    only_post = statement("Allow", None, "execute-api:/v1/POST/*")
    assert not decide(policy(only_post), **{"aws:PrincipalArn": ROLE}).allowed


@pytest.mark.parametrize(
    "bad",
    [
        {"Effect": "Allow", "NotAction": "x"},
        statement("Allow", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        statement("Allow", {"StringEquals": {"aws:SourceVpce": "vpce-1"}}),
    ],
)
def test_what_it_cannot_evaluate_is_refused_not_ignored(bad: dict) -> None:
    with pytest.raises(ValueError, match="not modelled locally"):
        policies.check(policy(bad))
