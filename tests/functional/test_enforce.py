"""The Enforcer and the adapters every writer shares (lock, rate limit, grants table, notifier), against
the local AWS, judged by the emulator's oracle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.adapters.grants_table import GrantAlreadyEnded, GrantChanged, GrantsTable
from access_guard.adapters.notifier import Notifier
from access_guard.adapters.state_table import ClusterBusy, StateTable
from access_guard.core.config import Config, Metrics
from access_guard.core.grants import Grant
from access_guard.core.model import AccessScope
from access_guard.core.report import Trigger
from access_guard.services.enforce import Enforcer

from local.runner import Pipeline

from .scenario import ADMIN, REGION, VIEW, baseline_doc, create_cluster, entry, reconciler, role

CLUSTER = "payments"
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def resources(aws: Any, endpoint: str) -> Pipeline:
    return Pipeline.create(endpoint, region=REGION)


def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


# --- the state table ---------------------------------------------------------------------------------------


def test_a_cluster_held_by_one_run_is_busy_for_another(resources):
    state = StateTable(dynamodb(), resources.tables["state"])
    with state.lock(CLUSTER, REGION, holder="remediate", seconds=60):
        with pytest.raises(ClusterBusy), state.lock(CLUSTER, REGION, holder="sweep", seconds=60):
            pass
        with state.lock("orders", REGION, holder="sweep", seconds=60):
            pass  # another cluster is not held
    with state.lock(CLUSTER, REGION, holder="sweep", seconds=60):
        pass  # released


def test_a_lock_left_by_a_run_that_died_expires(resources):
    now = [1000.0]
    state = StateTable(dynamodb(), resources.tables["state"], clock=lambda: now[0])
    held = state.lock(CLUSTER, REGION, holder="crashed", seconds=30)
    held.__enter__()  # never released: the run died
    now[0] += 31
    with state.lock(CLUSTER, REGION, holder="next", seconds=30):
        pass


def test_a_caller_over_the_rate_limit_is_refused_until_the_next_window(resources):
    now = [6000.0]
    state = StateTable(dynamodb(), resources.tables["state"], clock=lambda: now[0])
    assert [state.take_rate("alice", limit=2) for _ in range(3)] == [True, True, False]
    assert state.take_rate("bob", limit=2)
    now[0] += 60
    assert state.take_rate("alice", limit=2)


# --- the grants table --------------------------------------------------------------------------------------


def a_grant(**fields: Any) -> Grant:
    values: dict[str, Any] = {
        "grant_id": "g-1",
        "cluster": CLUSTER,
        "region": REGION,
        "principal_arn": "arn:aws:iam::123456789012:role/sso/oncall",
        "policy_arn": ADMIN,
        "scope": AccessScope(),
        "reason": "INC-42: payments down",
        "requested_by": "arn:aws:sts::123456789012:assumed-role/oncall/alice",
        "created_at": T0,
        "ends_at": T0 + timedelta(minutes=15),
    }
    values.update(fields)
    return Grant(**values)


def test_a_grant_round_trips_and_ends_early_once(resources):
    table = GrantsTable(dynamodb(), resources.tables["grants"])
    grant = table.put_new(a_grant(scope=AccessScope.of("namespace", ["b", "a"])))
    assert (grant.status, grant.version) == ("requested", 1)
    assert table.get(CLUSTER, REGION, "g-1") == grant
    ended = table.end_early(grant, at=T0 + timedelta(minutes=1), by="bob")
    with pytest.raises(GrantAlreadyEnded):
        table.end_early(grant, at=T0 + timedelta(minutes=2), by="carol")
    assert table.get(CLUSTER, REGION, "g-1").ended_early_by == "bob" == ended.ended_early_by
    table.transition(ended, status="revoked", revoked_at=T0 + timedelta(minutes=2))
    assert table.for_cluster(CLUSTER, REGION) == [] and table.unclosed() == []
    assert len(table.for_cluster(CLUSTER, REGION, include_closed=True)) == 1


def test_every_grant_write_is_conditional_on_what_the_writer_read(resources):
    table = GrantsTable(dynamodb(), resources.tables["grants"])
    read = table.put_new(a_grant())
    revoked = table.end_early(read, at=T0, by="bob")  # another writer moves it meanwhile
    # when a writer that read it before tries to make it active, its write is refused with the grant as is
    with pytest.raises(GrantChanged) as lost:
        table.transition(read, status="active")
    assert lost.value.grant == revoked and table.get(CLUSTER, REGION, "g-1").status == "ending"


def test_only_a_closed_grant_may_expire_from_the_table(resources):
    table = GrantsTable(dynamodb(), resources.tables["grants"])
    key = {"cluster": {"S": f"{REGION}#{CLUSTER}"}, "grantId": {"S": "g-1"}}

    def ttl() -> Any:
        return dynamodb().get_item(TableName=resources.tables["grants"], Key=key)["Item"].get("ttl")

    grant = table.transition(table.put_new(a_grant()), status="active")
    assert ttl() is None  # an active grant, however long past its end, never leaves the table
    ending = table.transition(grant, status="ending")
    assert ttl() is None
    table.transition(ending, status="ended", revoked_at=T0 + timedelta(minutes=15))
    assert ttl() is not None


# --- notifications -----------------------------------------------------------------------------------------


def test_a_note_reaches_machine_subscribers_as_json_with_its_text(resources):
    from access_guard.core.report import alert_note

    note = alert_note(CLUSTER, REGION, "baseline unreadable: nothing changed", "chunk 2 of 3 missing")
    Notifier(boto3.client("sns", region_name=REGION), resources.topic_arn).publish(note)
    [received] = resources.notifications(wait_seconds=2)
    assert received["subject"] == f"[{CLUSTER}] baseline unreadable: nothing changed"
    assert received["document"]["kind"] == "alert" and "chunk 2 of 3 missing" in received["document"]["text"]


# --- the Enforcer ------------------------------------------------------------------------------------------


def enforcer(resources: Pipeline, clock: Clock, metrics: list[tuple[str, float, str]]) -> Enforcer:
    guard, _ = reconciler()
    return Enforcer(
        store=BaselineStore(boto3.client("ssm", region_name=REGION)),
        reconciler=guard,
        config=Config(),
        state=StateTable(dynamodb(), resources.tables["state"]),
        grants=GrantsTable(dynamodb(), resources.tables["grants"]),
        notifier=Notifier(boto3.client("sns", region_name=REGION), resources.topic_arn),
        metric=lambda name, value, unit: metrics.append((name, value, unit)),
        clock=clock,
    )


def active(grants: GrantsTable, grant: Grant) -> Grant:
    """A grant recorded and given (as the break-glass API leaves it)."""
    return grants.transition(grants.put_new(grant), status="active")


def push(*entries: dict[str, Any], **guard: Any) -> None:
    text = json.dumps(baseline_doc(CLUSTER, list(entries), auth="API", **guard))
    BaselineStore(boto3.client("ssm", region_name=REGION)).put(text)


TRIGGER = Trigger(
    "event", "DeleteAccessEntry of the viewer by bob", "evt-1", T0 - timedelta(seconds=2), "bob"
)


def test_a_run_restores_the_baseline_tells_the_owners_and_counts(aws, resources):
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    admins, viewer = role("admins"), role("viewer")
    push(entry(admins, (ADMIN, None)), entry(viewer, (VIEW, ["apps"])))
    clock, metrics = Clock(), []
    # when
    report = enforcer(resources, clock, metrics).run(CLUSTER, REGION, trigger=TRIGGER)
    # then the oracle sees the baseline, the owners are told who did what, and the run is counted
    assert report.outcome is not None and report.outcome.reached_baseline
    assert aws.admins(CLUSTER) == [admins]
    [note] = resources.notifications(wait_seconds=2)
    assert "DeleteAccessEntry of the viewer by bob" in note["document"]["text"]
    assert note["document"]["trigger"]["eventId"] == "evt-1"
    names = {name for name, _, _ in metrics}
    assert {Metrics.DRIFT_DETECTED, Metrics.ACTIONS_APPLIED, Metrics.REMEDIATION_DELAY} <= names


def test_an_active_grant_stays_and_goes_when_it_ends(aws, resources):
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    admins, oncall = role("admins"), role("oncall", "/sso/")
    push(entry(admins, (ADMIN, None)), prune=True)
    clock, metrics = Clock(), []
    guard = enforcer(resources, clock, metrics)
    grants = GrantsTable(dynamodb(), resources.tables["grants"])
    active(grants, a_grant(principal_arn=oncall, created_entry=True))
    # when the grant is active, a run (with pruning on) gives it and keeps it
    guard.run(CLUSTER, REGION, trigger=TRIGGER)
    assert sorted(aws.admins(CLUSTER)) == sorted([admins, oncall])
    guard.run(CLUSTER, REGION, trigger=TRIGGER)
    assert oncall in aws.admins(CLUSTER)
    # and when its time is up, the next run takes it away and records it revoked
    clock.now = T0 + timedelta(minutes=16)
    report = guard.run(CLUSTER, REGION, trigger=Trigger("expiry", "grant g-1 ended"))
    assert aws.admins(CLUSTER) == [admins]
    assert report.revoked == ["g-1"] and grants.for_cluster(CLUSTER, REGION) == []


def test_a_revocation_the_safety_rules_hold_back_is_kept_noted_and_alarmed(aws, resources):
    # given the baseline's admin was deleted: the grant's holder is the only admin left
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    admins, oncall = role("admins"), role("oncall")
    push(entry(admins, (ADMIN, None)))
    clock, metrics = Clock(), []
    guard = enforcer(resources, clock, metrics)
    grants = GrantsTable(dynamodb(), resources.tables["grants"])
    active(grants, a_grant(principal_arn=oncall, created_entry=True))
    guard.run(CLUSTER, REGION, trigger=TRIGGER)
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName=CLUSTER, principalArn=admins)
    boto3.client("iam").delete_role(RoleName="admins")
    resources.notifications(wait_seconds=1)
    # when the grant ends
    clock.now = T0 + timedelta(minutes=16)
    report = guard.run(CLUSTER, REGION, trigger=Trigger("expiry", "grant g-1 ended"))
    # then the holder keeps its access (nobody else could get in), the grant stays due, and it is alarmed
    assert aws.admins(CLUSTER) == [oncall]
    assert report.revoked == [] and report.revocation_failures
    assert grants.get(CLUSTER, REGION, "g-1").revocation_error
    assert (Metrics.REVOCATION_FAILURES, 1, "Count") in metrics
    kinds = [n["document"]["kind"] for n in resources.notifications(wait_seconds=2)]
    assert "alert" in kinds


def test_a_cluster_without_a_baseline_is_not_managed(aws, resources):
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    report = enforcer(resources, Clock(), []).run(CLUSTER, REGION, trigger=TRIGGER)
    assert report.outcome is None and "not managed" in (report.skipped or "")


def test_an_unreadable_baseline_changes_nothing_and_raises_an_alert(aws, resources):
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    push(entry(role("admins"), (ADMIN, None)))
    ssm = boto3.client("ssm", region_name=REGION)
    manifest = BaselineStore(ssm).manifest_name(CLUSTER, REGION)
    ssm.put_parameter(Name=manifest, Value="{not json", Type="String", Overwrite=True)
    writes_before = len([r for r in aws.cloudtrail_records() if r["eventSource"] == "eks.amazonaws.com"])
    report = enforcer(resources, Clock(), []).run(CLUSTER, REGION, trigger=TRIGGER)
    assert report.outcome is None and "cannot be used" in (report.skipped or "")
    assert (
        len([r for r in aws.cloudtrail_records() if r["eventSource"] == "eks.amazonaws.com"]) == writes_before
    )
    [note] = resources.notifications(wait_seconds=2)
    assert note["document"]["kind"] == "alert"


def test_detect_mode_writes_nothing_and_tells_the_drift(aws, resources):
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    push(entry(role("admins"), (ADMIN, None)), mode="detect")
    report = enforcer(resources, Clock(), []).run(CLUSTER, REGION, trigger=TRIGGER)
    assert report.outcome is not None and not report.outcome.applied
    assert aws.admins(CLUSTER) == []
    [note] = resources.notifications(wait_seconds=2)
    assert note["document"]["kind"] == "drift" and "+ create access entry" in note["document"]["text"]
