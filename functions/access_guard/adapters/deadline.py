"""The running invocation's deadline, for adapters that may wait (a retry with backoff) and must not outlive
it.

A handler wrapped in `@within_deadline` makes its Lambda context's remaining time known for the length of the
invocation; `remaining_seconds()` answers it (None outside such a run: then an adapter does not wait).
A context variable, so concurrent runs in one process (the local runner's threads) each see their own. The
deadline is `core.deadline.Deadline`, the one the services' runs are bounded by.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from ..core.deadline import Deadline

_DEADLINE: ContextVar[Deadline | None] = ContextVar("access_guard_deadline", default=None)

F = TypeVar("F", bound=Callable[..., Any])


def remaining_seconds() -> float | None:
    """Seconds left before the running invocation's deadline (None: no deadline known)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline.remaining()


def within_deadline(handler: F) -> F:
    """Decorate a Lambda handler: its context's get_remaining_time_in_millis() becomes the run's deadline."""

    @functools.wraps(handler)
    def run(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        token = _DEADLINE.set(Deadline.after(remaining() / 1000, time.monotonic) if remaining else None)
        try:
            return handler(event, context, *args, **kwargs)
        finally:
            _DEADLINE.reset(token)

    return run  # type: ignore[return-value]
