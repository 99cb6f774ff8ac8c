"""Remediate: the Lambda behind the FIFO work queue (one message group per cluster).

Each record is a work item the intake queued: one cluster, whole or some principals. The handler checks it
at the edge, then hands it to the Enforcer (which reads the live state, never the event's claim). Powertools
throughout: the CloudTrail event id is the correlation id; `SqsFifoPartialProcessor` fails only the failed
record's group, so other clusters go on; idempotency (keyed on the event, region, cluster and principals,
with the Lambda context registered so a timed-out run does not block its retry) processes a work item once
even when it is delivered twice. A record that will never parse is logged and dropped, not retried.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
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

from ..adapters.deadline import within_deadline
from ..core.config import METRICS_NAMESPACE, SERVICE_NAME, Env
from ..core.report import Trigger
from ..core.work import WorkItem, WorkItemError
from ..services.enforce import report_json
from . import wiring

# CloudTrail may deliver an event again long after the first time: remember work items for a day.
IDEMPOTENCY_SECONDS = 86_400
# A cluster another run holds is not waited for: a pending mark makes the holder run again for this item.
LOCK_WAIT_SECONDS = 2.0

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
idempotency = IdempotencyConfig(
    event_key_jmespath="[event_id, region, cluster, principals]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_SECONDS,
)
_context: Any = None  # this invocation's Lambda context: its remaining time is the runs' deadline
persistence = DynamoDBPersistenceLayer(table_name=os.environ.get(Env.IDEMPOTENCY_TABLE) or "unset")


@idempotent_function(data_keyword_argument="work", config=idempotency, persistence_store=persistence)
def remediate(work: dict[str, Any]) -> dict[str, Any]:
    item = WorkItem.from_json(work)
    trigger = Trigger(
        kind=item.trigger,
        reason=item.reason,
        event_id=item.event_id,
        event_time=datetime.fromisoformat(item.event_time),
        actor=item.actor,
    )
    enforcer = wiring.enforcer(holder="remediate", metric=wiring.powertools_metric(metrics))
    report = enforcer.run(
        item.cluster,
        item.region,
        trigger=trigger,
        principals=item.principals,
        lock_wait_seconds=LOCK_WAIT_SECONDS,
        deadline=wiring.deadline(_context),
        when_busy="mark",  # never fail the item for a busy cluster: its FIFO group would stall
    )
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
    return remediate(work=item.to_json())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@within_deadline
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    global _context
    _context = context
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
