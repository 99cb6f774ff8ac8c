"""Sweep: the scheduled Lambda that looks at every managed cluster (what events missed) and revokes
temporary access whose end was missed (the fallback for lost expiry schedules).

Two schedules invoke it: every few minutes the list check (`{"tier": "check"}`, the default), daily the full
read (`{"tier": "full"}`). With a work queue it fans out, one work item a cluster (each its own remediate
run); without one it runs the clusters itself."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from ..adapters.clients import client
from ..adapters.deadline import within_deadline
from ..adapters.work_queue import WorkQueue
from ..core.config import METRICS_NAMESPACE, SERVICE_NAME, TRACED_MODULES
from ..core.work import SWEEP_TIERS
from ..services.breakglass import expire_due
from ..services.sweep import fan_out, sweep
from . import wiring

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME, patch_modules=TRACED_MODULES)
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
    tier = event.get("tier", "check") if isinstance(event, dict) else "check"
    if tier not in SWEEP_TIERS:
        logger.error(f"unknown sweep tier {tier!r}: the list check runs instead")
        tier = "check"
    if w.config.work_queue_url:
        queue = WorkQueue(client("sqs", region=w.region), w.config.work_queue_url)
        items = fan_out(w.store, w.config, queue, w.region, tier=tier, at=wiring.now())
        report: dict[str, Any] = {
            "tier": tier,
            "clusters": len(items),
            "queued": [item.cluster for item in items],
            "busy": [],
            "errors": [],
        }
    else:
        report = sweep(
            wiring.enforcer(holder="sweep", metric=metric),
            w.region,
            deadline=deadline,
            tier=tier,
            eks=client("eks", region=w.region),
        ).to_json()
    if expired is not None:
        report["expiries"] = expired.to_json()
    logger.info("sweep finished", extra={"busy": report["busy"], "errors": report["errors"]})
    return report
