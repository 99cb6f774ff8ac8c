"""The handlers' composition root: the service's settings from the environment, and the adapters and services
built from them.

Built once per environment: a warm Lambda reuses them, and where several functions share one process (the
local runner), each function's environment (its settings, its role's keys, its endpoint) gets its own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..adapters.clients import client
from ..core.config import Config, Env, with_parameter_settings
from ..core.deadline import Deadline

if TYPE_CHECKING:
    # The adapters and services are imported where they are built (_build, enforcer, baselines, breakglass):
    # a handler that needs only the settings, the clock or the reset (the intake) does not compile them at
    # its cold start (bench/import_time.py).
    from ..adapters.audit_table import AuditTable
    from ..adapters.baseline_store import BaselineStore
    from ..adapters.grant_schedules import GrantSchedules
    from ..adapters.grants_table import GrantsTable
    from ..adapters.notifier import Notifier
    from ..adapters.state_table import StateTable
    from ..adapters.work_queue import WorkQueue
    from ..services.breakglass import BreakGlass
    from ..services.enforce import Enforcer, MetricFn
    from ..services.reconcile import Reconciler


@dataclass(frozen=True)
class Wired:
    """What one environment configures: the settings, and an adapter for each resource it names."""

    config: Config
    region: str
    store: BaselineStore
    grants: GrantsTable | None
    state: StateTable | None
    notifier: Notifier | None
    audit: AuditTable | None
    schedules: GrantSchedules | None
    work_queue: WorkQueue | None = None  # where a run short of time hands its continuation on

    def reconciler(self) -> Reconciler:
        from ..services.reconcile import Reconciler

        return Reconciler(
            eks=client("eks", region=self.region),
            iam=client("iam", region=self.region),
            mode_update_timeout_seconds=self.config.mode_update_wait_seconds,
        )


_cold: dict[tuple[tuple[str, str], ...], Wired] = {}
_lock = threading.Lock()
_clock: Callable[[], datetime] | None = None
# How often a wait on the local services' clock looks whether the clock was moved past its end.
_LOCAL_CLOCK_POLL_SECONDS = 0.05


def now() -> datetime:
    """The services' time: real time, unless set_clock() moved it (or, on the local AWS only, the local
    services' clock is ahead: Env.LOCAL_CLOCK_FILE)."""
    if _clock is not None:
        return _clock()
    return datetime.now(UTC) + timedelta(seconds=_local_offset(os.environ.get(Env.LOCAL_CLOCK_FILE)))


def _local_offset(path: str | None) -> float:
    """Seconds the local AWS's clock is ahead of real time (local/clock.py writes the file); 0 in AWS."""
    if not path:
        return 0.0
    try:
        with open(path, encoding="ascii") as handle:
            return float(handle.read() or 0)
    except (OSError, ValueError):
        return 0.0


def _lock_clock(env: Mapping[str, str]) -> Callable[[], float]:
    """The locks' clock (epoch seconds): real time, plus the local clock's offset where there is one. Not
    set_clock()'s: a lock waits on it, and a test's clock that stands still would make the wait endless."""
    path = env.get(Env.LOCAL_CLOCK_FILE)
    if not path:
        return time.time
    return lambda: time.time() + _local_offset(path)


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """One clock for every handler's services (grant times, expiries, locks): the tests and the local runner
    move it ahead instead of waiting; None gives real time back. A clock with a `sleep(seconds)` method says
    how the services wait on it (a moved clock is moved on, not slept on)."""
    global _clock
    _clock = clock


def sleep(seconds: float) -> None:
    """The services' wait (an expiry waiting for its grant's exact end): real time, or the moved clock's."""
    moved = getattr(_clock, "sleep", None)
    if callable(moved):
        moved(seconds)
        return
    path = os.environ.get(Env.LOCAL_CLOCK_FILE)
    if not path or _clock is not None:
        time.sleep(seconds)
        return
    # On the local AWS the wait ends when the local services' clock reaches its end: real time passing, or
    # the clock moved ahead meanwhile (POST /_emulator/clock), as the rest of the local world sees it.
    end = now() + timedelta(seconds=seconds)
    while (left := (end - now()).total_seconds()) > 0:
        time.sleep(min(left, _LOCAL_CLOCK_POLL_SECONDS))


