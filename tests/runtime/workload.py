"""Handlers the process-isolation tests run in worker processes (imported there by path)."""

from __future__ import annotations

import os
import time
from typing import Any


def remaining(event: Any, context: Any) -> dict[str, Any]:
    """What the context says of the deadline, before and after sleeping `sleep` seconds."""
    before, started = context.get_remaining_time_in_millis(), time.time()
    time.sleep(event.get("sleep", 0))
    after = context.get_remaining_time_in_millis()
    return {"before": before, "after": after, "pid": os.getpid(), "started": started, "ended": time.time()}


def half_done(event: Any, context: Any) -> str:
    """Writes `started`, sleeps, writes `finished`; a `finally` writes `cleanup`: killed at its timeout, only
    `started` is left."""
    path = event["path"]
    try:
        with open(path, "a") as handle:
            handle.write("started\n")
        time.sleep(event["sleep"])
        with open(path, "a") as handle:
            handle.write("finished\n")
        return "done"
    finally:
        with open(path, "a") as handle:
            handle.write("cleanup\n")


def environment(event: Any, context: Any) -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in event["names"]}


def fail(event: Any, context: Any) -> None:
    raise ValueError(event.get("message", "no"))


def services_clock(event: Any, context: Any) -> dict[str, Any]:
    """The product's clock as a handler sees it (wiring.now), and the state table's lock clock."""
    from access_guard.handlers import wiring

    return {"now": wiring.now().timestamp(), "real": time.time()}
