"""Delivery of CloudTrail records as EventBridge events: to moto's default bus and in-process subscribers.

The event goes straight to the default bus's rules, as AWS's own delivery does: PutEvents would refuse
(on AWS) the reserved `aws.*` sources, and its own event id would differ from the one subscribers get.

Delivery is best effort on AWS: events arrive seconds later, late, twice, out of order, or never. The
delivery settings (PUT /_emulator/cloudtrail/settings) make that happen on purpose: a delay for every event
(default 0: delivered at once, in the calling thread), and counted controls for the next events (late,
twice, held and released newest first, dropped). Delayed events wait in a queue served by one background
thread, which takes the state lock only to hand an event to the bus, never while it waits. Resetting the
emulator forgets every waiting event and the settings.

Rules' targets: an SQS queue target (without an input transformation) receives the whole EventBridge
envelope, as on AWS (moto's default template leaves out `account`); an event bus target receives the event
with a new id and the rest kept, and that bus's rules do not forward it again (EventBridge routes an event
over one bus-to-bus hop only). Other targets are moto's.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .. import control
from .records import event_time

Subscriber = Callable[[dict[str, Any]], None]

# Rule states that receive CloudTrail write events (read-only ones need the second).
_RECEIVING_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
_log = logging.getLogger("local.cloudtrail")
_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(callback: Subscriber) -> None:
    """Call `callback(envelope)` for every CloudTrail event delivered from now on (in any account/region)."""
    with _lock:
        if callback not in _subscribers:
            _subscribers.append(callback)


def unsubscribe(callback: Subscriber) -> None:
    with _lock:
        if callback in _subscribers:
            _subscribers.remove(callback)


# --- settings -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliverySettings:
    delay_seconds: float = 0.0  # every event is delivered this long after its call
    late_next: int = 0  # the next N events are delivered late_seconds after their call instead
    late_seconds: float = 0.0
    twice_next: int = 0  # the next N events are delivered twice (the same event, the same id)
    reverse_next: int = 0  # the next N events are held, then delivered newest first once the Nth arrives
    drop_next: int = 0  # the next N events are never delivered (CloudTrail still has them)

    def to_json(self) -> dict[str, Any]:
        return {
            "delaySeconds": self.delay_seconds,
            "lateNext": self.late_next,
            "lateSeconds": self.late_seconds,
            "twiceNext": self.twice_next,
            "reverseNext": self.reverse_next,
            "dropNext": self.drop_next,
        }


_SECONDS = {"delaySeconds": "delay_seconds", "lateSeconds": "late_seconds"}
_COUNTS = {
    "lateNext": "late_next",
    "twiceNext": "twice_next",
    "reverseNext": "reverse_next",
    "dropNext": "drop_next",
}


def apply_settings(current: DeliverySettings, body: Any) -> DeliverySettings:
    """The settings after a PUT body (any of the fields of DeliverySettings.to_json); ValueError on junk."""
    if body is None:
        return current
    if not isinstance(body, dict):
        raise ValueError("the delivery settings body must be an object")
    unknown = set(body) - {*_SECONDS, *_COUNTS}
    if unknown:
        raise ValueError(f"unknown delivery settings: {sorted(unknown)}")
    changes: dict[str, Any] = {}
    for name, attribute in _SECONDS.items():
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a number of seconds")
            if not 0 <= value <= 3600:
                raise ValueError(f"{name} must be between 0 and 3600 seconds")
            changes[attribute] = float(value)
    for name, attribute in _COUNTS.items():
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
                raise ValueError(f"{name} must be a whole number between 0 and 10000")
            changes[attribute] = value
    return replace(current, **changes)


# --- the delivery queue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    envelope: dict[str, Any]
    copies: int  # 2 when delivered twice
    delay: float  # seconds after the call


class Delivery:
    """Decides when each event is delivered and delivers it: at once, or from a queue served by a thread.

    A reset moves to a new generation: events of an older one are never delivered, even one the thread has
    already taken.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._condition = threading.Condition()
        self._settings = DeliverySettings()
        self._queue: list[tuple[float, int, int, dict[str, Any]]] = []  # (due, sequence, generation, event)
        self._held: list[_Planned] = []
        self._sequence = itertools.count()
        self._generation = 0
        self._thread: threading.Thread | None = None

    # settings -------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        with self._condition:
            return {
                **self._settings.to_json(),
                "waiting": len(self._queue),
                "held": len(self._held),
            }

    def update(self, body: Any) -> dict[str, Any]:
        with self._condition:
            self._settings = apply_settings(self._settings, body)
        return self.settings()

    def reset(self) -> None:
        with self._condition:
            self._generation += 1
            self._queue.clear()
            self._held.clear()
            self._settings = DeliverySettings()
            self._condition.notify_all()

    # delivering -----------------------------------------------------------------------------------
    def deliver(self, envelope: dict[str, Any]) -> None:
        """Deliver `envelope` as the settings say: now (in this thread), later, twice, held, or never."""
        now_list: list[tuple[dict[str, Any], int]] = []
        with self._condition:
            generation = self._generation
            planned = self._plan(envelope)
            if planned is None:
                return
            if self._settings.reverse_next > 0:
                self._held.append(planned)
                self._settings = replace(self._settings, reverse_next=self._settings.reverse_next - 1)
                if self._settings.reverse_next > 0:
                    return
                release, self._held = list(reversed(self._held)), []
            else:
                release = [planned]
            for item in release:
                if item.delay > 0:
                    due = self._clock() + item.delay
                    for _ in range(item.copies):
                        heapq.heappush(self._queue, (due, next(self._sequence), generation, item.envelope))
                    self._start_thread()
                    self._condition.notify_all()
                else:
                    now_list.extend((item.envelope, generation) for _ in range(item.copies))
        for event, event_generation in now_list:
            self._hand_over(event, event_generation)

    def flush(self) -> int:
        """Deliver now, in this thread, every waiting event (in due order), then the held ones, newest
        first; returns how many deliveries were made."""
        with self._condition:
            generation = self._generation
            waiting = [heapq.heappop(self._queue) for _ in range(len(self._queue))]
            held, self._held = list(reversed(self._held)), []
            self._settings = replace(self._settings, reverse_next=0)
        events = [(event, gen) for _, _, gen, event in waiting]
        events += [(item.envelope, generation) for item in held for _ in range(item.copies)]
        for event, event_generation in events:
            self._hand_over(event, event_generation)
        return len(events)

    def _plan(self, envelope: dict[str, Any]) -> _Planned | None:
        settings = self._settings
        if settings.drop_next > 0:
            self._settings = replace(settings, drop_next=settings.drop_next - 1)
            return None
        delay = settings.delay_seconds
        if settings.late_next > 0:
            settings = replace(settings, late_next=settings.late_next - 1)
            delay = settings.late_seconds
        copies = 1
        if settings.twice_next > 0:
            settings = replace(settings, twice_next=settings.twice_next - 1)
            copies = 2
        self._settings = settings
        return _Planned(envelope, copies, delay)

    def _start_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._serve, daemon=True, name="cloudtrail-delivery")
            self._thread.start()

    def _serve(self) -> None:
        while True:
            with self._condition:
                while not self._queue or self._queue[0][0] > self._clock():
                    timeout = self._queue[0][0] - self._clock() if self._queue else None
                    self._condition.wait(timeout)
                _, _, generation, event = heapq.heappop(self._queue)
            self._hand_over(event, generation)

    def _current(self, generation: int) -> bool:
        with self._condition:
            return generation == self._generation

    def _hand_over(self, envelope: dict[str, Any], generation: int) -> None:
        """To the account's and region's default bus, then to every subscriber (unless reset since)."""
        # moto's backends are not thread-safe: touch them under the lock the middleware holds for moto
        # calls, and only for that. Subscribers run outside it, so they may call the local AWS themselves.
        try:
            with control.STATE_LOCK:
                if not self._current(generation):
                    return
                put_on_default_bus(envelope)
        except Exception:  # delivery is best effort; the API call it reports has already happened
            _log.exception("EventBridge delivery failed for %s", envelope["detail"].get("eventName"))
        if not self._current(generation):
            return
        with _lock:
            subscribers = list(_subscribers)
        for callback in subscribers:
            try:
                callback(copy.deepcopy(envelope))
            except Exception:
                _log.exception("CloudTrail subscriber %r failed", callback)


