"""Remediate: the Lambda behind the FIFO work queue (one message group per cluster).

Each record is a work item the intake queued: one cluster, whole or some principals. The handler checks it
at the edge, then hands it to the Enforcer (which reads the live state, never the event's claim). Powertools
throughout: the CloudTrail event id is the correlation id; `SqsFifoPartialProcessor` fails only the failed
record's group, so other clusters go on; idempotency (keyed on the event, region, cluster and principals,
with the Lambda context registered so a timed-out run does not block its retry) processes a work item once
even when it is delivered twice. A record that will never parse is logged and dropped, not retried.

Flood resistance: a work item about a change that a later run already saw (its principals, or its cluster,
verified at their desired state by a run that started after the event: the state table's verifications) is
settled without an EKS call; a batch's items for one cluster are done by one run (the union of their
principals: the run starts after every one of them was queued), and the batch's duplicates are dropped. A
sweep's list-check item runs the list tier (services.sweep.check_cluster).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from ..adapters.clients import client
from ..adapters.deadline import within_deadline
from ..core.config import METRICS_NAMESPACE, SERVICE_NAME, TRACED_MODULES, Env
from ..core.work import (
    COALESCED_TRIGGERS,
    SETTLED_TRIGGERS,
    SWEEP_CHECK,
    WorkItem,
    WorkItemError,
    coalesce,
    settled_by,
    trigger_of,
)
from ..services.enforce import report_json
from ..services.sweep import check_cluster
from . import wiring

# CloudTrail may deliver an event again long after the first time: remember work items for a day.
IDEMPOTENCY_SECONDS = 86_400
# A cluster another run holds is not waited for: a pending mark makes the holder run again for this item.
LOCK_WAIT_SECONDS = 2.0

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME, patch_modules=TRACED_MODULES)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
idempotency = IdempotencyConfig(
    event_key_jmespath="[event_id, region, cluster, principals]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_SECONDS,
)
_context: Any = None  # this invocation's Lambda context: its remaining time is the runs' deadline


class _IdempotencyStore(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB idempotency store on the product's client factory. Its client is made at the
    first record, not at import (Powertools' own, from a session of its own, cost ~110 ms of the cold start's
    import: bench/import_time.py), and is the DynamoDB client the wiring's tables use (one a cold start, not
    two), with the product's retry budget; wiring.reset() makes it afresh like every other client."""

    _built = False

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name=table_name, boto3_client=_LATER)
        self._built = True

    @property  # type: ignore[override]
    def client(self) -> Any:
        if not self._built:  # Powertools' __init__ tags its client's user agent: there is none yet
            return _LATER
        return client("dynamodb", region=wiring.region())

    @client.setter
    def client(self, _given: Any) -> None:
        """Powertools' __init__ keeps the client it was given: this store reads the factory's at each call."""


_LATER = object()  # no client given to Powertools: the store makes its own (_IdempotencyStore.client)
persistence = _IdempotencyStore(table_name=os.environ.get(Env.IDEMPOTENCY_TABLE) or "unset")


@dataclass
class Batch:
    """What one invocation's batch shares: one run per cluster, and the verifications read for it."""

    items: list[WorkItem] = field(default_factory=list)
    runs: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # group -> principals (None: all)
    done: dict[str, str] = field(default_factory=dict)  # group -> the event id whose run did the group
    verified: dict[str, dict[str | None, float]] = field(default_factory=dict)  # group -> verifications

    def verifications(self, item: WorkItem) -> dict[str | None, float]:
        if item.group_id not in self.verified:
            state = wiring.wired().state
            mine = {p for i in [*self.items, item] if i.group_id == item.group_id for p in i.principals or ()}
            self.verified[item.group_id] = (
                state.verified(item.cluster, item.region, sorted(mine)) if state is not None else {}
            )
        return self.verified[item.group_id]


_local = threading.local()  # the batch of this invocation (the local runner runs several in threads)


def _batch() -> Batch:
    """The handler's batch; outside a batch (a direct call), a batch of this item alone."""
    batch = getattr(_local, "batch", None)
    return batch if batch is not None else Batch()


