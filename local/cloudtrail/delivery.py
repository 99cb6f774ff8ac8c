"""Delivery of CloudTrail records as EventBridge events: to moto's default bus and in-process subscribers.

The event goes straight to the default bus's rules, as AWS's own delivery does: PutEvents would refuse
(on AWS) the reserved `aws.*` sources, and its own event id would differ from the one subscribers get.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
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


def deliver(envelope: dict[str, Any]) -> None:
    """Send `envelope` to its account's and region's default bus, then to every subscriber."""
    # moto's backends are not thread-safe: touch them under the lock the middleware holds for moto calls.
    # Subscribers run outside it, so they may call the local AWS themselves.
    try:
        with control.STATE_LOCK:
            put_on_default_bus(envelope)
    except Exception:  # delivery is best effort; the API call it reports has already happened
        _log.exception("EventBridge delivery failed for %s", envelope["detail"].get("eventName"))
    with _lock:
        subscribers = list(_subscribers)
    for callback in subscribers:
        try:
            callback(copy.deepcopy(envelope))
        except Exception:
            _log.exception("CloudTrail subscriber %r failed", callback)


def put_on_default_bus(envelope: dict[str, Any]) -> int:
    """Offer the event to every receiving rule on the default bus; returns how many rules were offered it."""
    from moto.events.models import events_backends

    backend = events_backends[envelope["account"]][envelope["region"]]
    bus = backend.event_buses.get("default")
    if bus is None:
        return 0
    offered = 0
    for rule in list(bus.rules.values()):
        if rule.state not in _RECEIVING_STATES:
            continue
        message = copy.deepcopy(envelope)
        # moto's targets expect epoch seconds here and format the time themselves.
        message["time"] = event_time(envelope["detail"]).timestamp()
        message["ingestion-time"] = time.time()
        rule.send_to_targets(message)
        offered += 1
    return offered
