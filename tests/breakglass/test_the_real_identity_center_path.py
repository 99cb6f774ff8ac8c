"""A grant for an IAM Identity Center role, whose ARN has the path /aws-reserved/sso.amazonaws.com/: the
session matches the role by name, and the grant names the role with its path (what EKS entries need). Its ARN
in an access-entry URL once fooled the local AWS's region parsing (moto read `.amazonaws.com` in the path)."""

from __future__ import annotations

from .conftest import REAL_SSO, World


def test_a_grant_for_an_identity_center_role_with_its_real_path(world: World) -> None:
    answer = world.grant(minutes=15, who="restorer")

    assert answer.status == 201, answer.body
    assert REAL_SSO in world.admins()
