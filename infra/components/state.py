"""The guard's DynamoDB tables, laid out by the runtime's `TableKeys` (keys, TTL, indexes defined once).

Every table: on-demand, point-in-time recovery, encrypted with the guard's key, kept when the stack goes.
"""

from __future__ import annotations

from access_guard.core.config import (
    AUDIT_TABLE_KEYS,
    GRANTS_TABLE_KEYS,
    IDEMPOTENCY_TABLE_KEYS,
    STATE_TABLE_KEYS,
    TableKeys,
)
from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..iam import Allow

READ = ("dynamodb:GetItem", "dynamodb:Query")
WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
APPEND = "dynamodb:PutItem"


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class GuardTable(Construct):
    def __init__(
        self, scope: Construct, id: str, *, keys: TableKeys, key: kms.IKey, deletion_protection: bool
    ) -> None:
        super().__init__(scope, id)
        self.keys = keys
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string(keys.partition),
            sort_key=_string(keys.sort) if keys.sort else None,
            time_to_live_attribute=keys.ttl,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for name, partition, sort in keys.indexes:
            self.table.add_global_secondary_index(
                index_name=name, partition_key=_string(partition), sort_key=_string(sort)
            )

    @property
    def name(self) -> str:
        return self.table.table_name

    def _resources(self) -> list[str]:
        arns = [self.table.table_arn]
        arns += [f"{self.table.table_arn}/index/{name}" for name, _, _ in self.keys.indexes]
        return arns

    def grant(self, sid: str, *, write: bool, scan: bool = False) -> Allow:
        actions = READ + (("dynamodb:Scan",) if scan else ()) + (WRITE if write else ())
        return Allow(sid=sid, actions=actions, resources=self._resources())

    def record_canaries(self, sid: str) -> Allow:
        """Put the doctor's canary items (`canary#ID`) and no other item (dynamodb:LeadingKeys)."""
        return Allow(
            sid=sid,
            actions=[APPEND],
            resources=[self.table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["canary#*"]}},
        )

    def append(self, sid: str, *, read: bool = False) -> Allow:
        """Add records, never change or delete one (an audit trail); `read`: and page through them."""
        actions = (READ if read else ()) + (APPEND,)
        return Allow(sid=sid, actions=actions, resources=self._resources())


class StateTables(Construct):
    """idempotency (Powertools), state (locks, rate limits), grants, audit."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.idempotency = GuardTable(
            self, "Idempotency", keys=IDEMPOTENCY_TABLE_KEYS, key=key, deletion_protection=False
        )
        self.state = GuardTable(self, "State", keys=STATE_TABLE_KEYS, key=key, deletion_protection=False)
        # Grants and audit are the record of who got in and why: protected from deletion.
        self.grants = GuardTable(self, "Grants", keys=GRANTS_TABLE_KEYS, key=key, deletion_protection=True)
        self.audit = GuardTable(self, "Audit", keys=AUDIT_TABLE_KEYS, key=key, deletion_protection=True)

    @property
    def all(self) -> tuple[GuardTable, ...]:
        return (self.idempotency, self.state, self.grants, self.audit)
