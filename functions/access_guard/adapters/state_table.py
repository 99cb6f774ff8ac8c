"""The state table (DynamoDB): per-cluster locks and per-caller rate-limit windows.

One cluster is written by one run at a time, whichever writer it is (remediation, sweep, break glass, grant
expiry): a lock is an item `lock#REGION#CLUSTER` put only if absent or expired, held for at most the
caller's remaining time, and deleted by its owner only. A run that dies leaves a lock that expires on its
own. Rate-limit windows are counters `rate#CALLER#MINUTE`, added to only while under the limit.

Items carry a `ttl` (epoch seconds) so DynamoDB removes them eventually; correctness never depends on it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from ..core.config import STATE_TABLE_KEYS
from .clients import error_code

_PK, _TTL = STATE_TABLE_KEYS.partition, STATE_TABLE_KEYS.ttl or "ttl"
_DAY = 86_400


class ClusterBusy(Exception):
    """Another run holds the cluster's lock."""


class StateTable:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._clock = clock
        self._sleep = sleep

    @contextmanager
    def lock(
        self, cluster: str, region: str, *, holder: str, seconds: float, wait_seconds: float = 0.0
    ) -> Iterator[str]:
        """Hold the cluster's lock for at most `seconds`, waiting up to `wait_seconds`; else ClusterBusy."""
        key = f"lock#{region}#{cluster}"
        owner = f"{holder}#{uuid.uuid4().hex[:12]}"
        deadline = self._clock() + wait_seconds
        while not self._acquire(key, owner, seconds):
            if self._clock() >= deadline:
                raise ClusterBusy(f"{cluster} ({region}) is being changed by another run; try again shortly")
            self._sleep(min(0.2, max(0.0, deadline - self._clock())))
        try:
            yield owner
        finally:
            self._release(key, owner)

    def _acquire(self, key: str, owner: str, seconds: float) -> bool:
        now = self._clock()
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    _PK: {"S": key},
                    "owner": {"S": owner},
                    "expiresAt": {"N": f"{now + seconds:.3f}"},
                    _TTL: {"N": str(int(now + seconds) + _DAY)},
                },
                ConditionExpression="attribute_not_exists(#pk) OR expiresAt < :now",
                ExpressionAttributeNames={"#pk": _PK},
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _release(self, key: str, owner: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={_PK: {"S": key}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # expired and taken by another run
                raise

    def take_rate(self, caller: str, *, limit: int, window_seconds: int = 60) -> bool:
        """Count one call of `caller` in the current window; False (nothing counted) when at the limit."""
        now = self._clock()
        window = int(now // window_seconds)
        try:
            self._db.update_item(
                TableName=self._table,
                Key={_PK: {"S": f"rate#{caller}#{window}"}},
                UpdateExpression="ADD #count :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count", "#ttl": _TTL},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str((window + 2) * window_seconds)},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- the doctor's canaries (`canary#ID`): the intake records each one it receives ---------------------
    CANARY_KEY_PREFIX = "canary#"

    def record_canary(self, canary_id: str) -> None:
        """Note that the event path delivered this canary to the intake (kept a day)."""
        now = self._clock()
        self._db.put_item(
            TableName=self._table,
            Item={
                _PK: {"S": f"{self.CANARY_KEY_PREFIX}{canary_id}"},
                "at": {"N": str(int(now))},
                _TTL: {"N": str(int(now) + _DAY)},
            },
        )

    def canary_seen(self, canary_id: str) -> bool:
        found = self._db.get_item(
            TableName=self._table,
            Key={_PK: {"S": f"{self.CANARY_KEY_PREFIX}{canary_id}"}},
            ConsistentRead=True,
        )
        return "Item" in found
