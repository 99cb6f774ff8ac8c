"""On call by IAM Identity Center permission set (ACCESS_GUARD_ONCALL_PERMISSION_SETS): a session of the set's
role (under /aws-reserved/sso.amazonaws.com/ in the deployment's account, whatever its suffix) may call, its
grants work and end like any other; a look-alike elsewhere may not. Judged by the emulator's access oracle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from access_guard.core import breakglass as bg
from access_guard.core.config import Env
from access_guard.handlers import wiring

from local.client import Emulator

from .conftest import ACCOUNT, PLATFORM, REGION, TRUST, World, assume, make_world


@pytest.fixture
def world(aws: Emulator, template: dict[str, Any]) -> Iterator[World]:
    made = make_world(aws, template=template, settings={Env.ONCALL_PERMISSION_SETS: "PagerDuty,Restorers"})
    yield made
    refused = made.denied()
    made.scheduler.stop()
    made.gateway.stop()
    wiring.set_clock(None)
    assert refused == [], f"the local IAM refused the guard's roles: {refused}"


def on_call_by_set(world: World, name: str = "pat", region: str | None = "eu-west-1") -> str:
    role = world.aws.provision_permission_set("PagerDuty", region=region)["created"]
    world.credentials[name] = assume(role, name)
    return role


def test_a_session_of_an_on_call_permission_sets_role_may_grant_itself_access_that_ends(world: World) -> None:
    role = on_call_by_set(world)
    answer = world.grant(minutes=15, who="pat")
    assert answer.status == 201, answer.body
    # the grant is for the role, with its path (what the access entry needs), not for the session
    assert answer.body["grant"]["principalArn"] == role
    assert role in world.admins()
    world.clock.advance(minutes=16)
    [firing] = world.scheduler.tick()
    assert firing.result is not None and firing.result.succeeded
    assert role not in world.access() and world.admins() == [PLATFORM]


def test_the_set_follows_re_provisioning_a_new_suffix_is_on_call_too(world: World) -> None:
    on_call_by_set(world, "pat")
    again = on_call_by_set(world, "pia", region=None)  # re-provisioned: the old role is gone
    assert world.call("GET", "/clusters", who="pia").status == 200
    assert world.grant(minutes=5, who="pia").body["grant"]["principalArn"] == again


def test_a_look_alike_role_outside_the_identity_center_path_is_not_on_call(world: World) -> None:
    name = "AWSReservedSSO_PagerDuty_0123456789abcdef"
    iam = boto3.client("iam", region_name=REGION)
    arn = iam.create_role(RoleName=name, Path="/teams/", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    world.credentials["eve"] = assume(arn, "eve")
    answer = world.call("GET", "/clusters", who="eve")
    assert answer.status == 403 and "is not an on-call principal" in answer.message


def test_another_permission_sets_role_is_not_on_call(world: World) -> None:
    role = world.aws.provision_permission_set("Developers")["created"]
    world.credentials["dan"] = assume(role, "dan")
    assert world.call("GET", "/clusters", who="dan").status == 403


def test_matching_needs_the_deployments_own_role_not_a_session_of_another_account() -> None:
    sso = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    roles = [sso + "AWSReservedSSO_PagerDuty_00000000000000aa"]
    mine = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_PagerDuty_00000000000000aa/pat"
    theirs = "arn:aws:sts::210987654321:assumed-role/AWSReservedSSO_PagerDuty_00000000000000aa/pat"
    assert bg.on_call_permission_set(mine, ["PagerDuty"], roles) == roles[0]
    assert bg.on_call_permission_set(theirs, ["PagerDuty"], roles) is None
    assert bg.on_call_permission_set(mine, ["Other"], roles) is None
    assert bg.on_call_permission_set(mine, ["PagerDuty"], []) is None  # not a live role of the account
