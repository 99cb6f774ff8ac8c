"""Temporary access that ends on its own: the schedule fires on the local scheduler's clock (moved by the
test, never slept), the expiry re-reads the grant, overlapping grants end with the last, a revocation that
fails is retried and alarmed and then done by the sweep, remediation leaves a live grant alone, and a grant
that cannot be given leaves nothing behind. Judged by the emulator's access oracle."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from access_guard.adapters import clients
from access_guard.adapters.grant_schedules import fire_time
from access_guard.core.report import Trigger
from access_guard.handlers import api, wiring

from .conftest import ACCOUNT, ADMIN, CLUSTER, NAMES, ONCALL, PLATFORM, REGION, VIEW, World


def expire(world: World, grant_id: str) -> Any:
    """Invoke the expiry function as Scheduler would, now."""
    return world.registry.invoke(
        NAMES.expiry_function, {"cluster": CLUSTER, "region": REGION, "grantId": grant_id}
    )


def state(world: World, grant_id: str) -> dict[str, Any]:
    grants = world.call("GET", f"/clusters/{CLUSTER}/grants").body["grants"]
    return next(g for g in grants if g["grantId"] == grant_id)


def test_a_grant_ends_on_its_own_on_the_second_when_its_schedule_fires(world: World) -> None:
    grant = world.grant(minutes=15).body["grant"]
    grant_id, ends = grant["grantId"], datetime.fromisoformat(grant["endsAt"])
    world.messages()
    # its schedule is set in the minute before the end's (Scheduler fires anywhere within the minute after)
    fires = fire_time(ends, ends - timedelta(minutes=15))
    assert timedelta(0) < ends - fires <= timedelta(minutes=2)

    world.clock.offset += fires - world.clock() - timedelta(seconds=1)
    assert world.scheduler.tick() == []
    assert ONCALL in world.admins()

    world.clock.advance(seconds=2)
    [firing] = world.scheduler.tick()  # early: the expiry waits for the exact end, then takes the access

    assert firing.delivered and firing.result is not None and firing.result.succeeded
    assert firing.deleted  # ActionAfterCompletion DELETE
    assert ONCALL not in world.access()  # the oracle: really gone
    assert world.admins() == [PLATFORM]
    assert ends <= world.clock() < ends + timedelta(seconds=2)  # on time, to the second
    assert state(world, grant_id)["state"] == "ended"
    [note] = world.messages()
    assert note["subject"] == f"[{CLUSTER}] break glass: grant-end by access-guard (ok)"
    assert note["document"]["grantId"] == grant_id


def test_a_log_line_names_only_its_own_invocation_s_grant(world: World) -> None:
    # given an expiry that logged its grant (functions of one service share a logger in one process)
    grant_id = world.grant(minutes=15).body["grant"]["grantId"]
    world.clock.advance(minutes=16)
    world.scheduler.tick()
    # when the next invocation logs
    handler = api.logger.registered_handler
    out = io.StringIO()
    saved = handler.setStream(out)
    try:
        assert world.call("GET", "/clusters").status == 200
    finally:
        handler.setStream(saved)
    # then its lines carry none of the previous invocation's keys
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    assert lines and all("grant_id" not in line for line in lines), grant_id


def test_the_expiry_rereads_the_grant_and_leaves_one_not_due_or_revoked_alone(world: World) -> None:
    grant_id = world.grant(minutes=15).body["grant"]["grantId"]

    early = expire(world, grant_id)  # a schedule that fires far too soon (a grant extended): nothing yet
    assert "is not due until" in early["result"]
    assert ONCALL in world.admins()

    world.call("DELETE", f"/clusters/{CLUSTER}/grants/{grant_id}")
    before = world.snapshot()
    again = expire(world, grant_id)
    assert "is already revoked" in again["result"]
    assert world.snapshot() == before


def test_overlapping_grants_on_one_principal_end_only_when_the_last_one_ends(world: World) -> None:
    world.grant(minutes=10)  # admin for 10 minutes
    world.grant(minutes=20, policy="AmazonEKSViewPolicy")  # view for 20
    world.grant(minutes=25)  # admin again, for 25
    assert world.access()[ONCALL] == {ADMIN: ("cluster", ()), VIEW: ("cluster", ())}

    world.clock.advance(minutes=11)
    world.scheduler.tick()
    assert world.access()[ONCALL] == {ADMIN: ("cluster", ()), VIEW: ("cluster", ())}  # admin still granted

    world.clock.advance(minutes=10)
    world.scheduler.tick()
    assert world.access()[ONCALL] == {ADMIN: ("cluster", ())}  # view gone, the entry kept

    world.clock.advance(minutes=5)
    world.scheduler.tick()
    assert ONCALL not in world.access()  # the entry the first grant made goes with the last


def no_retries(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    """Each AWS call tried once (the emulator's fault would otherwise wait out eight backoffs)."""
    monkeypatch.setattr(clients, "MAX_ATTEMPTS", 1)
    wiring.reset()  # forget the adapters (and their clients) built with the old retry settings


def test_a_failed_revocation_is_retried_alarmed_and_then_done_by_the_sweep(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant_id = world.grant(minutes=10).body["grant"]["grantId"]
    world.messages()
    no_retries(monkeypatch, world)
    world.aws.set_fault("eks:DeleteAccessEntry", error_status=500, error_count=100)

    world.clock.advance(minutes=11)
    [firing] = world.scheduler.tick()

    # Lambda retried the failed expiry (two retries) and gave up; the access is still there, and said so
    assert firing.delivered and firing.result is not None and not firing.result.succeeded
    assert firing.result.attempts == 3
    assert ONCALL in world.admins()
    current = state(world, grant_id)
    assert current["state"] == "ending" and "Internal failure" in (current["revocationError"] or "")
    alerts = [m for m in world.messages() if m["kind"] == "alert"]
    assert alerts and all(a["document"]["title"] == "temporary access not yet revoked" for a in alerts)
    assert grant_id in alerts[0]["document"]["detail"]

    # the fault clears; the sweep's fallback revokes what the schedule could not
    world.aws.clear_faults()
    report = world.service("sweep").expire_due()

    assert report.revoked == [grant_id] and report.failures == []
    assert ONCALL not in world.access()
    assert state(world, grant_id)["state"] == "ended"


def test_a_lost_schedule_is_caught_by_the_sweep(world: World) -> None:
    grant_id = world.grant(minutes=10).body["grant"]["grantId"]
    boto3.client("scheduler", region_name=REGION).delete_schedule(
        Name=f"access-guard-grant-{grant_id}", GroupName=NAMES.schedule_group
    )
    world.clock.advance(minutes=11)
    assert world.scheduler.tick() == []
    assert ONCALL in world.admins()  # overdue: nothing fired

    assert world.service("sweep").expire_due().revoked == [grant_id]
    assert ONCALL not in world.access()
    [end] = [r for r in world.audit() if r["action"] == "grant-end"]  # the trail knows how it ended
    assert (end["grantId"], end["status"], end["caller"]) == (grant_id, 200, "access-guard")
    assert "removed by sweep (expiry:" in end["detail"]


def test_a_grant_a_remediation_ended_first_is_audited_once(world: World) -> None:
    grant_id = world.grant(minutes=10).body["grant"]["grantId"]
    world.clock.advance(minutes=11)
    # a remediation runs on the cluster between the grant's end and its schedule: it removes the access
    world.service("remediate").enforcer.run(CLUSTER, REGION, trigger=Trigger("event", "an event"))
    assert ONCALL not in world.access() and state(world, grant_id)["state"] == "ended"
    [end] = [r for r in world.audit() if r["action"] == "grant-end"]
    assert (end["grantId"], end["status"], end["caller"]) == (grant_id, 200, "access-guard")
    assert "removed by remediate (event: an event)" in end["detail"]

    [firing] = world.scheduler.tick()  # the schedule fires after all: nothing to do, nothing more to say

    assert firing.result is not None and firing.result.succeeded
    assert [r["grantId"] for r in world.audit() if r["action"] == "grant-end"] == [grant_id]


def test_remediation_during_a_grant_leaves_it_alone(world: World) -> None:
    world.grant(minutes=15)
    # someone adds an admin behind Guard's back; remediation (pruning on) runs on the event
    eks = boto3.client("eks", region_name=REGION)
    rogue = f"arn:aws:iam::{ACCOUNT}:role/nodes"
    eks.create_access_entry(clusterName=CLUSTER, principalArn=rogue)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=rogue, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    enforcer = world.service("remediate").enforcer

    report = enforcer.run(CLUSTER, REGION, trigger=Trigger("event", "CreateAccessEntry by someone"))

    assert report.outcome is not None and report.outcome.reached_baseline
    assert rogue not in world.access()  # remediation did its job
    assert ONCALL in world.admins()  # and left the live grant alone


def test_a_grant_that_cannot_be_given_leaves_nothing_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_retries(monkeypatch, world)
    world.aws.set_fault("eks:AssociateAccessPolicy", error_status=500, error_count=100)
    world.messages()

    answer = world.grant(minutes=15)

    assert answer.status == 422, (
        answer.body
    )  # valid, but it cannot be given: nothing active, nothing scheduled
    assert "the grant could not be given" in answer.message and "nothing was left behind" in answer.message
    assert ONCALL not in world.access()  # the entry it had created is gone again
    assert world.schedules() == []
    world.aws.clear_faults()
    assert state(world, answer.body["grantId"])["state"] == "failed"
    [note] = world.messages()
    assert note["document"]["outcome"] == "not-given"


def test_a_grant_whose_end_cannot_be_scheduled_is_taken_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_retries(monkeypatch, world)
    boto3.client("scheduler", region_name=REGION).delete_schedule_group(Name=NAMES.schedule_group)

    answer = world.grant(minutes=15)

    assert answer.status == 500
    assert "its end could not be scheduled" in answer.message
    assert ONCALL not in world.access()
    assert state(world, answer.body["grantId"])["state"] == "failed"


def test_an_expiry_whose_revocation_fails_raises_and_counts_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from access_guard.core.config import Metrics
    from access_guard.handlers.wiring import breakglass
    from access_guard.services.breakglass import RevocationFailed

    grant_id = world.grant(minutes=10).body["grant"]["grantId"]
    no_retries(monkeypatch, world)
    world.aws.set_fault("eks:DeleteAccessEntry", error_status=500, error_count=100)
    counted: list[tuple[str, float, str]] = []
    service = breakglass(
        env={**world.environment, "AWS_REGION": REGION},
        holder="expiry",
        clock=world.clock,
        metric=lambda name, value, unit: counted.append((name, value, unit)),
    )
    world.clock.advance(minutes=11)

    with pytest.raises(RevocationFailed, match=f"grant {grant_id} is not revoked yet"):
        service.expire(CLUSTER, REGION, grant_id)

    assert (Metrics.REVOCATION_FAILURES, 1, "Count") in counted
    assert ONCALL in world.admins()


def test_a_grant_on_a_cluster_another_run_holds_is_refused_and_leaves_nothing(world: World) -> None:
    from access_guard.adapters.state_table import StateTable
    from access_guard.core.breakglass import Caller, Conflict, GrantRequest
    from access_guard.core.model import AccessScope
    from access_guard.handlers.wiring import breakglass

    env = {**world.environment, "AWS_REGION": REGION}
    service = breakglass(env=env, holder="api", clock=world.clock, lock_wait_seconds=0)
    locks = StateTable(boto3.client("dynamodb", region_name=REGION), NAMES.state_table)
    request = GrantRequest(ADMIN, AccessScope(), 15, "INC-5")
    caller = Caller(ONCALL, f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/alice")

    before = world.snapshot()
    with locks.lock(CLUSTER, REGION, holder="remediation", seconds=60), pytest.raises(Conflict) as refused:
        service.grant(caller, CLUSTER, request)

    # the grant is decided under the lock: refused before anything is recorded or written
    assert "being changed by another run" in refused.value.message
    assert world.snapshot() == before and ONCALL not in world.access()
