"""The state table (DynamoDB): per-cluster locks, pending marks, one-time marks and rate-limit windows.

One cluster is written by one run at a time, whichever writer it is (remediation, sweep, break glass, grant
expiry, the CLI): a lock is an item `lock#REGION#CLUSTER` put only if absent or expired, held for its
holder's remaining time plus a margin (`core.deadline`), and deleted by its owner only; nobody extends
another's. A run that dies leaves a lock that expires on its own, soon after its deadline.

A run that finds the cluster held does not wait out a queue's visibility timeout: it leaves a pending mark
`pending#REGION#CLUSTER` (the principals it wanted, or the whole cluster) and tries the lock once more; every
holder looks for the mark after it lets the lock go and runs again for it. So no mark is left with nobody to
see it: either the marker's second try gets the lock, or someone held it then and looks after releasing.

One-time marks (`once#...`) make a note be sent once (a deleted cluster). Rate-limit windows are counters
`rate#CALLER#MINUTE`, added to only while under the limit. Verifications
`verified#REGION#CLUSTER[#PRINCIPAL-HASH]` hold when a run last found the cluster (or a principal's entries)
at its desired state.

Items carry a `ttl` (epoch seconds) so DynamoDB removes them eventually; correctness never depends on it.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..core.config import STATE_TABLE_KEYS
from .clients import error_code

_PK, _TTL = STATE_TABLE_KEYS.partition, STATE_TABLE_KEYS.ttl or "ttl"
_DAY = 86_400


class ClusterBusy(Exception):
    """Another run holds the cluster's lock."""


@dataclass(frozen=True)
class Pending:
    """Work left for the cluster's holder: the whole cluster, or these principals; and who changed which
    principal's entries (the events behind the marks: the holder's run alerts a new admin naming who)."""

    whole: bool
    principals: frozenset[str] = frozenset()
    changes: frozenset[tuple[str, str | None]] = frozenset()

    def merged(self, other: Pending | None) -> Pending:
        if other is None:
            return self
        return Pending(
            self.whole or other.whole, self.principals | other.principals, self.changes | other.changes
        )


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

    def lock_expiry(self, cluster: str, region: str) -> tuple[str, float] | None:
        """(owner, expiresAt) of the cluster's lock, or None when it is free."""
        item = self._db.get_item(
            TableName=self._table, Key={_PK: {"S": f"lock#{region}#{cluster}"}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return item["owner"]["S"], float(item["expiresAt"]["N"])

    # --- pending marks -------------------------------------------------------------------------------------
    def mark_pending(
        self,
        cluster: str,
        region: str,
        principals: Iterable[str] | None,
        changes: Iterable[tuple[str, str | None]] = (),
    ) -> None:
        """Leave work for the cluster's holder: these principals, or (None) the whole cluster; `changes`:
        who changed which principal's entries (the holder's run tells it)."""
        values: dict[str, Any] = {":ttl": {"N": str(int(self._clock()) + _DAY)}}
        sets, adds = ["#ttl = :ttl"], []
        if principals is None:
            sets.append("whole = :true")
            values[":true"] = {"BOOL": True}
        else:
            wanted = sorted(set(principals))
            if not wanted:
                return
            adds.append("principals :principals")
            values[":principals"] = {"SS": wanted}
        told = sorted({json.dumps([arn, actor]) for arn, actor in changes})
        if told:
            adds.append("changes :changes")
            values[":changes"] = {"SS": told}
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        self._db.update_item(
            TableName=self._table,
            Key={_PK: {"S": f"pending#{region}#{cluster}"}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#ttl": _TTL},
            ExpressionAttributeValues=values,
        )

    def take_pending(self, cluster: str, region: str) -> Pending | None:
        """The work left for the cluster, removed from the table (None when there is none)."""
        old = self._db.delete_item(
            TableName=self._table, Key={_PK: {"S": f"pending#{region}#{cluster}"}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        if not old:
            return None
        return Pending(
            bool(old.get("whole", {}).get("BOOL", False)),
            frozenset(old.get("principals", {}).get("SS", [])),
            frozenset(c for c in map(_change, old.get("changes", {}).get("SS", [])) if c is not None),
        )

    def has_pending(self, cluster: str, region: str) -> bool:
        item = self._db.get_item(
            TableName=self._table, Key={_PK: {"S": f"pending#{region}#{cluster}"}}, ConsistentRead=True
        ).get("Item")
        return item is not None

    # --- one-time marks ------------------------------------------------------------------------------------
    def first_time(self, key: str) -> bool:
        """True the first time `key` is marked (until `forget`): a note sent once, whoever runs."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={_PK: {"S": f"once#{key}"}, "at": {"N": f"{self._clock():.3f}"}},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": _PK},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def forget(self, key: str) -> None:
        self._db.delete_item(TableName=self._table, Key={_PK: {"S": f"once#{key}"}})

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
        targets: list[str | None] = [None] if principals is None else [*sorted(set(principals))]
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
        for key, who in wanted.items():  # GetItem each (the functions' role grants no BatchGetItem)
            item = self._db.get_item(TableName=self._table, Key={_PK: {"S": key}}, ConsistentRead=True).get(
                "Item"
            )
            if item is not None and "verifiedAt" in item:
                found[who] = float(item["verifiedAt"]["N"])
        return found

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


def _change(text: str) -> tuple[str, str | None] | None:
    """One pending change, as `mark_pending` wrote it; None for anything else."""
    try:
        arn, actor = json.loads(text)
    except (ValueError, TypeError):
        return None
    if isinstance(arn, str) and (actor is None or isinstance(actor, str)):
        return arn, actor
    return None
