"""Lambda entry point of the intake queue: EventBridge events in (one per SQS record), per-cluster work out.

Each record's body is one EventBridge event. It is parsed at the edge (`core.events.parse`: a body that
is not JSON, or not an event the guard acts on, is logged and acknowledged: it will never parse), then the
intake service resolves it and queues the work. An AWS error (SSM, EKS, SQS) raises, so that record is
reported failed and comes back (partial batch response); the other records of the batch are done.
"""

from __future__ import annotations

import os
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
from ..adapters.work_queue import WorkQueue
from ..core import config as settings
from ..core import events
from ..core.config import Config, ConfigError, Env
from ..core.report import notice_note
from ..services.intake import Intake

logger = Logger(service=settings.SERVICE_NAME)
tracer = Tracer(service=settings.SERVICE_NAME)
metrics = Metrics(namespace=settings.METRICS_NAMESPACE, service=settings.SERVICE_NAME)
processor = BatchProcessor(event_type=EventType.SQS)


@dataclass(frozen=True)
class ColdStart:
    """What one execution environment reads once."""

    config: Config
    account: str
    region: str
    intake: Intake
    notifier: Notifier | None = None  # for the notices (a cluster no longer managed): not alarms


_cold: ColdStart | None = None


def _setup(context: Any) -> ColdStart:
    global _cold
    if _cold is None:
        config = Config.from_env(os.environ)
        if config.work_queue_url is None:
            raise ConfigError([f"{Env.WORK_QUEUE_URL} is not set"])
        region = os.environ["AWS_REGION"]
        account = os.environ.get(Env.ACCOUNT_ID) or context.invoked_function_arn.split(":")[4]
        store = BaselineStore(clients.client("ssm", region=region), prefix=config.prefix)
        queue = WorkQueue(clients.client("sqs", region=region), config.work_queue_url)
        eks = clients.client("eks", region=region)
        intake = Intake(store=store, eks=eks, queue=queue, config=config, region=region)
        topic = config.topic_arn
        notifier = Notifier(clients.client("sns", region=region), topic) if topic else None
        _cold = ColdStart(config, account, region, intake, notifier)
    return _cold


def reset() -> None:
    """Forget what the cold start read (tests; the local runner between environments)."""
    global _cold
    _cold = None


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    assert _cold is not None  # the handler set it up
    intent = events.parse(
        record.body,
        account=_cold.account,
        region=_cold.region,
        prefix=_cold.config.prefix,
        self_roles=_cold.config.self_role_arns,
    )
    logger.append_keys(event_id=intent.event_id)
    logger.set_correlation_id(intent.event_id)
    resolution = _cold.intake.handle(intent)
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
        metrics.add_metric(
            name=settings.Metrics.WORK_ITEMS_QUEUED, unit=MetricUnit.Count, value=len(resolution.work)
        )
    else:
        logger.info(f"dropped: {resolution.dropped}")
        metrics.add_metric(name=settings.Metrics.EVENTS_DROPPED, unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    _setup(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
