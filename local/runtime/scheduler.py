"""EventBridge Scheduler's one-time schedules, fired in process: moto stores schedules but never runs them.

`tick()` reads every schedule from the local AWS and fires the enabled `at(...)` schedules whose time
(in their ScheduleExpressionTimezone) has come on the scheduler's clock, once each. Tests move a fake
clock and call `tick()`; `start()` ticks in a background thread.

Firing a Lambda target is what Scheduler does: an *asynchronous* invocation with the target's Input as
the event. Two failure paths follow from that, as in AWS:
- the invocation cannot be delivered (no such function, Input that is not JSON): Scheduler retries per
  the target's RetryPolicy, then sends the Input to the target's DeadLetterConfig queue;
- the function runs and fails: delivery succeeded, so Scheduler's retries and DLQ do not apply; Lambda
  retries the event itself and then uses the *function's* dead-letter queue (FunctionRegistry).
Retries happen at once, not after AWS's backoff, so MaximumEventAgeInSeconds is never reached.
ActionAfterCompletion=DELETE deletes the schedule once it has fired, whatever the outcome.

Precision. Scheduler fires a one-time schedule anywhere within the minute of its time ("60 second
precision"), so possibly up to 59 s *before* the time it names. `precision_seconds=60` models that: each
schedule fires at the start of its window (its time rounded down to the window) plus an offset drawn from
`random.Random` seeded with `seed` and the schedule (reproducible for a seed; `fire_time()` tells it). The
default, 0, fires at the exact second (fast unit tests).

Not modelled: rate() and cron() expressions (skipped, with a warning), StartDate/EndDate, the flexible
time window (a schedule fires at the start of its window), targets other than Lambda functions.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .functions import AsyncResult, FunctionNotFound, FunctionRegistry, queue_url

log = logging.getLogger("local.runtime.scheduler")

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Firing:
    """One schedule fired: whether Scheduler delivered it, and what the function made of it."""

    schedule_arn: str
    target_arn: str
    scheduled_time: datetime
    delivered: bool
    attempts: int  # Scheduler's delivery attempts
    error: str | None = None  # why delivery failed
    dead_lettered: bool = False  # sent to the schedule's DLQ
    deleted: bool = False
    result: AsyncResult | None = None  # the function's own outcome, once delivered


def due_time(expression: str, timezone: str | None) -> datetime | None:
    """When an `at(...)` expression is due, in UTC; None for rate() and cron()."""
    match = _AT.match(expression)
    if not match:
        return None
    local = datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone or "UTC"))
    return local.astimezone(UTC)


class LocalScheduler:
    def __init__(
        self,
        registry: FunctionRegistry,
        *,
        clock: Callable[[], datetime] = _now,
        precision_seconds: float = 0.0,
        seed: int | str | None = 0,
    ) -> None:
        if not 0 <= precision_seconds <= 3600:
            raise ValueError("precision_seconds is 0-3600")
        self.registry, self.clock = registry, clock
        self.precision_seconds, self.seed = precision_seconds, seed
        self._client = registry.client("scheduler")
        self._fired: set[tuple[Any, ...]] = set()
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[Firing]:
        """Fire every enabled one-time schedule that is due and has not fired yet."""
        with self._lock:
            now = self.clock()
            firings = []
            for summary in self._client.get_paginator("list_schedules").paginate().search("Schedules"):
                schedule = self._client.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
                if schedule["State"] != "ENABLED":
                    continue
                expression = schedule["ScheduleExpression"]
                due = due_time(expression, schedule.get("ScheduleExpressionTimezone"))
                if due is None:
                    if schedule["Arn"] not in self._warned:
                        self._warned.add(schedule["Arn"])
                        log.warning(
                            "%s: only at() schedules fire locally, not %s", schedule["Arn"], expression
                        )
                    continue
                # A schedule updated to a new time (or re-enabled) is a new firing.
                key = (schedule["Arn"], expression, schedule.get("LastModificationDate"))
                if self.fire_time(schedule["Arn"], expression, due) > now or key in self._fired:
                    continue
                self._fired.add(key)
                firings.append(self._fire(schedule, due))
            return firings

    def fire_time(self, schedule_arn: str, expression: str, due: datetime) -> datetime:
        """When this scheduler fires a schedule due at `due`: within its precision window, which starts at
        `due` rounded down to the window (for 60 s: the start of its minute), so possibly before `due`."""
        if not self.precision_seconds:
            return due
        epoch = due.timestamp()
        start = epoch - epoch % self.precision_seconds
        offset = random.Random(f"{self.seed}|{schedule_arn}|{expression}").uniform(0, self.precision_seconds)
        return datetime.fromtimestamp(start, UTC) + timedelta(seconds=offset)

    def _fire(self, schedule: dict[str, Any], due: datetime) -> Firing:
        target = schedule["Target"]
        retry_policy = target.get("RetryPolicy", {})
        max_retries = int(retry_policy.get("MaximumRetryAttempts", 185))
        execution_id = str(uuid.uuid4())
        error = ""
        attempts = 0
        result: AsyncResult | None = None
        for attempt in range(1, max_retries + 2):
            attempts = attempt
            payload = _render_input(target.get("Input"), schedule["Arn"], due, execution_id, attempt)
            try:
                event = json.loads(payload)
            except ValueError:
                error = "InvalidRequestContentException: could not parse request body into json"
                continue
            try:
                result = self.registry.invoke_async(target["Arn"], event)
                break
            except FunctionNotFound as exc:
                error = f"ResourceNotFoundException: {exc}"
        delivered = result is not None
        dead_lettered = False
        if not delivered:
            log.warning("%s: not delivered after %d attempts: %s", schedule["Arn"], attempts, error)
            dlq = target.get("DeadLetterConfig", {}).get("Arn")
            if dlq:
                self._dead_letter(dlq, schedule, payload, error, execution_id, attempts)
                dead_lettered = True
        deleted = False
        if schedule.get("ActionAfterCompletion") == "DELETE":
            self._client.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
            deleted = True
        return Firing(
            schedule_arn=schedule["Arn"],
            target_arn=target["Arn"],
            scheduled_time=due,
            delivered=delivered,
            attempts=attempts,
            error=None if delivered else error,
            dead_lettered=dead_lettered,
            deleted=deleted,
            result=result,
        )

    def _dead_letter(
        self,
        queue_arn: str,
        schedule: dict[str, Any],
        payload: str,
        error: str,
        execution_id: str,
        attempts: int,
    ) -> None:
        code, _, message = error.partition(": ")
        sqs = self.registry.client("sqs")

        def attribute(value: str) -> dict[str, str]:
            return {"DataType": "String", "StringValue": value}

        sqs.send_message(
            QueueUrl=queue_url(sqs, queue_arn),
            MessageBody=payload,
            MessageAttributes={
                "ERROR_CODE": attribute(code),
                "ERROR_MESSAGE": attribute(message or code),
                "EXECUTION_ID": attribute(execution_id),
                "RETRY_ATTEMPTS": attribute(str(attempts - 1)),
                "SCHEDULE_ARN": attribute(schedule["Arn"]),
                "TARGET_ARN": attribute(schedule["Target"]["Arn"]),
            },
        )

    # --- background ------------------------------------------------------------------------------
    def start(self, interval: float = 1.0) -> None:
        """Tick every `interval` seconds in a background thread until stop()."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True, name="scheduler")
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception:  # keep ticking; say why this tick failed
                log.exception("scheduler tick failed")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> LocalScheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _render_input(raw: str | None, schedule_arn: str, due: datetime, execution_id: str, attempt: int) -> str:
    """The target's Input with Scheduler's context attributes filled in (`{}` when there is none)."""
    text = raw if raw is not None else "{}"
    for name, value in {
        "schedule-arn": schedule_arn,
        "scheduled-time": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "execution-id": execution_id,
        "attempt-number": str(attempt),
    }.items():
        text = text.replace(f"<aws.scheduler.{name}>", value)
    return text
