"""Grant expiry schedules (EventBridge Scheduler): one one-time schedule per grant, named by its id.

A schedule only says "look at this grant now": it carries {cluster, region, grantId} to the expiry function,
which re-reads the grant from the grants table (the single source of truth) before it revokes anything. So a
schedule that is lost, late, or fires for a grant revoked meanwhile does no harm, and the sweep revokes
what a lost schedule would have.

EventBridge Scheduler fires a one-time schedule anywhere within the minute after its `at(...)` time ("60
second precision"). So a schedule set at the grant's end would end it up to 59 s late. The schedule is set
at the start of the minute before the end's minute instead: it always fires before the end, and the expiry
waits for the exact second (at most two minutes; its function runs longer). A schedule that fires too early
anyway (a clock apart) is re-armed by the expiry, never dropped. Once fired, the schedule deletes itself
(ActionAfterCompletion DELETE).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..core.grants import Grant
from .clients import error_code

NAME_PREFIX = "access-guard-grant-"
# Scheduler retries a delivery it could not make (throttled, the function missing) for up to a day.
RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400}


class ScheduleError(RuntimeError):
    """The schedule could not be made (a missing group, no permission): say so, never pass silently."""


def schedule_name(grant_id: str) -> str:
    return NAME_PREFIX + grant_id


def at_expression(when: datetime) -> str:
    """`at(YYYY-MM-DDTHH:MM:SS)` in UTC, rounded up to the next whole second."""
    utc = when.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({utc:%Y-%m-%dT%H:%M:%S})"


def fire_time(ends_at: datetime, now: datetime) -> datetime:
    """When the grant's schedule is set: the start of the minute before the end's minute (it fires within
    the minute after), and never earlier than a second from now."""
    start = ends_at.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    return max(start, now.astimezone(UTC) + timedelta(seconds=1))


def expiry_input(grant: Grant) -> dict[str, str]:
    return {"cluster": grant.cluster, "region": grant.region, "grantId": grant.grant_id}


class GrantSchedules:
    def __init__(self, scheduler: Any, *, group: str, role_arn: str, target_arn: str) -> None:
        self._scheduler = scheduler
        self.group = group
        self.role_arn = role_arn
        self.target_arn = target_arn

    def create(self, grant: Grant, *, now: datetime | None = None, replace: bool = False) -> str:
        """Schedule the grant's end (see `fire_time`); its ARN. `replace`: re-arm a grant whose schedule fired
        too early (the old one may still exist until it completes). ScheduleError when it cannot be made."""
        now = now or datetime.now(UTC)
        if replace:
            self.delete(grant.grant_id)
        try:
            response = self._scheduler.create_schedule(
                Name=schedule_name(grant.grant_id),
                GroupName=self.group,
                ScheduleExpression=at_expression(fire_time(grant.ends_at, now)),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                State="ENABLED",
                Description=f"Ends break-glass grant {grant.grant_id} on {grant.cluster} ({grant.region})",
                Target={
                    "Arn": self.target_arn,
                    "RoleArn": self.role_arn,
                    "Input": json.dumps(expiry_input(grant), sort_keys=True),
                    "RetryPolicy": RETRY_POLICY,
                },
                ClientToken=grant.grant_id if not replace else f"{grant.grant_id}-{int(now.timestamp())}",
            )
        except ClientError as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                raise ScheduleError(
                    f"the schedule group {self.group!r} does not exist (the deployment makes it)"
                ) from exc
            message = exc.response.get("Error", {}).get("Message") or ""
            raise ScheduleError(f"CreateSchedule failed: {code or 'error'}: {message}".rstrip(": ")) from exc
        return str(response["ScheduleArn"])

    def delete(self, grant_id: str) -> bool:
        """Delete the grant's schedule; False when there is none (it fired, or was never made)."""
        try:
            self._scheduler.delete_schedule(Name=schedule_name(grant_id), GroupName=self.group)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True
