"""Lambda entry point of the intake queue: EventBridge events in (one per SQS record), per-cluster work out.

Each record's body is one EventBridge event. It is parsed at the edge (`core.events.parse`: a body that
is not JSON, or not an event the guard acts on, is logged and acknowledged: it will never parse), then the
intake service resolves it. An AWS error (SSM, EKS) raises, so that record is reported failed and comes back
(partial batch response); the other records of the batch are done.

The batch's work is queued once, after its records (flood resistance): duplicates dropped (an event
delivered twice in one batch, the same work twice), and the items for the same cluster and principals
merged into the latest of them (one run reads the cluster after all of their changes). If SQS refuses any,
the invocation fails and the whole batch comes back (the deduplication ids absorb what went).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ..adapters import clients
from ..adapters.baseline_store import BaselineStore
from ..adapters.notifier import Notifier
from ..adapters.state_table import StateTable
from ..adapters.work_queue import WorkQueue, WorkQueueError
from ..core import config as settings
from ..core import events, triggers
from ..core.config import Config, ConfigError, Env
from ..core.report import notice_note
from ..core.work import WorkItem, merge_key, merge_work
from ..services.intake import Intake
from . import wiring

logger = Logger(service=settings.SERVICE_NAME)
tracer = Tracer(service=settings.SERVICE_NAME, patch_modules=settings.TRACED_MODULES)
metrics = Metrics(namespace=settings.METRICS_NAMESPACE, service=settings.SERVICE_NAME)
processor = BatchProcessor(event_type=EventType.SQS)


@dataclass(frozen=True)
class ColdStart:
    """What one execution environment reads once."""

    config: Config
    account: str
    region: str
    intake: Intake
    state: StateTable | None = None  # where the doctor's canaries are recorded
    notifier: Notifier | None = None  # for the notices (a cluster no longer managed): not alarms


_cold: ColdStart | None = None


def _setup(context: Any) -> ColdStart:
    global _cold
    if _cold is None:
        region = os.environ["AWS_REGION"]
        config = Config.from_env(wiring.with_settings(os.environ, region))
        if config.work_queue_url is None:
            raise ConfigError([f"{Env.WORK_QUEUE_URL} is not set"])
        account = os.environ.get(Env.ACCOUNT_ID) or context.invoked_function_arn.split(":")[4]
        store = BaselineStore(clients.client("ssm", region=region), prefix=config.prefix)
        queue = WorkQueue(clients.client("sqs", region=region), config.work_queue_url)
        eks = clients.client("eks", region=region)
        intake = Intake(store=store, eks=eks, queue=queue, config=config, region=region)
        state = None
        if config.state_table:
            state = StateTable(clients.client("dynamodb", region=region), config.state_table)
        topic = config.topic_arn
        notifier = Notifier(clients.client("sns", region=region), topic) if topic else None
        _cold = ColdStart(config, account, region, intake, state, notifier)
    return _cold


def reset() -> None:
    """Forget what the cold start read (tests; the local runner between environments; wiring.reset())."""
    global _cold
    _cold = None


wiring.forget_on_reset(__name__, reset)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    assert _cold is not None  # the handler set it up
    wiring.discard_when_disabled(metrics)
    canary = _canary(record.body)
    if canary is not None and _cold.state is not None:
        _cold.state.record_canary(canary)  # the doctor's proof that the event path delivers
        logger.info(f"canary {canary} received")
        return
    intent = events.parse(
        record.body,
        account=_cold.account,
        region=_cold.region,
        prefix=_cold.config.prefix,
        self_roles=_cold.config.self_role_arns,
    )
    logger.append_keys(event_id=intent.event_id)
    logger.set_correlation_id(intent.event_id)
    resolution = _cold.intake.resolve(intent)
    if resolution.notice:
        logger.warning(f"notice: {resolution.notice}")
        if _cold.notifier is not None:
            _cold.notifier.publish(notice_note(intent, resolution.notice))
    if resolution.alert:
        logger.warning(f"alert: {resolution.alert}")
        metrics.add_metric(name=settings.Metrics.BASELINE_DELETED, unit=MetricUnit.Count, value=1)
    if resolution.work:
        groups = ", ".join(sorted({item.group_id for item in resolution.work}))
        logger.info(
            f"queued {len(resolution.work)} work item(s) for {groups}: {resolution.work[0].reason}",
            extra={"work": [item.to_json() for item in resolution.work]},
        )
        # queued with the batch's other work, after the records
        _batch.work.extend((record.message_id, item) for item in resolution.work)
    else:
        logger.info(f"dropped: {resolution.dropped}")
        metrics.add_metric(name=settings.Metrics.EVENTS_DROPPED, unit=MetricUnit.Count, value=1)


def _canary(body: str) -> str | None:
    if len(body) > 4096 or '"' + triggers.CANARY_SOURCE + '"' not in body:
        return None  # not the doctor's canary: left to the event parser, which refuses what it cannot read
    try:
        return triggers.canary_id(json.loads(body))
    except (ValueError, RecursionError):
        return None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    cold = _setup(context)
    _batch.work = []
    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return _queue(cold, response)
    finally:
        _batch.work = []


def _queue(cold: ColdStart, response: PartialItemFailureResponse) -> PartialItemFailureResponse:
    """Send the batch's merged work; the records whose work SQS refused join the batch's failures."""
    items = [item for _, item in _batch.work]
    work = merge_work(items)
    if not work:
        return response
    if cold.intake.queue is None:
        raise RuntimeError("this intake has no work queue to send to")
    try:
        cold.intake.queue.send(work)
        refused: set[tuple[str, tuple[str, ...] | None, str]] = set()
    except WorkQueueError as exc:
        logger.exception("some work was not queued: its records come back")
        refused = {merge_key(item) for item, _, _ in exc.failures}
    except Exception:
        logger.exception("the batch's work was not queued: its records come back")
        refused = {merge_key(item) for item in work}
    failed = {m for m, item in _batch.work if merge_key(item) in refused}
    listed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    response["batchItemFailures"].extend({"itemIdentifier": m} for m in sorted(failed - listed))
    sent = len(work) - len(refused)
    metrics.add_metric(name=settings.Metrics.WORK_ITEMS_QUEUED, unit=MetricUnit.Count, value=sent)
    if len(work) < len(items):
        logger.info(f"merged {len(items)} work items into {len(work)} (same cluster and principals)")
    return response


class _Batch(threading.local):
    work: list[tuple[str, WorkItem]]  # (the record's message id, the work it asks for)

    def __init__(self) -> None:
        self.work = []


_batch = _Batch()
