"""A run's deadline: how long its invoker lets it run (a Lambda's timeout, API Gateway's 29 s, a CLI default).

Every run knows its deadline, and no wait outlasts it: the lock's lease is the time left plus a small margin,
a wait for another run's lock or for a mode update stops early enough for the run to finish what it still
has to do, and a run short of time stops between phases and hands its continuation on. Pure: the clock is
passed in (a monotonic clock: moving the services' clock for tests never cuts a run short).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# What a run still needs after a wait, to write its outcome, notes and records: never waited away.
RESERVE_SECONDS = 5.0
# How long a lock outlives its holder's deadline at most (the holder's clock and the table's may differ a
# little; a holder killed at its deadline leaves a lock that frees itself this long after).
LOCK_MARGIN_SECONDS = 5.0
# A phase of writes is not started with less than this left: the run stops between phases instead.
PHASE_SECONDS = 3.0


@dataclass(frozen=True)
class Deadline:
    at: float  # on `clock`'s scale
    clock: Callable[[], float]

    @staticmethod
    def after(seconds: float, clock: Callable[[], float]) -> Deadline:
        return Deadline(clock() + max(0.0, seconds), clock)

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())

    def left_for(self, need: float = RESERVE_SECONDS) -> float:
        """How long a wait may last and still leave `need` seconds for the rest of the run."""
        return max(0.0, self.remaining() - need)

    def lease(self) -> float:
        """The lock's lease: the time left plus the margin."""
        return self.remaining() + LOCK_MARGIN_SECONDS

    def expired(self, need: float = 0.0) -> bool:
        return self.remaining() <= need

    def capped(self, seconds: float) -> Deadline:
        """This deadline, or `seconds` from now if that comes first."""
        return Deadline(min(self.at, self.clock() + seconds), self.clock)
