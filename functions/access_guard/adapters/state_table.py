"""The state table (DynamoDB): per-cluster locks and per-caller rate-limit windows.

One cluster is written by one run at a time, whichever writer it is (remediation, sweep, break glass, grant
expiry): a lock is an item `lock#REGION#CLUSTER` put only if absent or expired, held for at most the
caller's remaining time, and deleted by its owner only. A run that dies leaves a lock that expires on its
own. Rate-limit windows are counters `rate#CALLER#MINUTE`, added to only while under the limit. Verifications
`verified#REGION#CLUSTER[#PRINCIPAL-HASH]` hold when a run last found the cluster (or a principal's entries)
at its desired state.

Items carry a `ttl` (epoch seconds) so DynamoDB removes them eventually; correctness never depends on it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
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

    # --- verifications: when a cluster, or a principal's entries on it, were last seen at their desired
    # state by a run that started at `at` (epoch seconds). Work about an event older than that is settled
    # without EKS calls (flood resistance). Only ever moved forward.
    @staticmethod
    def _verified_key(cluster: str, region: str, principal: str | None) -> str:
        if principal is None:
            return f"verified#{region}#{cluster}"
        return f"verified#{region}#{cluster}#{hashlib.sha256(principal.encode()).hexdigest()[:32]}"

    def record_verified(
        self, cluster: str, region: str, *, at: float, principals: Iterable[str] | None = None
    ) -> None:
        """The cluster (None) or these principals' entries were at their desired state as of `at`."""
        targets: list[str | None] = [None] if principals is None else sorted(set(principals))
        for principal in targets:
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key={_PK: {"S": self._verified_key(cluster, region, principal)}},
                    UpdateExpression="SET verifiedAt = :at, #ttl = :ttl",
                    ConditionExpression="attribute_not_exists(verifiedAt) OR verifiedAt < :at",
                    ExpressionAttributeNames={"#ttl": _TTL},
                    ExpressionAttributeValues={
                        ":at": {"N": f"{at:.6f}"},
                        ":ttl": {"N": str(int(at) + _DAY)},
                    },
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":  # a later run recorded already
                    raise

    def verified(self, cluster: str, region: str, principals: Iterable[str] = ()) -> dict[str | None, float]:
        """The last verification times known: None for the whole cluster, and each principal's."""
        wanted: dict[str, str | None] = {self._verified_key(cluster, region, None): None}
        for principal in principals:
            wanted[self._verified_key(cluster, region, principal)] = principal
        found: dict[str | None, float] = {}
        for key, principal in wanted.items():  # GetItem each (the functions' role grants no BatchGetItem)
            item = self._db.get_item(TableName=self._table, Key={_PK: {"S": key}}, ConsistentRead=True).get(
                "Item"
            )
            if item is not None and "verifiedAt" in item:
                found[principal] = float(item["verifiedAt"]["N"])
        return found
