"""The last trusted baseline of each cluster, kept in the state table (`baseline#REGION#CLUSTER`).

Why a copy: a baseline push deletes the previous version's chunks, so once a parameter from outside the
trust boundary replaces a baseline, SSM no longer holds the last trusted one. The guard keeps the last
baseline it accepted (document compressed, its SHA-256, its writer, when its note went out), the one before
it (what a held admin keeps meanwhile), and the holds on new admins. Writes are conditional on the digest
they replace, so of two readers that see one change only one tells it.

A second item per cluster (`rejected#REGION#CLUSTER`) remembers the last refused write alerted, so each
refused write is alerted once, however many runs read it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..core.config import STATE_TABLE_KEYS
from .clients import error_code

_PK = STATE_TABLE_KEYS.partition


@dataclass(frozen=True)
class TrustedCopy:
    cluster: str
    region: str
    text: str  # the baseline document as stored (compact JSON)
    sha256: str
    writer: str | None
    noted_at: datetime
    previous_text: str | None = None
    holds: dict[str, dict[str, Any]] | None = None  # principal -> {until, releasedBy, reason}


def _pack(text: str) -> bytes:
    return zlib.compress(text.encode(), 9)


def _unpack(blob: Any) -> str:
    return zlib.decompress(bytes(blob)).decode()


class TrustedCopies:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    @staticmethod
    def _key(cluster: str, region: str) -> str:
        return f"baseline#{region}#{cluster}"

    def get(self, cluster: str, region: str) -> TrustedCopy | None:
        item = self._db.get_item(
            TableName=self._table, Key={_PK: {"S": self._key(cluster, region)}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return TrustedCopy(
            cluster=cluster,
            region=region,
            text=_unpack(item["doc"]["B"]),
            sha256=item["sha256"]["S"],
            writer=item.get("writer", {}).get("S"),
            noted_at=datetime.fromisoformat(item["notedAt"]["S"]),
            previous_text=_unpack(item["previous"]["B"]) if "previous" in item else None,
            holds=json.loads(item["holds"]["S"]) if "holds" in item else None,
        )

    def save(self, copy: TrustedCopy, *, replacing: str | None) -> bool:
        """Store `copy` if the stored one's digest is still `replacing` (None: if there is none). False when
        another reader got there first."""
        item: dict[str, Any] = {
            _PK: {"S": self._key(copy.cluster, copy.region)},
            "doc": {"B": _pack(copy.text)},
            "sha256": {"S": copy.sha256},
            "notedAt": {"S": copy.noted_at.isoformat()},
        }
        if copy.writer:
            item["writer"] = {"S": copy.writer}
        if copy.previous_text is not None:
            item["previous"] = {"B": _pack(copy.previous_text)}
        if copy.holds:
            item["holds"] = {"S": json.dumps(copy.holds, sort_keys=True)}
        if replacing is None:
            condition: dict[str, Any] = {"ConditionExpression": f"attribute_not_exists({_PK})"}
        else:
            condition = {
                "ConditionExpression": "sha256 = :previous",
                "ExpressionAttributeValues": {":previous": {"S": replacing}},
            }
        try:
            self._db.put_item(TableName=self._table, Item=item, **condition)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def first_rejection(self, cluster: str, region: str, fingerprint: str) -> bool:
        """Record that the refused write `fingerprint` was alerted; False when it already was."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={_PK: {"S": f"rejected#{region}#{cluster}"}, "fingerprint": {"S": fingerprint}},
                ConditionExpression=f"attribute_not_exists({_PK}) OR fingerprint <> :f",
                ExpressionAttributeValues={":f": {"S": fingerprint}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
