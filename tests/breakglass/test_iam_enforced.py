"""Issue 14, difference 4, in the break-glass world: the API and the expiry run under their own roles, and the
local AWS enforces the synthesized template's policies for them (conftest.make_world, tests/iam_profile.py).
Taking one statement out of a bound policy makes AWS refuse the call it allowed: the product answers with its
clear error and records it, and the emulator's oracle shows no access given (or none taken away)."""

from __future__ import annotations

from typing import Any

from .conftest import ADMIN, ONCALL, World


def without(world: World, function: str, sid: str) -> None:
    """Enforce the world's bound policies, but without statement `sid` in `function`'s role's policy."""
    role = world.roles[function]
    policies: dict[str, list[dict[str, Any]]] = dict(world.policies)
    assert any(s.get("Sid") == sid for s in policies[role]), sid
    policies[role] = [s for s in policies[role] if s.get("Sid") != sid]
    world.aws.enforce_iam(policies)
    world.refusals_expected = True


def callers(world: World, event: str) -> list[str]:
    """The guard's role sessions that made an `event` call, as CloudTrail recorded them."""
    return [
        r["userIdentity"]["arn"]
        for r in world.aws.cloudtrail_records()
        if r["eventName"] == event and ":assumed-role/access-guard-" in r["userIdentity"].get("arn", "")
    ]


def test_the_api_and_the_expiry_run_under_their_roles_and_their_policies_allow_a_grant_and_its_end(
    world: World,
) -> None:
    # the local AWS enforces the policies bound for the two roles, and only for them
    assert world.aws.iam_enforcement()["roles"] == sorted(world.roles.values()) == sorted(world.policies)
    answer = world.grant(minutes=10)
    assert answer.status == 201, answer.body
    world.clock.advance(minutes=11)
    world.scheduler.tick()
    assert ONCALL not in world.access()
    assert callers(world, "AssociateAccessPolicy") == [
        "arn:aws:sts::123456789012:assumed-role/access-guard-api/api"
    ]
    assert "arn:aws:sts::123456789012:assumed-role/access-guard-expiry/expiry" in callers(
        world, "DeleteAccessEntry"
    )
    assert world.denied() == []


def test_a_grant_the_api_role_may_not_associate_fails_with_a_clear_error_and_an_audit_record(
    world: World,
) -> None:
    # Given the API role's policy without its statement for associating the grant policies
    without(world, "api", "AssociateGrantPolicies")
    # When the on-call engineer asks for cluster admin
    answer = world.grant(minutes=10)
    # Then AWS refused the API's role, the engineer is told so, the refusal is audited, no access was given
    assert answer.status == 422, answer.body
    assert answer.message.startswith("the grant could not be given: AccessDeniedException"), answer.body
    assert answer.message.endswith("nothing was left behind"), answer.body
    assert world.denied() == [("eks:AssociateAccessPolicy", "api")]
    [record] = [r for r in world.audit() if r["action"] == "grant"]
    assert record["outcome"] == "not-given" and "AccessDenied" in record["detail"], record
    assert ADMIN not in world.access().get(ONCALL, {})


def test_an_expiry_whose_role_may_not_write_access_entries_leaves_the_grant_in_place(world: World) -> None:
    # Given a grant, and the expiry role's policy without its statement for the access entries
    answer = world.grant(minutes=10)
    assert answer.status == 201, answer.body
    without(world, "expiry", "ReadWriteAccessEntries")
    # When the grant's end comes
    world.clock.advance(minutes=11)
    world.scheduler.tick()
    # Then AWS refused the expiry's role, and the access stays (the sweep's fallback ends it later)
    assert ("eks:DescribeAccessEntry", "expiry") in world.denied()
    assert world.access()[ONCALL] == {ADMIN: ("cluster", ())}