def wired(env: Mapping[str, str] | None = None) -> Wired:
    """The adapters of this environment (the process's by default), built on first use."""
    env = os.environ if env is None else env
    key = tuple(sorted((k, v) for k, v in env.items() if k.startswith(("ACCESS_GUARD_", "AWS_"))))
    with _lock:
        found = _cold.get(key)
        if found is None:
            found = _cold[key] = _build(env)
        return found


def _build(env: Mapping[str, str]) -> Wired:
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise RuntimeError("AWS_REGION is not set")
    from ..adapters.audit_table import AuditTable
    from ..adapters.baseline_store import BaselineStore
    from ..adapters.grant_schedules import GrantSchedules
    from ..adapters.grants_table import GrantsTable
    from ..adapters.notifier import Notifier
    from ..adapters.state_table import StateTable
    from ..adapters.work_queue import WorkQueue

    config = Config.from_env(with_settings(env, region))
    dynamodb = client("dynamodb", region=region)
    schedules = None
    if config.schedule_group and config.scheduler_role_arn and config.expiry_function_arn:
        schedules = GrantSchedules(
            client("scheduler", region=region),
            group=config.schedule_group,
            role_arn=config.scheduler_role_arn,
            target_arn=config.expiry_function_arn,
        )
    return Wired(
        config=config,
        region=region,
        store=BaselineStore(client("ssm", region=region), prefix=config.prefix),
        grants=GrantsTable(dynamodb, config.grants_table) if config.grants_table else None,
        state=StateTable(dynamodb, config.state_table, clock=_lock_clock(env))
        if config.state_table
        else None,
        notifier=Notifier(client("sns", region=region), config.topic_arn) if config.topic_arn else None,
        audit=AuditTable(dynamodb, config.audit_table) if config.audit_table else None,
        schedules=schedules,
        work_queue=WorkQueue(client("sqs", region=region), config.work_queue_url)
        if config.work_queue_url
        else None,
    )


def with_settings(env: Mapping[str, str], region: str) -> Mapping[str, str]:
    """`env` with the settings the deployment keeps under its settings path, read from SSM when it names
    one: the cluster and on-call lists, kept out of Lambda's 4 KB environment (PARAMETER_SETTINGS)."""
    path = (env.get(Env.SETTINGS_PATH) or "").strip()
    if not path:
        return env
    pages = client("ssm", region=region).get_paginator("get_parameters_by_path").paginate(Path=path)
    found = sorted((p["Name"], p["Value"]) for page in pages for p in page["Parameters"])
    return with_parameter_settings(env, [value for _, value in found])


def config() -> Config:
    return wired().config


def region() -> str:
    return wired().region


def enforcer(
    *,
    holder: str,
    metric: MetricFn | None = None,
    clock: Callable[[], datetime] | None = None,
    notify: bool = True,
    env: Mapping[str, str] | None = None,
) -> Enforcer:
    """The Enforcer of this environment. `notify=False` leaves the notes to the caller (break glass)."""
    from ..services.enforce import Enforcer

    w = wired(env)
    return Enforcer(
        store=baselines(metric=metric, clock=clock or now, env=env),
        reconciler=w.reconciler(),
        config=w.config,
        state=w.state,
        grants=w.grants,
        notifier=w.notifier if notify else None,
        metric=metric,
        clock=clock or now,
        holder=holder,
        audit=w.audit,
        continuations=w.work_queue,
    )


