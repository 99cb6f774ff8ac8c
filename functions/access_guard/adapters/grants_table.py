"""The grants table (DynamoDB): the single source of truth for temporary access, and its only writer.

One item per grant, under its cluster (`REGION#CLUSTER`) and its id. Schedules and entries are derived from
it, never the other way round: the expiry job and the sweep re-read a grant here before acting on it.

Every change of a grant is a transition of its state machine (`core.grants`): a conditional write on the
status and version the writer read, so no write is blind. A writer whose condition fails gets
`GrantChanged` with the grant as it is now, and decides again. Only a closed grant (ended, revoked, failed)
carries a `ttl`: a grant that has not ended never expires from the table.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..core.config import GRANTS_TABLE_KEYS
from ..core.grants import CLOSED, Grant
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


class GrantChanged(Exception):
    """Another writer moved the grant since it was read: `grant` is how it is now (None: it is gone)."""

    def __init__(self, grant: Grant | None, wanted: str) -> None:
        now = grant.status if grant is not None else "gone"
        super().__init__(f"grant changed while {wanted} (it is {now} now)")
        self.grant = grant


class GrantAlreadyEnded(GrantChanged):
    """The grant was already ending or closed."""

    def __init__(self, grant: Grant) -> None:
        super().__init__(grant, "ending it")
        self.grant: Grant = grant


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
        "status": grant.status,
        "version": grant.version,
        "createdEntry": grant.created_entry,
        "policyWasThere": grant.policy_was_there,
        "scopeBefore": _scope_json(grant.scope_before),
        "activatedAt": _time(grant.activated_at),
        "pendingReason": grant.pending_reason,
        "endedEarlyAt": _time(grant.ended_early_at),
        "endedEarlyBy": grant.ended_early_by,
        "revokedAt": _time(grant.revoked_at),
        "revocationError": grant.revocation_error,
        "failure": grant.failure,
    }
    if grant.closed:  # only a closed grant may expire from the table
        plain[_TTL] = int((max(grant.ends_at, grant.revoked_at or grant.ends_at) + KEEP_FOR).timestamp())
    return {k: _serializer.serialize(v) for k, v in plain.items() if v is not None}


def _scope_json(scope: AccessScope | None) -> dict[str, Any] | None:
    return None if scope is None else {"type": scope.type, "namespaces": list(scope.namespaces)}


def _scope_of(doc: Any) -> AccessScope | None:
    if not isinstance(doc, dict):
        return None
    return AccessScope.of(str(doc.get("type", "cluster")), [str(n) for n in doc.get("namespaces", [])])


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
        status=str(plain.get("status", "active")),  # type: ignore[arg-type]
        version=int(plain.get("version", 0)),
        created_entry=bool(plain.get("createdEntry", False)),
        policy_was_there=bool(plain.get("policyWasThere", False)),
        scope_before=_scope_of(plain.get("scopeBefore")),
        activated_at=_parse_time(plain.get("activatedAt")),
        pending_reason=plain.get("pendingReason"),
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

    def put_new(self, grant: Grant) -> Grant:
        """Record a new grant (`requested`, version 1); it must not exist yet."""
        new = replace(grant, status="requested", version=1)
        self._db.put_item(
            TableName=self._table,
            Item=to_item(new),
            ConditionExpression="attribute_not_exists(#sk)",
            ExpressionAttributeNames={"#sk": _SK},
        )
        return new

    def transition(self, grant: Grant, **changes: Any) -> Grant:
        """Write `grant` with `changes` (its status among them, or not), if nobody moved it since it was read:
        the write is conditional on the status and version read. GrantChanged (with the grant as it is now)
        otherwise."""
        new = replace(grant, **changes, version=grant.version + 1)
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(new),
                ConditionExpression="#status = :status AND #version = :version",
                ExpressionAttributeNames={"#status": "status", "#version": "version"},
                ExpressionAttributeValues={
                    ":status": {"S": grant.status},
                    ":version": {"N": str(grant.version)},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise GrantChanged(
                    self.find(grant.cluster, grant.region, grant.grant_id), _wanted(changes)
                ) from exc
            raise
        return new

    def find(self, cluster: str, region: str, grant_id: str) -> Grant | None:
        try:
            return self.get(cluster, region, grant_id)
        except GrantNotFound:
            return None

    def get(self, cluster: str, region: str, grant_id: str) -> Grant:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(cluster, region, grant_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise GrantNotFound(f"no grant {grant_id} on {cluster} ({region})")
        return from_item(item)

    def for_cluster(self, cluster: str, region: str, *, include_closed: bool = False) -> list[Grant]:
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
        if not include_closed:
            grants = [g for g in grants if not g.closed]
        return sorted(grants, key=lambda g: g.created_at, reverse=True)

    def unclosed(self) -> list[Grant]:
        """Every grant not yet closed, in every cluster (the sweep's fallback for expiries)."""
        paginator = self._db.get_paginator("scan")
        found: list[Grant] = []
        for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
            found.extend(from_item(item) for item in page.get("Items", []))
        return [g for g in found if not g.closed]

    def end_early(self, grant: Grant, *, at: datetime, by: str, failure: str | None = None) -> Grant:
        """Move the grant to `ending` now (its access goes with the next run on its cluster); a lost race is
        decided again on the grant as it is now. GrantAlreadyEnded if it was already ending or closed."""
        current: Grant | None = grant
        while current is not None:
            if current.status in ("ending", *CLOSED) or current.ended_early_at is not None:
                raise GrantAlreadyEnded(current)
            try:
                return self.transition(
                    current, status="ending", ended_early_at=at, ended_early_by=by, failure=failure
                )
            except GrantChanged as changed:
                current = changed.grant
        raise GrantNotFound(f"no grant {grant.grant_id} on {grant.cluster} ({grant.region})")


def _wanted(changes: dict[str, Any]) -> str:
    status = changes.get("status")
    return f"moving it to {status}" if status else "updating it"
