"""The break-glass adapters against the local AWS: the audit table (newest first, by cluster or across all,
paginated with an opaque token), grant schedules (one-time, UTC, self-deleting, named by grant id), and the
grants table keeping a grant's failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from access_guard.adapters import clients
from access_guard.adapters.audit_table import AuditTable, BadPageToken
from access_guard.adapters.grant_schedules import GrantSchedules, ScheduleError, at_expression, schedule_name
from access_guard.adapters.grants_table import GrantsTable
from access_guard.core.breakglass import AuditRecord
from access_guard.core.config import AUDIT_TABLE_KEYS, GRANTS_TABLE_KEYS
from access_guard.core.grants import Grant
from access_guard.core.model import AccessScope
from access_guard.core.policies import ADMIN_POLICY_ARN

from local.breakglass_api import ensure_table

REGION = "us-east-1"
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/grant-scheduler"
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:expiry"


@pytest.fixture
def audit(aws: Any) -> AuditTable:
    clients.clear_cache()
    db = clients.client("dynamodb", region=REGION)
    ensure_table(db, "audit", AUDIT_TABLE_KEYS)
    return AuditTable(db, "audit")


def record(i: int, cluster: str | None = "payments", **fields: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "at": T0 + timedelta(seconds=i),
        "request_id": f"r-{i}",
        "action": "grant",
        "region": REGION,
        "status": 201,
        "detail": f"call {i}",
        "cluster": cluster,
        **fields,
    }
    return AuditRecord(**values)


def test_records_of_one_cluster_come_newest_first_in_pages(audit: AuditTable) -> None:
    for i in range(5):
        audit.put(record(i))
    audit.put(record(9, cluster="orders"))

    first, token = audit.page(region=REGION, cluster="payments", limit=2)
    second, token2 = audit.page(region=REGION, cluster="payments", limit=2, token=token)
    third, end = audit.page(region=REGION, cluster="payments", limit=2, token=token2)

    assert [r.request_id for r in first + second + third] == ["r-4", "r-3", "r-2", "r-1", "r-0"]
    assert token and token2 and end is None
    assert first[0] == record(4)  # the whole record comes back


def test_every_clusters_records_come_from_the_all_index_in_time_order(audit: AuditTable) -> None:
    audit.put(record(1, cluster="payments"))
    audit.put(record(2, cluster=None, action="audit"))
    audit.put(record(3, cluster="orders"))
    records, token = audit.page(region=REGION, limit=10)
    assert [r.request_id for r in records] == ["r-3", "r-2", "r-1"]
    assert token is None


def test_two_records_of_one_instant_are_both_kept(audit: AuditTable) -> None:
    audit.put(record(1, request_id="a"))
    audit.put(record(1, request_id="b"))
    records, _ = audit.page(region=REGION, cluster="payments")
    assert sorted(r.request_id for r in records) == ["a", "b"]


@pytest.mark.parametrize("token", ["not-base64!", "e30", "eyJjbHVzdGVyIjogMX0"])
def test_a_token_this_table_did_not_give_is_refused(audit: AuditTable, token: str) -> None:
    with pytest.raises(BadPageToken):
        audit.page(region=REGION, cluster="payments", token=token)


def test_a_token_of_one_query_is_refused_by_another(audit: AuditTable) -> None:
    for i in range(3):
        audit.put(record(i))
    _, token = audit.page(region=REGION, cluster="payments", limit=1)
    assert token is not None
    with pytest.raises(BadPageToken, match="another query"):
        audit.page(region=REGION, cluster="orders", token=token)
    with pytest.raises(BadPageToken):
        audit.page(region=REGION, token=token)


# --- schedules ---------------------------------------------------------------------------------------------


def grant(**fields: Any) -> Grant:
    values: dict[str, Any] = {
        "grant_id": "0123456789abcdef0123456789abcdef",
        "cluster": "payments",
        "region": REGION,
        "principal_arn": "arn:aws:iam::123456789012:role/oncall",
        "policy_arn": ADMIN_POLICY_ARN,
        "scope": AccessScope(),
        "reason": "INC-1",
        "requested_by": "arn:aws:sts::123456789012:assumed-role/oncall/alice",
        "created_at": T0,
        "ends_at": T0 + timedelta(minutes=15, microseconds=1),
        **fields,
    }
    return Grant(**values)


@pytest.fixture
def scheduler(aws: Any) -> Any:
    return boto3.client("scheduler", region_name=REGION)


def test_a_grant_gets_a_one_time_utc_schedule_that_deletes_itself_and_names_the_grant(scheduler: Any) -> None:
    scheduler.create_schedule_group(Name="grants")
    schedules = GrantSchedules(scheduler, group="grants", role_arn=ROLE, target_arn=TARGET)
    the_grant = grant()

    arn = schedules.create(the_grant, now=the_grant.created_at)

    made = scheduler.get_schedule(Name=schedule_name(the_grant.grant_id), GroupName="grants")
    assert made["Arn"] == arn
    # The start of the minute before the end's minute (it ends at 03:15:00): Scheduler fires within the minute
    # after, so always before the end, and the expiry waits for the exact second.
    assert made["ScheduleExpression"] == "at(2026-11-23T03:14:00)"
    assert made["ScheduleExpressionTimezone"] == "UTC"
    assert made["ActionAfterCompletion"] == "DELETE"
    assert made["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert (made["Target"]["Arn"], made["Target"]["RoleArn"]) == (TARGET, ROLE)
    assert json.loads(made["Target"]["Input"]) == {
        "cluster": "payments",
        "region": REGION,
        "grantId": the_grant.grant_id,
    }


def test_at_expressions_are_in_utc_whatever_the_zone_of_the_time() -> None:
    paris = datetime(2026, 7, 1, 14, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert at_expression(paris) == "at(2026-07-01T14:00:00)"


def test_deleting_a_schedule_says_whether_there_was_one(scheduler: Any) -> None:
    scheduler.create_schedule_group(Name="grants")
    schedules = GrantSchedules(scheduler, group="grants", role_arn=ROLE, target_arn=TARGET)
    schedules.create(grant())
    assert schedules.delete(grant().grant_id) is True
    assert schedules.delete(grant().grant_id) is False


def test_a_missing_schedule_group_is_an_error_that_says_so(
    scheduler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto answers a missing group with a bare 500 (AWS: ResourceNotFoundException): do not retry it 8 times.
    monkeypatch.setattr(clients, "MAX_ATTEMPTS", 1)
    clients.clear_cache()
    schedules = GrantSchedules(
        clients.client("scheduler", region=REGION), group="nowhere", role_arn=ROLE, target_arn=TARGET
    )
    with pytest.raises(ScheduleError, match="CreateSchedule failed"):
        schedules.create(grant())
    clients.clear_cache()


def test_a_grant_keeps_why_it_could_not_be_given(aws: Any) -> None:
    clients.clear_cache()
    db = clients.client("dynamodb", region=REGION)
    ensure_table(db, "grants", GRANTS_TABLE_KEYS)
    table = GrantsTable(db, "grants")
    table.put_new(grant())
    ended = table.end_early(grant(), at=T0, by="access-guard", failure="CreateAccessEntry failed")
    stored = table.get("payments", REGION, grant().grant_id)
    assert stored == ended
    assert (stored.failure, stored.ended_early_by) == ("CreateAccessEntry failed", "access-guard")