DELIVERY = Delivery()


def deliver(envelope: dict[str, Any]) -> None:
    """Send `envelope` to its account's and region's default bus, then to every subscriber (as the delivery
    settings say: at once by default)."""
    DELIVERY.deliver(envelope)


# --- event buses and their rules' targets ------------------------------------------------------------------


def put_on_default_bus(envelope: dict[str, Any]) -> int:
    """Offer the event to every receiving rule on the default bus of its account and region; returns how
    many rules matched it."""
    return _put_on_bus(envelope["account"], envelope["region"], "default", envelope, may_forward=True)


def _put_on_bus(
    account: str, region: str, bus_name: str, envelope: dict[str, Any], *, may_forward: bool
) -> int:
    from moto.events.models import events_backends

    bus = events_backends[account][region].event_buses.get(bus_name)
    if bus is None:
        return 0
    matched = 0
    for rule in list(bus.rules.values()):
        if rule.state not in _RECEIVING_STATES:
            continue
        # moto's targets (and its pattern matcher) expect epoch seconds here and format the time themselves.
        message = copy.deepcopy(envelope)
        message["time"] = _time(envelope).timestamp()
        message["ingestion-time"] = time.time()
        if not rule.event_pattern.matches_event(message):
            continue
        matched += 1
        moto_targets = []
        for target in rule.targets:
            try:
                if not _send(target, envelope, may_forward=may_forward):
                    moto_targets.append(target)
            except Exception:
                _log.exception("EventBridge target %s failed", target.get("Arn"))
        if moto_targets:
            rule_for_moto = copy.copy(rule)
            rule_for_moto.targets = moto_targets
            rule_for_moto.send_to_targets(message)
    return matched


