"""The local services' clock: real time plus an offset that tests and people move ahead.

AWS's clock cannot be moved; a local world that must show a 30-minute grant ending, or a message coming back
after an 18-minute visibility timeout, can move its own. One offset serves every local service that reads
time through it: the functions (in process and in their worker processes, which read the offset from
`SERVICE_CLOCK.file`), the scheduler, the sweep's timer, the SQS event sources' retries, the locks, and
EKS's asynchronous updates (an authentication-mode update of minutes ends when the clock is moved past it).

    POST /_emulator/clock {"advanceSeconds": N}   move the clock N seconds ahead (N >= 0), then fire what
                                                  is due (the listeners registered with `on_advance`)
    GET  /_emulator/clock                         {"offsetSeconds": ..., "now": ISO time, "realNow": ...}

The clock only moves forward, as time does. Request signatures (SigV4's 5-minute window) and what moto times
itself (message visibility, session expiry) stay on real time: the offset moves the services, not AWS's
own bookkeeping. This module imports nothing of the product.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from . import control

log = logging.getLogger("local.clock")


class ServiceClock:
    """Real time plus `offset` seconds. `file` holds the offset as text, for processes that cannot share
    this object (the function workers): they read it on each call, so a move reaches a running function."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._listeners: list[Callable[[], Any]] = []
        directory = tempfile.mkdtemp(prefix="local-clock-")
        self.file = os.path.join(directory, "offset")
        self._write()

    @property
    def offset(self) -> float:
        return self._offset

    def time(self) -> float:
        """Epoch seconds on the services' clock (time.time() + offset)."""
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        """A monotonic clock that also moves with the offset (the SQS sources' retry timers)."""
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock `seconds` ahead, then run the listeners (what is now due fires); the new offset."""
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError("advanceSeconds must be a number of seconds >= 0 (the clock only moves forward)")
        if seconds > 366 * 86400:
            raise ValueError("advanceSeconds must be at most a year")
        with self._lock:
            self._offset += float(seconds)
            self._write()
            offset = self._offset
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # one failing service must not stop the others from firing
                log.exception("clock listener %r failed", listener)
        return offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._write()

    def on_advance(self, listener: Callable[[], Any]) -> Callable[[], None]:
        """Call `listener()` after every move; returns the function that unregisters it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def listening(self) -> int:
        """How many listeners are registered (0 once every pipeline and scheduler has stopped)."""
        with self._lock:
            return len(self._listeners)

    def _write(self) -> None:
        temporary = f"{self.file}.{os.getpid()}.{threading.get_ident()}"
        with open(temporary, "w", encoding="ascii") as handle:
            handle.write(repr(self._offset))
        os.replace(temporary, self.file)


SERVICE_CLOCK = ServiceClock()


def read_offset(path: str) -> float:
    """The offset a ServiceClock wrote to `path` (0 when the file is missing or unreadable)."""
    try:
        with open(path, encoding="ascii") as handle:
            return float(handle.read() or 0)
    except (OSError, ValueError):
        return 0.0


@control.route("GET", "clock")
def _get_clock(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, _describe()


@control.route("POST", "clock", locked=False)  # listeners call back into the local AWS
def _advance_clock(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or set(body) != {"advanceSeconds"}:
        raise ValueError('the body is {"advanceSeconds": N}')
    SERVICE_CLOCK.advance(body["advanceSeconds"])
    return 200, _describe()


def _describe() -> dict[str, Any]:
    return {
        "offsetSeconds": SERVICE_CLOCK.offset,
        "now": SERVICE_CLOCK.now().isoformat(),
        "realNow": datetime.now(UTC).isoformat(),
    }


control.on_reset(SERVICE_CLOCK.reset)