def baselines(
    *,
    metric: MetricFn | None = None,
    clock: Callable[[], datetime] | None = None,
    env: Mapping[str, str] | None = None,
) -> BaselineStore:
    """The baseline store every service reads through: with the deployment's baseline key configured, the
    trusted one (refuses parameters from outside the boundary, tells every change, holds new admins)."""
    w = wired(env)
    if w.config.baseline_key_arn is None:
        return w.store
    from ..adapters.trusted_copies import TrustedCopies
    from ..services.baselines import TrustedBaselines

    return TrustedBaselines(
        client("ssm", region=w.region),
        prefix=w.config.prefix,
        trusted_key_arn=w.config.baseline_key_arn,
        copies=TrustedCopies(client("dynamodb", region=w.region), w.config.state_table)
        if w.config.state_table
        else None,
        notifier=w.notifier,
        metric=metric,
        clock=clock or now,
        hold_new_admins_minutes=w.config.hold_new_admins_minutes,
    )


def breakglass(
    *,
    holder: str,
    clock: Callable[[], datetime] = now,
    metric: MetricFn | None = None,
    logger: Any = None,
    lock_wait_seconds: float | None = None,
    env: Mapping[str, str] | None = None,
) -> BreakGlass:
    """The break-glass service of this environment (what it does not configure, it does not use: the expiry
    makes no schedules). `lock_wait_seconds`: the API's (API_LOCK_WAIT_SECONDS) unless given."""
    from ..services.breakglass import API_LOCK_WAIT_SECONDS, BreakGlass

    if lock_wait_seconds is None:
        lock_wait_seconds = API_LOCK_WAIT_SECONDS
    w = wired(env)
    if w.grants is None:
        raise ValueError("the grants table is not configured (ACCESS_GUARD_GRANTS_TABLE)")
    return BreakGlass(
        enforcer=enforcer(holder=holder, metric=metric, clock=clock, notify=False, env=env),
        grants=w.grants,
        config=w.config,
        region=w.region,
        audit=w.audit,
        schedules=w.schedules,
        state=w.state,
        notifier=w.notifier,
        metric=metric,
        clock=clock,
        logger=logger,
        lock_wait_seconds=lock_wait_seconds,
        sleep=sleep,
    )


def deadline(context: Any, *, cap: float | None = None, reserve: float = 2.0) -> Deadline:
    """The run's deadline from the Lambda context (its remaining time, less `reserve` to answer and flush
    metrics), capped at `cap` seconds (API Gateway's 29 s for the API); `cap` alone without a context."""
    remaining = None
    get = getattr(context, "get_remaining_time_in_millis", None)
    if callable(get):
        try:
            remaining = float(get()) / 1000.0 - reserve
        except (TypeError, ValueError):
            remaining = None
    if remaining is None:
        remaining = cap if cap is not None else 900.0
    elif cap is not None:
        remaining = min(remaining, cap)
    return Deadline.after(max(0.0, remaining), time.monotonic)


# What a handler built at its cold start outside this module (module name -> its forget function): a reset
# forgets it too, so no handler keeps clients made before it.
_forgetters: dict[str, Callable[[], None]] = {}


def forget_on_reset(module: str, forget: Callable[[], None]) -> None:
    """Have `reset()` call `forget` (one per handler module; a module imported again replaces its own)."""
    with _lock:
        _forgetters[module] = forget


def reset() -> None:
    """Forget every environment's adapters, what the handlers built at their cold starts, and the client
    cache (the endpoint or the credentials moved: tests, the runner)."""
    from ..adapters.clients import clear_cache

    with _lock:
        _cold.clear()
        forgetters = list(_forgetters.values())
    for forget in forgetters:
        forget()
    clear_cache()


def powertools_metric(metrics: object) -> Callable[[str, float, str], None]:
    """The services' `metric(name, value, unit)` as a Powertools Metrics call."""
    from aws_lambda_powertools.metrics import MetricUnit

    def add(name: str, value: float, unit: str) -> None:
        discard_when_disabled(metrics)
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)  # type: ignore[attr-defined]

    return add


def discard_when_disabled(metrics: object) -> None:
    """With POWERTOOLS_METRICS_DISABLED, Powertools never flushes (nor clears) the metrics, yet prints them
    once a metric holds 100 values, whatever the setting: drop them, so a local run or a benchmark prints
    nothing. (Every Metrics object of the process shares one set, so any handler's call bounds it.)"""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        metrics.clear_metrics()  # type: ignore[attr-defined]
