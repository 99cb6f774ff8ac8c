"""Enforce: bring one cluster to its desired state (baseline plus active grants) and tell its owners.

The one use case behind every writer of the service after the CLI: remediation of an event, the sweep, a
break-glass restore, a grant and its end. It reads the stored baseline (an absent one means the cluster is
not managed; an unreadable one is an alert and changes nothing), merges the cluster's grants, takes the
cluster's lock (one writer at a time, whatever the writer), reconciles through `Reconciler` (so through the
safety module), records which ended grants are now revoked (a revocation that did not happen is kept, noted
and alarmed, and tried again by the next run), publishes a note and counts the metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..adapters.audit_table import AuditTable
from ..adapters.baseline_store import BaselineNotFound, BaselineStore, BaselineUnreadable
from ..adapters.grants_table import GrantsTable
from ..adapters.notifier import Notifier
from ..adapters.state_table import StateTable
from ..core import safety
from ..core.breakglass import AuditRecord, describe_grant, grant_end_record
from ..core.config import Config, Metrics
from ..core.grants import Desired, Grant, desired_state
from ..core.history import run_record
from ..core.model import Baseline
from ..core.outcome import Outcome
from ..core.report import Notification, Trigger, alert_note, run_note
from .reconcile import Reconciler

# metric(name, value, unit): the handlers pass Powertools Metrics; tests a list.
MetricFn = Callable[[str, float, str], None]


@dataclass
class RunReport:
    cluster: str
    region: str
    outcome: Outcome | None = None
    skipped: str | None = None  # why nothing was done (not managed; baseline unreadable)
    notes: list[Notification] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)  # grant ids now revoked
    revocation_failures: list[str] = field(default_factory=list)  # one line per grant still not revoked


class Enforcer:
    def __init__(
        self,
        *,
        store: BaselineStore,
        reconciler: Reconciler,
        config: Config,
        state: StateTable | None = None,
        grants: GrantsTable | None = None,
        notifier: Notifier | None = None,
        metric: MetricFn | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        holder: str = "guard",
        audit: AuditTable | None = None,
    ) -> None:
        self.store = store
        self.reconciler = reconciler
        self.config = config
        self.state = state
        self.grants = grants
        self.notifier = notifier
        self._metric = metric or (lambda name, value, unit: None)
        self._clock = clock
        self._holder = holder
        self.audit = audit  # every grant whose access a run takes away joins the audit trail

    def desired(self, cluster: str, region: str) -> Desired:
        """The cluster's baseline with its grants merged (BaselineNotFound / BaselineUnreadable raise)."""
        baseline = self.store.get(cluster, region)
        grants = self.grants.for_cluster(cluster, region) if self.grants is not None else []
        return desired_state(baseline, grants, self._clock())

    def run(
        self,
        cluster: str,
        region: str,
        *,
        trigger: Trigger,
        principals: Iterable[str] | None = None,
        dry_run: bool = False,
        lock_seconds: float = 600.0,
        lock_wait_seconds: float = 0.0,
    ) -> RunReport:
        """Reconcile one cluster to its desired state; `principals` limits the run to them (targeted)."""
        report = RunReport(cluster, region)
        try:
            desired = self.desired(cluster, region)
        except BaselineNotFound:
            report.skipped = f"{cluster} ({region}) has no baseline: not managed"
            return report
        except BaselineUnreadable as exc:
            report.skipped = f"the baseline of {cluster} ({region}) cannot be used: {exc}"
            self._publish(
                report, alert_note(cluster, region, "baseline unreadable: nothing changed", str(exc))
            )
            self._metric(Metrics.FAILURES, 1, "Count")
            return report
        detect = dry_run or self.config.detect_only or desired.baseline.settings.mode == "detect"
        target = _detect(desired.baseline) if detect else desired.baseline
        lock = (
            self.state.lock(
                cluster, region, holder=self._holder, seconds=lock_seconds, wait_seconds=lock_wait_seconds
            )
            if self.state is not None and not detect
            else nullcontext()
        )
        with lock:
            outcome = self.reconciler.apply(target, only=principals)
        report.outcome = outcome
        if not detect:
            covered = None if principals is None else frozenset(principals)
            self._settle_grants(report, desired, outcome, covered, trigger)
        note = run_note(trigger, outcome, detect=detect)
        if note is not None and not dry_run:
            self._publish(report, note)
        record = run_record(cluster, region, trigger, outcome, at=self._clock(), detect=detect)
        if record is not None and not dry_run:
            self._put_audit(record)  # the history of what the guard did on its own
        self._count(trigger, outcome, detect)
        return report

    # --- grants ------------------------------------------------------------------------------------------
    def _settle_grants(
        self,
        report: RunReport,
        desired: Desired,
        outcome: Outcome,
        covered: frozenset[str] | None,
        trigger: Trigger,
    ) -> None:
        """Ended grants whose access is gone are revoked; the others keep their place, with the reason.
        A targeted run settles only the grants of the principals it covered."""
        if self.grants is None or not desired.ending:
            return
        unfinished = {safety.target(a) for a in outcome.unfinished}
        stopped = outcome.error is not None or outcome.in_progress is not None or not outcome.applied
        for grant in desired.ending:
            if covered is not None and grant.principal_arn not in covered:
                continue
            if not stopped and grant.principal_arn not in unfinished:
                self.grants.mark_revoked(grant, at=self._clock())
                report.revoked.append(grant.grant_id)
                if trigger.kind != "revoke":  # an early revoke's own call is audited with its outcome
                    self._audit_end(grant, f"by {self._holder} ({trigger.kind}: {trigger.reason})")
                continue
            why = _why_not_revoked(grant, outcome)
            self.grants.save(replace(grant, revocation_error=why))
            report.revocation_failures.append(f"grant {grant.grant_id} of {grant.principal_arn}: {why}")
            self._metric(Metrics.REVOCATION_FAILURES, 1, "Count")
        if report.revocation_failures:
            detail = "\n".join(report.revocation_failures) + "\nGuard tries again on the next run (sweep)."
            self._publish(
                report, alert_note(report.cluster, report.region, "temporary access not yet revoked", detail)
            )

    def _put_audit(self, record: AuditRecord) -> None:
        if self.audit is None:
            return
        try:
            self.audit.put(record)
        except Exception:  # the run has happened: say so loudly, and go on
            logging.getLogger(__name__).exception(f"the audit record {record.request_id} was not written")

    def _audit_end(self, grant: Grant, how: str) -> None:
        if self.audit is None:
            return
        line = f"access of grant {grant.grant_id} removed {how}: {describe_grant(grant)}"
        request_id = f"end-{grant.grant_id}"
        record = grant_end_record(grant, at=self._clock(), ok=True, line=line, request_id=request_id)
        try:
            self.audit.put(record)
        except Exception:  # the access is gone: say so loudly, and go on
            logging.getLogger(__name__).exception(
                f"the audit record of grant {grant.grant_id} was not written"
            )

    # --- telling -----------------------------------------------------------------------------------------
    def _publish(self, report: RunReport, note: Notification) -> None:
        report.notes.append(note)
        if self.notifier is not None:
            self.notifier.publish(note)

    def _count(self, trigger: Trigger, outcome: Outcome, detect: bool) -> None:
        drift = bool(outcome.plan.actions or outcome.plan.refusals)
        if drift:
            self._metric(Metrics.DRIFT_DETECTED, 1, "Count")
        if detect:
            return
        self._metric(Metrics.ACTIONS_APPLIED, len(outcome.written), "Count")
        if not outcome.succeeded:
            self._metric(Metrics.FAILURES, 1, "Count")
        if outcome.refusals:
            self._metric(Metrics.REFUSED_STEPS, len(outcome.refusals), "Count")
        if drift and trigger.event_time is not None:
            delay = (self._clock() - trigger.event_time).total_seconds()
            self._metric(Metrics.REMEDIATION_DELAY, max(0.0, delay), "Seconds")


def _detect(baseline: Baseline) -> Baseline:
    return replace(baseline, settings=replace(baseline.settings, mode="detect"))


def _why_not_revoked(grant: Grant, outcome: Outcome) -> str:
    for refusal in outcome.refusals:
        if grant.principal_arn in refusal:
            return refusal
    for result in outcome.results:
        if not result.ok and safety.target(result.action) == grant.principal_arn:
            return result.error or "the write failed"
    return outcome.error or outcome.in_progress or "the run did not reach it"


def report_json(report: RunReport) -> dict[str, Any]:
    return {
        "cluster": report.cluster,
        "region": report.region,
        "skipped": report.skipped,
        "outcome": report.outcome.to_json() if report.outcome else None,
        "revoked": report.revoked,
        "revocationFailures": report.revocation_failures,
    }