def _time(envelope: dict[str, Any]) -> datetime:
    """When the event happened: a CloudTrail record's eventTime, else (a native event) the envelope's time."""
    detail = envelope.get("detail") or {}
    if "eventTime" in detail:
        return event_time(detail)
    return datetime.fromisoformat(str(envelope["time"]).replace("Z", "+00:00"))


def _send(target: dict[str, Any], envelope: dict[str, Any], *, may_forward: bool) -> bool:
    """Deliver to an SQS queue or an event bus target; False for a target left to moto."""
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    transformed = any(k in target for k in ("Input", "InputPath", "InputTransformer"))
    if arn.service == "sqs" and not transformed:
        group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
        _send_to_queue(arn.account, arn.region, arn.resource_id, envelope, group_id)
        return True
    if arn.service == "events" and arn.resource_type == "event-bus":
        if may_forward:
            forwarded = {**copy.deepcopy(envelope), "id": str(uuid.uuid4())}
            _put_on_bus(arn.account, arn.region, arn.resource_id, forwarded, may_forward=False)
        return True
    return False


def _send_to_queue(
    account: str, region: str, queue_name: str, envelope: dict[str, Any], group_id: str | None
) -> None:
    """The envelope as the message body, as EventBridge sends it: version, id, detail-type, source, account,
    time, region, resources, detail."""
    from moto.sqs import sqs_backends

    sqs = sqs_backends[account][region]
    if group_id:
        attributes = sqs.get_queue_attributes(
            queue_name=queue_name, attribute_names=["ContentBasedDeduplication"]
        )
        if attributes.get("ContentBasedDeduplication") == "false":
            # EventBridge cannot set a deduplication id: a FIFO target needs content-based deduplication.
            _log.warning("FIFO queue %s without content-based deduplication: event dropped", queue_name)
            return
    body = {key: envelope[key] for key in ENVELOPE_FIELDS}
    sqs.send_message(queue_name=queue_name, message_body=json.dumps(body), group_id=group_id)


ENVELOPE_FIELDS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)
