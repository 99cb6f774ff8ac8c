"""Progress on a terminal for long reads and applies: entries read of how many, elapsed time, the writes
done and the operation being applied (or, for work that reads no entries, such as doctor's checks, the step
being done). Written to stderr on one line that is rewritten, and only when
stderr is a terminal and the output is not --json; cleared when the work ends.

It counts what the EKS client does (botocore's after-call events), so the services need no hook; doctor's
checks say which one runs (`at`).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, TextIO

WRITES = frozenset(
    {
        "CreateAccessEntry",
        "UpdateAccessEntry",
        "DeleteAccessEntry",
        "AssociateAccessPolicy",
        "DisassociateAccessPolicy",
        "UpdateClusterConfig",
    }
)
INTERVAL_SECONDS = 0.25


class Progress:
    def __init__(self, stream: TextIO, *, enabled: bool, label: str, clock: Any = time.monotonic) -> None:
        self.stream = stream
        self.enabled = enabled
        self.label = label
        self._clock = clock
        self._lock = threading.Lock()
        self.listed = 0
        self.listing_done = False
        self.read = 0
        self.writes = 0
        self.phase: str | None = None
        self.step: str | None = None  # work that reads no entries (doctor's checks): what is being done
        self._started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: list[Any] = []
        self._id = f"access-guard-progress-{id(self)}"

    def watch(self, eks: Any) -> Any:
        """Count this EKS client's calls (the same client object may be watched again by a later run)."""
        if self.enabled:
            eks.meta.events.register("after-call.eks.*", self._after_call, unique_id=self._id)
            self._clients.append(eks)
        return eks

    def _after_call(self, model: Any = None, parsed: Any = None, **_: Any) -> None:
        name = getattr(model, "name", "")
        parsed = parsed if isinstance(parsed, dict) else {}
        with self._lock:
            if name == "ListAccessEntries":
                self.listed += len(parsed.get("accessEntries", []))
                self.listing_done = not parsed.get("nextToken")
            elif name == "DescribeAccessEntry":
                self.read += 1
            elif name in WRITES:
                self.writes += 1
                self.phase = name

    def at(self, step: str) -> None:
        """Say what is being done now (shown instead of the entries read)."""
        with self._lock:
            self.step = step

    def line(self) -> str:
        with self._lock:
            if self.step is not None:
                return f"{self.label}: {self.step}, {self._clock() - self._started:.1f} s"
            total = f"{self.listed}" + ("" if self.listing_done else "+")
            text = f"{self.label}: {self.read} of {total} entries read, {self._clock() - self._started:.1f} s"
            if self.writes:
                text += f"; {self.writes} written, applying {self.phase}"
        return text

    def _show(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            self.stream.write("\r\033[K" + self.line())
            self.stream.flush()

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._show, daemon=True, name="progress")
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.stream.write("\r\033[K")
            self.stream.flush()
        for client in self._clients:
            client.meta.events.unregister("after-call.eks.*", unique_id=self._id)


def on_terminal(stream: TextIO, *, json_output: bool) -> bool:
    try:
        return bool(stream.isatty()) and not json_output
    except (AttributeError, ValueError):
        return False
