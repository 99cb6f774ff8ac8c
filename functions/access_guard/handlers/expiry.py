"""Lambda entry point of a grant's end: EventBridge Scheduler invokes it with {cluster, region, grantId}.

It re-reads the grant from the grants table and revokes it only if it is due (a grant revoked early, or
not yet over, is left alone). A revocation that fails raises: Lambda retries the event, and the sweep
revokes it if every retry fails; each failure is recorded on the grant, counted and alarmed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from ..core.config import METRICS_NAMESPACE, SERVICE_NAME, TRACED_MODULES
from ..services.breakglass import BreakGlass
from . import wiring

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME, patch_modules=TRACED_MODULES)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def service() -> BreakGlass:
    """The service of this function's environment (built once per environment by the composition root)."""
    return wiring.breakglass(holder="grant-expiry", metric=wiring.powertools_metric(metrics), logger=logger)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    fields = [event.get(k) if isinstance(event, dict) else None for k in ("cluster", "region", "grantId")]
    cluster, region, grant_id = (f if isinstance(f, str) else "" for f in fields)
    if not (cluster and region and grant_id):
        logger.error(f"not a grant expiry event (cluster, region, grantId): {event!r:.500}")
        return {"result": "ignored: not a grant expiry event"}  # it would never parse: no retry
    logger.append_keys(cluster=cluster, grant_id=grant_id)
    logger.set_correlation_id(grant_id)
    # RevocationFailed raises: Lambda retries
    done = service().expire(cluster, region, grant_id, deadline=wiring.deadline(context))
    logger.info(done)
    return {"grantId": grant_id, "result": done}
