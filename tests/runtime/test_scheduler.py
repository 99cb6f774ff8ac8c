"""The local scheduler: one-time schedules fire when due on its clock, once, per Scheduler's rules."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local.runtime import FunctionRegistry, LocalScheduler

from .conftest import ACCOUNT, REGION, drain_queue, queue_arn

ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:expire"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def scheduler_client(aws: Any) -> Any:
    return boto3.client("scheduler", region_name=REGION, endpoint_url=aws.endpoint_url)


@pytest.fixture
def calls(registry: FunctionRegistry) -> list[Any]:
    received: list[Any] = []
    registry.register("expire", lambda event, context: received.append(event))
    return received


def create(client: Any, name: str, at: str, **kwargs: Any) -> None:
    target = {"Arn": FUNCTION_ARN, "RoleArn": ROLE, "Input": json.dumps({"grant": name})}
    target.update(kwargs.pop("target", {}))
    client.create_schedule(
        Name=name,
        ScheduleExpression=f"at({at})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        **kwargs,
    )


def test_a_schedule_fires_once_when_its_time_comes(
    registry: FunctionRegistry, scheduler_client: Any, calls: list[Any]
) -> None:
    clock = Clock(datetime(2030, 1, 1, 11, 59, 59, tzinfo=UTC))
    scheduler = LocalScheduler(registry, clock=clock)
    create(scheduler_client, "g1", "2030-01-01T12:00:00")

    assert scheduler.tick() == []
    assert calls == []

    clock.now += timedelta(seconds=1)
    (firing,) = scheduler.tick()
    assert calls == [{"grant": "g1"}]
    assert firing.delivered and firing.result is not None and firing.result.succeeded
    assert firing.scheduled_time == datetime(2030, 1, 1, 12, tzinfo=UTC)

    clock.now += timedelta(hours=1)
    assert scheduler.tick() == []
    assert calls == [{"grant": "g1"}]
    assert scheduler_client.get_schedule(Name="g1")["Name"] == "g1"  # no DELETE: it stays


def test_action_after_completion_delete_removes_the_schedule(
    registry: FunctionRegistry, scheduler_client: Any, calls: list[Any]
) -> None:
    scheduler_client.create_schedule_group(Name="grants")  # moto: a missing group is a bare KeyError
    create(scheduler_client, "g1", "2030-01-01T12:00:00", GroupName="grants", ActionAfterCompletion="DELETE")
    scheduler = LocalScheduler(registry, clock=Clock(datetime(2030, 1, 2, tzinfo=UTC)))

    (firing,) = scheduler.tick()

    assert firing.deleted
    assert calls == [{"grant": "g1"}]
    assert scheduler_client.list_schedules(GroupName="grants")["Schedules"] == []


def test_a_disabled_schedule_does_not_fire(
    registry: FunctionRegistry, scheduler_client: Any, calls: list[Any]
) -> None:
    create(scheduler_client, "g1", "2030-01-01T12:00:00", State="DISABLED")
    scheduler = LocalScheduler(registry, clock=Clock(datetime(2030, 1, 2, tzinfo=UTC)))
    assert scheduler.tick() == []
    assert calls == []


def test_the_time_is_read_in_the_schedules_timezone(
    registry: FunctionRegistry, scheduler_client: Any, calls: list[Any]
) -> None:
    # 09:00 in Paris in winter is 08:00 UTC; in New York it is 14:00 UTC.
    create(scheduler_client, "paris", "2030-01-15T09:00:00", ScheduleExpressionTimezone="Europe/Paris")
    create(scheduler_client, "new-york", "2030-01-15T09:00:00", ScheduleExpressionTimezone="America/New_York")
    create(scheduler_client, "utc", "2030-01-15T09:00:00")
    clock = Clock(datetime(2030, 1, 15, 7, 59, 59, tzinfo=UTC))
    scheduler = LocalScheduler(registry, clock=clock)

    fired = []
    for moment in ["07:59:59", "08:00:00", "09:00:00", "13:59:59", "14:00:00"]:
        clock.now = datetime.fromisoformat(f"2030-01-15T{moment}+00:00")
        before = len(calls)
        scheduler.tick()
        fired.append([c["grant"] for c in calls[before:]])
    assert fired == [[], ["paris"], ["utc"], [], ["new-york"]]


def test_input_gets_schedulers_context_attributes(
    registry: FunctionRegistry, scheduler_client: Any, calls: list[Any]
) -> None:
    template = '{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>"}'
    create(scheduler_client, "g1", "2030-01-01T12:00:00", target={"Input": template})
    LocalScheduler(registry, clock=Clock(datetime(2030, 1, 2, tzinfo=UTC))).tick()
    assert calls == [
        {"arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/g1", "at": "2030-01-01T12:00:00Z"}
    ]


def test_an_undeliverable_target_is_retried_then_dead_lettered(
    registry: FunctionRegistry, scheduler_client: Any, sqs: Any
) -> None:
    dlq = sqs.create_queue(QueueName="scheduler-dlq")["QueueUrl"]
    create(
        scheduler_client,
        "g1",
        "2030-01-01T12:00:00",
        ActionAfterCompletion="DELETE",
        target={
            "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:not-deployed",
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": queue_arn(sqs, dlq)},
        },
    )

    (firing,) = LocalScheduler(registry, clock=Clock(datetime(2030, 1, 2, tzinfo=UTC))).tick()

    assert (firing.delivered, firing.attempts, firing.dead_lettered, firing.deleted) == (False, 3, True, True)
    (message,) = drain_queue(sqs, dlq)
    assert json.loads(message["Body"]) == {"grant": "g1"}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["SCHEDULE_ARN"] == firing.schedule_arn
    assert attributes["TARGET_ARN"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:not-deployed"


def test_a_failing_function_is_lambdas_to_retry_not_schedulers(
    registry: FunctionRegistry, scheduler_client: Any, sqs: Any
) -> None:
    scheduler_dlq = sqs.create_queue(QueueName="scheduler-dlq")["QueueUrl"]
    function_dlq = sqs.create_queue(QueueName="function-dlq")["QueueUrl"]
    runs: list[Any] = []

    def failing(event: Any, context: Any) -> None:
        runs.append(event)
        raise RuntimeError("cannot revoke")

    registry.register("expire", failing, dead_letter_queue_arn=queue_arn(sqs, function_dlq))
    create(
        scheduler_client,
        "g1",
        "2030-01-01T12:00:00",
        target={
            "RetryPolicy": {"MaximumRetryAttempts": 5},
            "DeadLetterConfig": {"Arn": queue_arn(sqs, scheduler_dlq)},
        },
    )

    (firing,) = LocalScheduler(registry, clock=Clock(datetime(2030, 1, 2, tzinfo=UTC))).tick()

    assert firing.delivered and firing.attempts == 1
    assert firing.result is not None and not firing.result.succeeded
    assert len(runs) == 3  # Lambda's two retries of an asynchronous invocation
    assert drain_queue(sqs, scheduler_dlq) == []
    assert [json.loads(m["Body"]) for m in drain_queue(sqs, function_dlq)] == [{"grant": "g1"}]


def test_rate_and_cron_schedules_do_not_fire(
    registry: FunctionRegistry, scheduler_client: Any, calls: list[Any]
) -> None:
    scheduler_client.create_schedule(
        Name="every-minute",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE},
    )
    assert LocalScheduler(registry, clock=Clock(datetime(2030, 1, 2, tzinfo=UTC))).tick() == []
    assert calls == []


def test_background_ticking_fires_due_schedules(registry: FunctionRegistry, scheduler_client: Any) -> None:
    fired = threading.Event()
    registry.register("expire", lambda event, context: fired.set())
    create(scheduler_client, "g1", "2020-01-01T00:00:00")

    scheduler = LocalScheduler(registry)
    scheduler.start(interval=0.05)
    try:
        assert fired.wait(timeout=30)
    finally:
        scheduler.stop()


# --- 60-second precision -----------------------------------------------------------------------------


def test_with_scheduler_precision_a_schedule_fires_anywhere_within_its_minute_even_before_its_time(
    registry: FunctionRegistry,
) -> None:
    from access_guard.core.limits import SCHEDULER_PRECISION_SECONDS

    scheduler = LocalScheduler(registry, precision_seconds=SCHEDULER_PRECISION_SECONDS, seed=7)
    due = datetime(2030, 1, 1, 12, 0, 40, tzinfo=UTC)
    times = [scheduler.fire_time(f"arn:aws:scheduler:::schedule/g/{i}", "at(x)", due) for i in range(200)]
    minute = datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert all(minute <= t < minute + timedelta(seconds=60) for t in times)
    early = [t for t in times if t < due]
    assert len(early) > 100  # 40 of the 60 seconds come before the time the schedule names
    assert max(times) - min(times) > timedelta(seconds=55)
    # reproducible for a seed, different for another
    again = LocalScheduler(registry, precision_seconds=60, seed=7)
    other = LocalScheduler(registry, precision_seconds=60, seed=8)
    assert times[0] == again.fire_time("arn:aws:scheduler:::schedule/g/0", "at(x)", due)
    assert times[0] != other.fire_time("arn:aws:scheduler:::schedule/g/0", "at(x)", due)


def test_tick_fires_a_schedule_at_its_drawn_time_not_at_the_time_it_names(
    registry: FunctionRegistry, scheduler_client: Any, calls: list[Any]
) -> None:
    clock = Clock(datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC))
    scheduler = LocalScheduler(registry, clock=clock, precision_seconds=60, seed=1)
    create(scheduler_client, "g1", "2030-01-01T12:00:59")
    arn = scheduler_client.get_schedule(Name="g1")["Arn"]
    fires = scheduler.fire_time(arn, "at(2030-01-01T12:00:59)", datetime(2030, 1, 1, 12, 0, 59, tzinfo=UTC))
    assert fires < datetime(2030, 1, 1, 12, 0, 59, tzinfo=UTC)
    clock.now = fires - timedelta(milliseconds=1)
    assert scheduler.tick() == []
    clock.now = fires
    (firing,) = scheduler.tick()
    assert calls == [{"grant": "g1"}]
    assert firing.scheduled_time == datetime(2030, 1, 1, 12, 0, 59, tzinfo=UTC)


def test_a_precision_outside_zero_to_an_hour_is_refused(registry: FunctionRegistry) -> None:
    with pytest.raises(ValueError, match="precision_seconds"):
        LocalScheduler(registry, precision_seconds=-1)
