"""The grants table (DynamoDB): the single source of truth for temporary access.

One item per grant, under its cluster (`REGION#CLUSTER`) and its id. Schedules and entries are derived from
it, never the other way round: the expiry job and the sweep re-read a grant here before acting on it.
Every state change is a conditional write, so two writers cannot both end or revoke one grant.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..core.config import GRANTS_TABLE_KEYS
from ..core.grants import Grant
from ..core.model import AccessScope
from .clients import error_code

_PK, _SK, _TTL = (
    GRANTS_TABLE_KEYS.partition,
    GRANTS_TABLE_KEYS.sort or "grantId",
    GRANTS_TABLE_KEYS.ttl or "ttl",
)
KEEP_FOR = timedelta(days=90)  # ended grants stay readable this long (the audit table keeps the history)
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


class GrantNotFound(LookupError):
    pass


class GrantAlreadyEnded(Exception):
    """The grant was already revoked or ended early."""

    def __init__(self, grant: Grant) -> None:
        super().__init__(f"grant {grant.grant_id} has already ended")
        self.grant = grant


def cluster_key(cluster: str, region: str) -> str:
    return f"{region}#{cluster}"


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def to_item(grant: Grant) -> dict[str, Any]:
    plain = {
        _PK: cluster_key(grant.cluster, grant.region),  # the partition key is named "cluster": REGION#CLUSTER
        _SK: grant.grant_id,
        "clusterName": grant.cluster,
        "region": grant.region,
        "principalArn": grant.principal_arn,
        "policyArn": grant.policy_arn,
        "scopeType": grant.scope.type,
        "namespaces": list(grant.scope.namespaces),
        "reason": grant.reason,
        "requestedBy": grant.requested_by,
        "createdAt": _time(grant.created_at),
        "endsAt": _time(grant.ends_at),
        "createdEntry": grant.created_entry,
        "policyWasThere": grant.policy_was_there,
        "endedEarlyAt": _time(grant.ended_early_at),
        "endedEarlyBy": grant.ended_early_by,
        "revokedAt": _time(grant.revoked_at),
        "revocationError": grant.revocation_error,
        "failure": grant.failure,
        _TTL: int((grant.ends_at + KEEP_FOR).timestamp()),
    }
    return {k: _serializer.serialize(v) for k, v in plain.items() if v is not None}


def from_item(item: dict[str, Any]) -> Grant:
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    created_at, ends_at = _parse_time(plain.get("createdAt")), _parse_time(plain.get("endsAt"))
    assert created_at is not None and ends_at is not None
    return Grant(
        grant_id=str(plain[_SK]),
        cluster=str(plain["clusterName"]),
        region=str(plain["region"]),
        principal_arn=str(plain["principalArn"]),
        policy_arn=str(plain["policyArn"]),
        scope=AccessScope.of(
            str(plain.get("scopeType", "cluster")), [str(n) for n in plain.get("namespaces", [])]
        ),
        reason=str(plain.get("reason", "")),
        requested_by=str(plain.get("requestedBy", "")),
        created_at=created_at,
        ends_at=ends_at,
        created_entry=bool(plain.get("createdEntry", False)),
        policy_was_there=bool(plain.get("policyWasThere", False)),
        ended_early_at=_parse_time(plain.get("endedEarlyAt")),
        ended_early_by=plain.get("endedEarlyBy"),
        revoked_at=_parse_time(plain.get("revokedAt")),
        revocation_error=plain.get("revocationError"),
        failure=plain.get("failure"),
    )


class GrantsTable:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def _key(self, cluster: str, region: str, grant_id: str) -> dict[str, Any]:
        return {_PK: {"S": cluster_key(cluster, region)}, _SK: {"S": grant_id}}

    def put_new(self, grant: Grant) -> None:
        self._db.put_item(
            TableName=self._table,
            Item=to_item(grant),
            ConditionExpression="attribute_not_exists(#sk)",
            ExpressionAttributeNames={"#sk": _SK},
        )

    def save(self, grant: Grant) -> None:
        """Write the grant as it is now (its entry facts, a revocation error)."""
        self._db.put_item(TableName=self._table, Item=to_item(grant))

    def get(self, cluster: str, region: str, grant_id: str) -> Grant:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(cluster, region, grant_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise GrantNotFound(f"no grant {grant_id} on {cluster} ({region})")
        return from_item(item)

    def for_cluster(self, cluster: str, region: str, *, include_revoked: bool = False) -> list[Grant]:
        """The cluster's grants, newest first (a consistent read: what expiry and remediation act on)."""
        paginator = self._db.get_paginator("query")
        grants: list[Grant] = []
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": _PK},
            ExpressionAttributeValues={":pk": {"S": cluster_key(cluster, region)}},
            ConsistentRead=True,
        ):
            grants.extend(from_item(item) for item in page.get("Items", []))
        if not include_revoked:
            grants = [g for g in grants if g.revoked_at is None]
        return sorted(grants, key=lambda g: g.created_at, reverse=True)

    def unrevoked(self) -> list[Grant]:
        """Every grant not yet revoked, in every cluster (the sweep's fallback for expiries)."""
        paginator = self._db.get_paginator("scan")
        found: list[Grant] = []
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression="attribute_not_exists(revokedAt)",
            ConsistentRead=True,
        ):
            found.extend(from_item(item) for item in page.get("Items", []))
        return found

    def end_early(self, grant: Grant, *, at: datetime, by: str, failure: str | None = None) -> Grant:
        """Mark the grant ended now (it is revoked by the next run); GrantAlreadyEnded if it was.
        `failure` says why a grant that could not be given is ended at once."""
        ended = replace(grant, ended_early_at=at, ended_early_by=by, failure=failure)
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(ended),
                ConditionExpression="attribute_exists(#sk) AND attribute_not_exists(revokedAt) "
                "AND attribute_not_exists(endedEarlyAt)",
                ExpressionAttributeNames={"#sk": _SK},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise GrantAlreadyEnded(self.get(grant.cluster, grant.region, grant.grant_id)) from exc
            raise
        return ended

    def mark_revoked(self, grant: Grant, *, at: datetime) -> Grant:
        revoked = replace(grant, revoked_at=at, revocation_error=None)
        self.save(revoked)
        return revoked