def _skip(item: WorkItem, why: str) -> dict[str, Any]:
    result = {"cluster": item.cluster, "region": item.region, "skipped": why, "outcome": None}
    logger.info(f"settled: {why}", extra={"result": result})
    return result


@idempotent_function(data_keyword_argument="work", config=idempotency, persistence_store=persistence)
def remediate(work: dict[str, Any]) -> dict[str, Any]:
    item = WorkItem.from_json(work)
    batch = _batch()
    trigger = trigger_of(item, batch.items)  # a coalesced run tells the changes of the items it does
    enforcer = wiring.enforcer(holder="remediate", metric=wiring.powertools_metric(metrics))
    if item.trigger == "sweep" and item.event_name == SWEEP_CHECK:
        report, _ = check_cluster(
            enforcer,
            client("eks", region=item.region),
            item.cluster,
            item.region,
            trigger=trigger,
            lock_wait_seconds=LOCK_WAIT_SECONDS,
            deadline=wiring.deadline(_context),
        )
        result = report_json(report)
        done = "list check" if report.outcome else f"skipped: {report.skipped}"
        logger.info(done, extra={"result": result})
        return result
    group = item.group_id
    state = wiring.wired().state
    principals = item.principals
    if item.trigger in COALESCED_TRIGGERS:
        principals = batch.runs.get(group, principals)
    started = time.time()  # real time, as CloudTrail's: a moved services' clock must not settle anything
    report = enforcer.run(
        item.cluster,
        item.region,
        trigger=trigger,
        principals=principals,
        lock_wait_seconds=LOCK_WAIT_SECONDS,
        deadline=wiring.deadline(_context),
        when_busy="mark",  # never fail the item for a busy cluster: its FIFO group would stall
    )
    if item.trigger in COALESCED_TRIGGERS:
        batch.done[group] = item.event_id
    if state is not None and report.outcome is not None and report.outcome.reached_baseline:
        state.record_verified(item.cluster, item.region, at=started, principals=principals)
    result = report_json(report)
    logger.info("remediated" if report.outcome else f"skipped: {report.skipped}", extra={"result": result})
    return result


def record_handler(record: SQSRecord) -> dict[str, Any] | None:
    try:
        work = json.loads(record.body)
        item = WorkItem.from_json(work)
    except (ValueError, WorkItemError) as exc:
        logger.error("dropped a work item that can never be processed", extra={"why": str(exc)[:500]})
        return None
    logger.set_correlation_id(item.event_id)
    logger.append_keys(cluster=item.cluster, region=item.region, trigger=item.trigger)
    settled = _settled(item)
    if settled is not None:
        return settled  # nothing to do, so nothing to remember: no idempotency record either
    return remediate(work=item.to_json())


def _settled(item: WorkItem) -> dict[str, Any] | None:
    """Why this item needs no run (this batch's run of its cluster did it, or a run that started after its
    change found its principals or cluster at their desired state), as its result; None when it needs one."""
    batch = _batch()
    group = item.group_id
    if item.trigger in COALESCED_TRIGGERS and group in batch.done:
        return _skip(item, f"done by this batch's run of {item.cluster} (work item of {batch.done[group]})")
    verifiable = item.trigger in SETTLED_TRIGGERS and wiring.wired().state is not None
    if verifiable and settled_by(item, batch.verifications(item)):
        return _skip(item, f"{item.cluster} was verified at its desired state after this change")
    return None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@within_deadline
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    global _context
    _context = context
    idempotency.register_lambda_context(context)
    _local.batch = batch = Batch(items=_parsed(event))
    batch.runs = coalesce(batch.items)
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        _local.batch = None


def _parsed(event: dict[str, Any]) -> list[WorkItem]:
    """The batch's work items that parse (the others are dropped by record_handler, one by one)."""
    items = []
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        try:
            items.append(WorkItem.from_json(record.get("body", "")))
        except (WorkItemError, AttributeError):
            continue
    return items
