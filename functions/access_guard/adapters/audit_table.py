"""The audit table (DynamoDB): one item per break-glass call or expiry, kept a year and more.

Items live under their cluster (`REGION#CLUSTER`, or `-` for calls about no cluster), sorted by `at` (the
time, then a request-id suffix so two records of one instant never overwrite each other); the `all` index
(one `feed` partition) lists every cluster's records in time order. Pages are read newest first; the page
token is the last key read, made opaque (base64 of its JSON) and checked when it comes back.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..core.breakglass import AuditRecord
from ..core.config import AUDIT_TABLE_KEYS
from .clients import error_code
from .grants_table import cluster_key

_PK, _SK, _TTL = AUDIT_TABLE_KEYS.partition, AUDIT_TABLE_KEYS.sort or "at", AUDIT_TABLE_KEYS.ttl or "ttl"
_INDEX, _FEED, _FEED_SORT = AUDIT_TABLE_KEYS.indexes[0]
FEED = "all"  # the one partition of the `all` index
NO_CLUSTER = "-"
KEEP_FOR = timedelta(days=400)  # a year of break-glass history, and a margin for the yearly review
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


class BadPageToken(ValueError):
    """A page token this table did not give (or one given for another query)."""


def partition(cluster: str | None, region: str) -> str:
    return cluster_key(cluster, region) if cluster else NO_CLUSTER


def sort_key(record: AuditRecord) -> str:
    stamp = record.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp}#{record.request_id}"


def to_item(record: AuditRecord) -> dict[str, Any]:
    plain = {
        _PK: partition(record.cluster, record.region),
        _SK: sort_key(record),
        _FEED: FEED,
        "record": json.dumps(record.to_json(), sort_keys=True, default=str),
        # A few attributes in the clear, for the console and ad-hoc queries.
        "action": record.action,
        "kind": record.kind,
        "status": record.status,
        "caller": record.caller or NO_CLUSTER,
        _TTL: int((record.at + KEEP_FOR).timestamp()),
    }
    return {k: _serializer.serialize(v) for k, v in plain.items()}


def from_item(item: dict[str, Any]) -> AuditRecord:
    return AuditRecord.from_json(json.loads(_deserializer.deserialize(item["record"])))


def _encode(key: dict[str, Any]) -> str:
    plain = {k: _deserializer.deserialize(v) for k, v in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def _decode(token: str, names: tuple[str, ...]) -> dict[str, Any]:
    try:
        plain = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise BadPageToken("not a page token this API gave") from None
    if (
        not isinstance(plain, dict)
        or set(plain) != set(names)
        or not all(isinstance(v, str) and v for v in plain.values())
    ):
        raise BadPageToken("not a page token this API gave")
    return {k: {"S": v} for k, v in plain.items()}


class AuditTable:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def put(self, record: AuditRecord) -> None:
        self._db.put_item(TableName=self._table, Item=to_item(record))

    def page(
        self,
        *,
        region: str,
        cluster: str | None = None,
        limit: int = 25,
        token: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[AuditRecord], str | None]:
        """Up to `limit` records, newest first: one cluster's (of `region`), or every cluster's, of one
        `kind` and from `since` when given; and the token of the next page (None at the end; a page of a
        kind may hold fewer than `limit`: DynamoDB filters after it reads). BadPageToken for a token this
        query did not give."""
        query: dict[str, Any] = {"TableName": self._table, "ScanIndexForward": False, "Limit": limit}
        names_: dict[str, str] = {}
        values: dict[str, Any] = {}
        if cluster is None:
            names: tuple[str, ...] = (_PK, _SK, _FEED)
            query["IndexName"] = _INDEX
            names_.update({"#p": _FEED, "#s": _FEED_SORT})
            values[":p"] = {"S": FEED}
        else:
            names = (_PK, _SK)
            names_.update({"#p": _PK, "#s": _SK})
            values[":p"] = {"S": partition(cluster, region)}
        condition = "#p = :p"
        if since is not None:
            condition += " AND #s >= :since"
            values[":since"] = {"S": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        else:
            names_.pop("#s")
        if kind is not None:
            query["FilterExpression"] = "#k = :k"
            names_["#k"] = "kind"
            values[":k"] = {"S": kind}
        query.update(
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names_,
            ExpressionAttributeValues=values,
        )
        if token is not None:
            start = _decode(token, names)
            expected = FEED if cluster is None else partition(cluster, region)
            if start[_FEED if cluster is None else _PK]["S"] != expected:
                raise BadPageToken("this page token belongs to another query")
            query["ExclusiveStartKey"] = start
        try:
            response = self._db.query(**query)
        except ClientError as exc:
            if error_code(exc) == "ValidationException" and token is not None:
                raise BadPageToken("not a page token this API gave") from exc
            raise
        records = [from_item(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return records, (_encode(last) if last else None)
