"""The handlers' composition root: the service's settings from the environment, and the adapters and
services built from them once per container (warm invocations reuse them; `reset()` forgets them, for the
local runner and tests that move the environment)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache

from ..adapters.baseline_store import BaselineStore
from ..adapters.clients import client
from ..adapters.grants_table import GrantsTable
from ..adapters.notifier import Notifier
from ..adapters.state_table import StateTable
from ..core.config import Config
from ..services.enforce import Enforcer, MetricFn
from ..services.reconcile import Reconciler


@cache
def config() -> Config:
    return Config.from_env(os.environ)


def region() -> str:
    """The service's region: Lambda sets AWS_REGION (the local runner too)."""
    value = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not value:
        raise RuntimeError("AWS_REGION is not set")
    return value


@cache
def store() -> BaselineStore:
    return BaselineStore(client("ssm", region=region()), prefix=config().prefix)


@cache
def grants() -> GrantsTable | None:
    table = config().grants_table
    return GrantsTable(client("dynamodb", region=region()), table) if table else None


@cache
def state() -> StateTable | None:
    table = config().state_table
    return StateTable(client("dynamodb", region=region()), table) if table else None


@cache
def notifier() -> Notifier | None:
    topic = config().topic_arn
    return Notifier(client("sns", region=region()), topic) if topic else None


def enforcer(*, holder: str, metric: MetricFn | None = None) -> Enforcer:
    settings = config()
    reconciler = Reconciler(
        eks=client("eks", region=region()),
        iam=client("iam", region=region()),
        mode_update_timeout_seconds=settings.mode_update_wait_seconds,
    )
    return Enforcer(
        store=store(),
        reconciler=reconciler,
        config=settings,
        state=state(),
        grants=grants(),
        notifier=notifier(),
        metric=metric,
        holder=holder,
    )


def reset() -> None:
    """Forget every cached setting and adapter (the environment or the endpoint moved)."""
    from ..adapters.clients import clear_cache

    for cached in (config, store, grants, state, notifier):
        cached.cache_clear()
    clear_cache()


def powertools_metric(metrics: object) -> Callable[[str, float, str], None]:
    """The services' `metric(name, value, unit)` as a Powertools Metrics call."""
    from aws_lambda_powertools.metrics import MetricUnit

    def add(name: str, value: float, unit: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)  # type: ignore[attr-defined]

    return add
