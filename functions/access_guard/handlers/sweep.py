"""Sweep: the scheduled Lambda that reconciles every managed cluster (what events missed) and revokes
temporary access whose end was missed (the fallback for lost expiry schedules)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from ..adapters.deadline import within_deadline
from ..core.config import METRICS_NAMESPACE, SERVICE_NAME
from ..services.breakglass import expire_due
from ..services.sweep import sweep
from . import wiring

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@within_deadline
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metric = wiring.powertools_metric(metrics)
    w = wiring.wired()
    deadline = wiring.deadline(context)
    expired = None
    if w.grants is not None:
        # First the grants whose end was missed, then every cluster.
        expired = expire_due(
            wiring.enforcer(holder="sweep", metric=metric, notify=False),
            w.grants,
            region=w.region,
            now=wiring.now(),
            notifier=w.notifier,
            metric=metric,
            deadline=deadline,
        )
    report = sweep(
        wiring.enforcer(holder="sweep", metric=metric), wiring.region(), deadline=deadline
    ).to_json()
    if expired is not None:
        report["expiries"] = expired.to_json()
    logger.info("sweep finished", extra={"busy": report["busy"], "errors": report["errors"]})
    return report
