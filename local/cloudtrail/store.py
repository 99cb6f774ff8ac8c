"""Where records are kept: one ordered log for every account and region, cleared on emulator reset."""

from __future__ import annotations

import copy
import threading
from typing import Any


class RecordStore:
    def __init__(self) -> None:
        self._records: list[tuple[int, dict[str, Any]]] = []
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
