"""IAM Identity Center on-call roles: matched with or without the region segment in their path, and never
refused for MFA their SAML sessions cannot carry (Identity Center enforces MFA at its own sign-in)."""

from __future__ import annotations

import pytest
from access_guard.core import breakglass as bg
from access_guard.core import principals

ACCOUNT = "123456789012"
NAME = "AWSReservedSSO_PlatformOnCall_0123456789abcdef"
WITHOUT_REGION = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{NAME}"
WITH_REGION = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{NAME}"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/{NAME}/carol@example.com"


@pytest.mark.parametrize("configured", [WITHOUT_REGION, WITH_REGION])
def test_an_identity_center_session_matches_its_role_named_either_way(configured: str) -> None:
    identity = bg.Identity(user_arn=SESSION, source_ip="192.0.2.1", access_key="ASIAEXAMPLE")
    decided = bg.authorize(identity, [configured], require_mfa=True, mfa_present=None)
    assert isinstance(decided, bg.Caller)
    assert decided.principal_arn == configured and decided.session == "carol@example.com"


def test_another_permission_sets_session_is_not_on_call() -> None:
    other = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_ReadOnly_0123456789abcdef/carol"
    identity = bg.Identity(user_arn=other, source_ip=None, access_key="ASIAEXAMPLE")
    assert isinstance(bg.authorize(identity, [WITH_REGION], True, None), bg.Refusal)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (WITHOUT_REGION, True),
        (WITH_REGION, True),
        (f"arn:aws:iam::{ACCOUNT}:role/oncall", False),
        (f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/other.amazonaws.com/{NAME}", False),
        (f"arn:aws:iam::{ACCOUNT}:user/aws-reserved/sso.amazonaws.com/{NAME}", False),
    ],
)
def test_identity_center_roles_are_recognised_by_their_reserved_path(arn: str, expected: bool) -> None:
    assert principals.identity_center(arn) is expected


def test_the_policy_pattern_matches_both_forms_of_the_role() -> None:
    import fnmatch

    pattern = principals.identity_center_pattern(WITH_REGION)
    assert pattern == principals.identity_center_pattern(WITHOUT_REGION)
    assert fnmatch.fnmatchcase(WITH_REGION, pattern) and fnmatch.fnmatchcase(WITHOUT_REGION, pattern)
    assert not fnmatch.fnmatchcase(WITH_REGION.replace("PlatformOnCall", "ReadOnly"), pattern)
