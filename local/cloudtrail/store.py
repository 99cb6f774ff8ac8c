"""Where records are kept: one ordered log for every account and region, cleared on emulator reset.

The log is bounded (the oldest records go first), as CloudTrail's event history is.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from typing import Any

# Enough for any test or demo; a long benchmark run drops its oldest records instead of growing forever.
MAX_RECORDS = 100_000


class RecordStore:
    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self._records: deque[tuple[int, dict[str, Any]]] = deque(maxlen=max_records)
        self._next = 1
        self._lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> int:
        """Keep `record`; returns its sequence number (increasing, never reused until cleared)."""
        with self._lock:
            sequence = self._next
            self._next += 1
            self._records.append((sequence, copy.deepcopy(record)))
            return sequence

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def all(self) -> list[dict[str, Any]]:
        """Every record, oldest first."""
        with self._lock:
            return [copy.deepcopy(r) for _, r in self._records]

    def newest_first(self, account_id: str, region: str) -> list[tuple[int, dict[str, Any]]]:
        """(sequence, record) of one account and region, newest first."""
        with self._lock:
            return [
                (seq, record)
                for seq, record in reversed(self._records)
                if record["recipientAccountId"] == account_id and record["awsRegion"] == region
            ]


STORE = RecordStore()
