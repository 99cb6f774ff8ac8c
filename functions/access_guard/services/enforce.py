"""Enforce: bring one cluster to its desired state (baseline plus holding grants) and tell its owners.

The one use case behind every writer of the service: remediation of an event, the sweep, a break-glass
restore, a grant, its end, an early revoke, the CLI's apply and replay. One history per cluster:

1. The run takes the cluster's lock first (its lease is the run's time left plus a margin), before it reads
   anything; a run that finds the cluster held leaves a pending mark for the holder (or waits a bounded
   while, or answers busy), so nobody acts on what they read before another writer's run.
2. Under the lock it reads the stored baseline (absent: not managed; unreadable: an alert, nothing changed),
   the cluster's grants, and then the live state (through `Reconciler`, so through the safety module).
3. `prepare` may record a new grant at that point (break glass): it is judged with everything else.
4. It reconciles, within the run's deadline. On a detect-only cluster the baseline is only reported, but
   the guard still takes back what it gave (ending grants) and gives what people asked for (holding grants):
   detect mode governs what the guard does on its own, not what it owes.
5. It settles the grants it touched, each a conditional transition verified against the live state: a grant
   becomes `active` only when its access is seen live, `pending` while a mode update runs, and closed
   (`ended`, `revoked`, `failed`) only when what it added is seen gone; every close is audited once (by the
   run whose transition won). A revocation that did not happen is recorded, counted, alarmed and retried.
6. A run that ends "in progress" (a mode update still running, its time up) queues its own continuation.
7. It lets the lock go and looks for pending marks left meanwhile, running again for them while time allows.

A cluster that no longer exists settles the run: one note ("cluster deleted, baseline kept"), its grants
ended and audited, and the report says `missing`.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..adapters.audit_table import AuditTable
from ..adapters.baseline_store import (
    BaselineNotFound,
    BaselineRejected,
    BaselineStore,
    BaselineUnreadable,
)
from ..adapters.eks_reader import ClusterNotFound
from ..adapters.grants_table import GrantChanged, GrantsTable
from ..adapters.notifier import Notifier
from ..adapters.state_table import ClusterBusy, Pending, StateTable
from ..core import safety
from ..core.breakglass import GUARD, AuditRecord, describe_grant, grant_end_record
from ..core.config import Config, Metrics
from ..core.deadline import Deadline
from ..core.grants import Desired, Grant, desired_state, grant_work, holds, taken_back
from ..core.history import run_record
from ..core.model import Action, Baseline, LiveEntry, LiveState
from ..core.outcome import Outcome
from ..core.report import Notification, Trigger, alert_note, new_admins, removed, run_note
from ..core.work import WorkItem
from .reconcile import BUSY, Keep, Reconciler

# metric(name, value, unit): the handlers pass Powertools Metrics; tests a list.
MetricFn = Callable[[str, float, str], None]
# prepare(desired, run) -> desired: what a caller does under the lock before the reconcile (record a grant).
Prepare = Callable[[Desired, "RunContext"], Desired]
# A run with no deadline of its own (the CLI, tests) gets this much.
DEFAULT_RUN_SECONDS = 900.0
# Runs again for pending marks at most this many times before it leaves them to a continuation.
PENDING_ROUNDS = 3
# What one more run for a pending mark needs at least (a read, a phase of writes, the records).
NEXT_RUN_SECONDS = 10.0


def monotonic_deadline(seconds: float) -> Deadline:
    return Deadline.after(seconds, time.monotonic)


@dataclass
class RunReport:
    cluster: str
    region: str
    outcome: Outcome | None = None
    skipped: str | None = None  # why nothing was done (not managed; baseline unreadable; cluster gone)
    notes: list[Notification] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)  # grant ids now closed (their access gone)
    revocation_failures: list[str] = field(default_factory=list)  # one line per grant still not revoked
    settled: dict[str, Grant] = field(default_factory=dict)  # grants this run moved, as they are now
    busy: bool = False  # another run held the cluster: a pending mark tells it to run again
    missing: bool = False  # the cluster does not exist (its baseline is kept)
    continued: bool = False  # the run handed its continuation on (a work item queued)


@dataclass
class RunContext:
    """What `prepare` may use: the run's reconciler (to read the live state) and the run's deadline."""

    reconciler: Reconciler
    deadline: Deadline
    giving: str | None = None  # set by `prepare` to the grant it records
    # set by `prepare` to narrow the run's plans to what this writer may do (the API's role); what it leaves
    # out is handed on to a continuation (the remediation's role does it)
    keep: Keep | None = None
    left_out: list[Action] = field(default_factory=list)


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
        continuations: Any = None,
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
        self.continuations = continuations  # a WorkQueue: where a run short of time hands its work on
        self.log = logging.getLogger("access_guard.enforce")

    def desired(self, cluster: str, region: str) -> Desired:
        """The cluster's baseline with its grants merged (BaselineNotFound / BaselineUnreadable raise).
        For reading only: a writer reads under the lock, in `run`."""
        baseline = self.reconciler.resolve(self.store.get(cluster, region))  # Identity Center sets, per run
        grants = self.grants.for_cluster(cluster, region) if self.grants is not None else []
        return desired_state(baseline, grants, self._clock())

    def detect_only(self, baseline: Baseline) -> bool:
        return self.config.detect_only or baseline.settings.mode == "detect"

    # --- the run -------------------------------------------------------------------------------------------
    def run(
        self,
        cluster: str,
        region: str,
        *,
        trigger: Trigger,
        principals: Iterable[str] | None = None,
        dry_run: bool = False,
        deadline: Deadline | None = None,
        lock_wait_seconds: float = 0.0,
        wait_for_mode: bool = True,
        override_detect: bool = False,
        approved: tuple[LiveState, Any] | None = None,
        prepare: Prepare | None = None,
        when_busy: str = "raise",
    ) -> RunReport:
        """Reconcile one cluster to its desired state; `principals` limits the run to them (targeted).

        `when_busy`: "raise" ClusterBusy when another run holds the cluster past the wait; "mark" leave a
        pending mark for the holder and report `busy` (the event path: nothing waits for a visibility
        timeout). `override_detect`: people asked for this run (a restore, an operator's apply), so a
        detect-only cluster is enforced too.
        """
        deadline = deadline or monotonic_deadline(DEFAULT_RUN_SECONDS)
        only = None if principals is None else frozenset(principals)
        if dry_run or self.state is None:
            return self._locked_run(
                cluster,
                region,
                trigger,
                only,
                dry_run,
                deadline,
                wait_for_mode,
                override_detect,
                approved,
                prepare,
            )
        try:
            report = self._with_lock(
                cluster,
                region,
                trigger,
                only,
                deadline,
                lock_wait_seconds,
                wait_for_mode,
                override_detect,
                approved,
                prepare,
            )
        except ClusterBusy:
            if when_busy != "mark":
                raise
            self.state.mark_pending(cluster, region, only, trigger.changes)
            try:  # the holder may have let go between our try and our mark: then nobody would see it
                report = self._with_lock(
                    cluster, region, trigger, only, deadline, 0.0, wait_for_mode, override_detect
                )
            except ClusterBusy:
                return RunReport(
                    cluster,
                    region,
                    skipped="another run holds the cluster: it runs again for this",
                    busy=True,
                )
        self._follow_pending(cluster, region, deadline, wait_for_mode, report)
        return report

    def _with_lock(
        self,
        cluster: str,
        region: str,
        trigger: Trigger,
        only: frozenset[str] | None,
        deadline: Deadline,
        wait_seconds: float,
        wait_for_mode: bool,
        override_detect: bool,
        approved: tuple[LiveState, Any] | None = None,
        prepare: Prepare | None = None,
    ) -> RunReport:
        """The run under the cluster's lock, widened to the principals of the marks left meanwhile and told
        who changed them; ClusterBusy when another run holds it past the wait."""
        assert self.state is not None
        wait = min(wait_seconds, deadline.left_for())
        with self.state.lock(
            cluster, region, holder=self._holder, seconds=deadline.lease(), wait_seconds=wait
        ):
            pending = self.state.take_pending(cluster, region)
            return self._locked_run(
                cluster,
                region,
                _told(trigger, pending),
                _widen(only, pending),
                False,
                deadline,
                wait_for_mode,
                override_detect,
                approved,
                prepare,
            )

    def _follow_pending(
        self, cluster: str, region: str, deadline: Deadline, wait_for_mode: bool, report: RunReport
    ) -> None:
        """After letting the lock go: run again for marks left meanwhile, while time allows; else hand on."""
        assert self.state is not None
        trigger = Trigger("continue", "changes made while the cluster was held by another run")
        for _ in range(PENDING_ROUNDS):
            if report.missing or not self.state.has_pending(cluster, region):
                return
            if deadline.expired(NEXT_RUN_SECONDS):
                self._continue(cluster, region, report, "work left for the cluster while it was held")
                return
            try:
                again = self._with_lock(
                    cluster, region, trigger, frozenset(), deadline, 0.0, wait_for_mode, False
                )
            except ClusterBusy:
                return  # its holder looks for the mark when it lets go
            report.notes += again.notes
            report.revoked += again.revoked
            report.revocation_failures += again.revocation_failures
            report.settled.update(again.settled)

    def _locked_run(
        self,
        cluster: str,
        region: str,
        trigger: Trigger,
        only: frozenset[str] | None,
        dry_run: bool,
        deadline: Deadline,
        wait_for_mode: bool,
        override_detect: bool,
        approved: tuple[LiveState, Any] | None,
        prepare: Prepare | None,
    ) -> RunReport:
        report = RunReport(cluster, region)
        try:
            baseline = self.reconciler.resolve(
                self.store.get(cluster, region)
            )  # Identity Center sets, per run
        except BaselineNotFound:
            report.skipped = f"{cluster} ({region}) has no baseline: not managed"
            return report
        except BaselineRejected as exc:  # from outside the trust boundary: the store alerted it once
            report.skipped = f"the baseline of {cluster} ({region}) was refused: {exc}"
            return report
        except BaselineUnreadable as exc:
            report.skipped = f"the baseline of {cluster} ({region}) cannot be used: {exc}"
            self._publish(
                report, alert_note(cluster, region, "baseline unreadable: nothing changed", str(exc))
            )
            self._metric(Metrics.FAILURES, 1, "Count")
            return report
        grants = self.grants.for_cluster(cluster, region) if self.grants is not None else []
        desired = desired_state(baseline, grants, self._clock())
        context = RunContext(self.reconciler, deadline)
        if prepare is not None:
            desired = prepare(desired, context)
        detect = self.detect_only(baseline) and not override_detect
        given: Outcome | None = None  # on a detect-only cluster: the grants' own work, if any
        try:
            if dry_run:
                outcome = self.reconciler.apply(_detect(desired.baseline), only=only)
            else:
                if detect:
                    given = self._grants_run(desired, only, deadline, wait_for_mode)
                    outcome = self.reconciler.apply(_detect(desired.baseline), only=only)
                else:
                    outcome = self.reconciler.apply(
                        _enforce(desired.baseline),
                        approved,
                        only=only,
                        deadline=deadline,
                        wait_for_mode=wait_for_mode,
                        keep=context.keep,
                    )
                acted = given or outcome
                self._settle_grants(report, desired, acted, only, trigger, context, deadline, wait_for_mode)
            report.outcome = outcome
        except ClusterNotFound as exc:
            if dry_run:
                raise
            self._gone(report, desired, trigger, exc)
            return report
        if self.state is not None and not dry_run and trigger.kind == "cluster-created":
            self.state.forget(_gone_key(cluster, region))
        in_progress = (given.in_progress if given else None) or (None if detect else outcome.in_progress)
        if context.left_out and not in_progress:
            in_progress = f"{len(context.left_out)} step(s) left to the remediation's role"
        if not dry_run and in_progress and in_progress != BUSY:
            # our own mode update still running, or the run's time up: the next run continues at once.
            # (Someone else's update is not waited on in a loop: the sweep continues after it.)
            self._continue(cluster, region, report, in_progress)
        if given is not None and (given.written or given.refusals or not given.succeeded):
            note = run_note(trigger, given, detect=False, alert={})
            if note is not None:
                self._publish(report, note)
        alert = new_admins(trigger, outcome)
        if not dry_run:
            alert = self._not_told_yet(cluster, region, trigger, outcome, alert)
        note = run_note(trigger, outcome, detect=detect, alert=alert)
        if note is not None and not dry_run:
            self._publish(report, note)
        if given is not None:
            self._count(trigger, given, False)
        record = run_record(cluster, region, trigger, outcome, at=self._clock(), detect=detect)
        if record is not None and not dry_run:
            self._put_audit(record)  # the history of what the guard did on its own
        self._count(trigger, outcome, detect or dry_run)
        return report

    def _grants_run(
        self, desired: Desired, only: frozenset[str] | None, deadline: Deadline, wait_for_mode: bool
    ) -> Outcome | None:
        """On a detect-only cluster, the guard's own work: give the holding grants and take back the ending
        ones (nothing else is written); None when there are no grants to look at."""
        touched = {g.principal_arn for g in desired.grants}
        scope = touched if only is None else touched & only
        if not scope:
            return None
        return self.reconciler.apply(
            _enforce(desired.baseline),
            only=scope,
            deadline=deadline,
            wait_for_mode=wait_for_mode,
            keep=lambda actions: grant_work(desired, actions),
        )

    # --- grants --------------------------------------------------------------------------------------------
    def _settle_grants(
        self,
        report: RunReport,
        desired: Desired,
        outcome: Outcome,
        only: frozenset[str] | None,
        trigger: Trigger,
        context: RunContext,
        deadline: Deadline,
        wait_for_mode: bool,
    ) -> None:
        """Move each grant this run covered to the state the live cluster shows: holding grants to `active`
        when their access is live (`pending` while a mode update runs), ending grants to closed when what
        they added is gone. A grant being given that did not take is ended and taken back at once."""
        if self.grants is None or not desired.grants:
            return
        covered = [g for g in desired.grants if only is None or g.principal_arn in only]
        moving = [g for g in covered if g in desired.ending or g.status != "active"]
        if not moving:
            return
        live = self.reconciler.read(desired.baseline, only={g.principal_arn for g in moving})
        now = self._clock()
        failed: list[Grant] = []
        for grant in moving:
            if grant in desired.holding:
                if holds(grant, live):
                    self._move(report, grant, status="active", activated_at=now, pending_reason=None)
                elif outcome.in_progress:
                    if grant.status != "pending" or grant.pending_reason != outcome.in_progress:
                        self._move(report, grant, status="pending", pending_reason=outcome.in_progress)
                elif grant.grant_id == context.giving:
                    failed.append(grant)
                continue
            if taken_back(grant, desired.baseline, live):
                self._close(report, grant, trigger)
            else:
                self._not_revoked(report, grant, _why_not_revoked(grant, outcome))
        if report.revocation_failures:
            detail = "\n".join(report.revocation_failures) + "\nGuard tries again on the next run (sweep)."
            self._publish(
                report, alert_note(report.cluster, report.region, "temporary access not yet revoked", detail)
            )
        for grant in failed:
            self._take_back(report, grant, _why_not_given(grant, outcome), trigger, deadline, wait_for_mode)

    def _take_back(
        self,
        report: RunReport,
        grant: Grant,
        why: str,
        trigger: Trigger,
        deadline: Deadline,
        wait_for_mode: bool,
    ) -> None:
        """A grant being given that did not take: ended (failed) and what it wrote taken back, in this run."""
        assert self.grants is not None
        try:
            ending = self.grants.transition(
                grant, status="ending", ended_early_at=self._clock(), ended_early_by=GUARD, failure=why
            )
        except GrantChanged as changed:
            if changed.grant is not None:
                report.settled[grant.grant_id] = changed.grant
            return
        report.settled[grant.grant_id] = ending
        baseline = self.store.get(report.cluster, report.region)
        desired = desired_state(
            baseline, self.grants.for_cluster(report.cluster, report.region), self._clock()
        )
        only = frozenset({grant.principal_arn})
        outcome = self.reconciler.apply(
            _enforce(desired.baseline),
            only=only,
            deadline=deadline,
            wait_for_mode=wait_for_mode,
            keep=lambda actions: grant_work(desired, actions),  # the grant's own writes, nothing else
        )
        live = self.reconciler.read(desired.baseline, only=only)
        if taken_back(ending, desired.baseline, live):
            self._close(report, ending, trigger)
        else:
            self._not_revoked(report, ending, _why_not_revoked(ending, outcome))

    def _move(self, report: RunReport, grant: Grant, **changes: Any) -> Grant | None:
        assert self.grants is not None
        try:
            moved = self.grants.transition(grant, **changes)
        except GrantChanged as changed:  # another writer moved it (an early revoke): the next run decides
            if changed.grant is not None:
                report.settled[grant.grant_id] = changed.grant
            return None
        report.settled[grant.grant_id] = moved
        return moved

    def _close(self, report: RunReport, grant: Grant, trigger: Trigger) -> None:
        now = self._clock()
        if grant.status != "ending":  # due by time: it is ending first, then closed
            grant = self._move(report, grant, status="ending") or grant
            if grant.status != "ending":
                return
        closed = self._move(
            report, grant, status=grant.closing_status(), revoked_at=now, revocation_error=None
        )
        if closed is None:
            return
        report.revoked.append(grant.grant_id)
        self._audit_end(closed, f"by {self._holder} ({trigger.kind}: {trigger.reason})")

    def _not_revoked(self, report: RunReport, grant: Grant, why: str) -> None:
        if grant.status != "ending":
            grant = self._move(report, grant, status="ending") or grant
        if grant.revocation_error != why and grant.status == "ending":
            self._move(report, grant, revocation_error=why)
        report.revocation_failures.append(f"grant {grant.grant_id} of {grant.principal_arn}: {why}")
        self._metric(Metrics.REVOCATION_FAILURES, 1, "Count")

    def _put_audit(self, record: AuditRecord) -> None:
        if self.audit is None:
            return
        try:
            self.audit.put(record)
        except Exception:  # what it records has happened: say so loudly, and go on
            self.log.exception(f"the audit record {record.request_id} was not written")

    def _audit_end(self, grant: Grant, how: str) -> None:
        line = f"access of grant {grant.grant_id} removed {how}: {describe_grant(grant)}"
        self._put_audit(
            grant_end_record(grant, at=self._clock(), ok=True, line=line, request_id=f"end-{grant.grant_id}")
        )

    # --- a cluster that is gone ----------------------------------------------------------------------------
    def _gone(self, report: RunReport, desired: Desired, trigger: Trigger, exc: ClusterNotFound) -> None:
        cluster, region = report.cluster, report.region
        report.missing = True
        report.outcome = None
        report.skipped = f"{cluster} ({region}) does not exist (deleted?): its baseline is kept"
        now = self._clock()
        if self.grants is not None:
            trigger = replace(
                trigger, reason=f"{trigger.reason}; the cluster was deleted, and its grants with it"
            )
            for grant in desired.grants:
                ending = grant
                if grant.status != "ending":
                    ending = (
                        self._move(
                            report,
                            grant,
                            status="ending",
                            ended_early_at=grant.ended_early_at or now,
                            ended_early_by=grant.ended_early_by or f"{GUARD} (cluster deleted)",
                        )
                        or grant
                    )
                if ending.status == "ending":
                    self._close(report, ending, trigger)
        if self.state is None or self.state.first_time(_gone_key(cluster, region)):
            detail = (
                f"{_first_line(exc)}\nGuard keeps the baseline and changes nothing; if the cluster is "
                "created again under this name, Guard applies the baseline to it. Delete the baseline to "
                "stop managing it."
            )
            self._publish(report, alert_note(cluster, region, "cluster deleted, baseline kept", detail))

    # --- handing on ----------------------------------------------------------------------------------------
    def _continue(self, cluster: str, region: str, report: RunReport, why: str) -> None:
        """Queue the run's continuation: a work item for the whole cluster, so nobody has to call again."""
        if self.continuations is None or report.continued:
            return
        now = self._clock()
        item = WorkItem(
            cluster=cluster,
            region=region,
            principals=None,
            trigger="continue",
            event_id=f"continue-{uuid.uuid4().hex}",
            event_name="Continue",
            event_time=now.astimezone(UTC).isoformat(),
            actor=None,
            reason=f"continuing a run on {cluster}: {why}"[:2000],
        )
        try:
            self.continuations.send([item])
            report.continued = True
        except Exception:  # the sweep continues it: say so, and go on
            self.log.exception(f"the continuation of the run on {cluster} could not be queued")

    # --- telling -------------------------------------------------------------------------------------------
    def _not_told_yet(
        self, cluster: str, region: str, trigger: Trigger, outcome: Outcome, alert: dict[str, str | None]
    ) -> dict[str, str | None]:
        """The new admins of `alert` that no run has alerted yet: an admin left outside the baseline is
        alerted once (its entry, as created), whichever runs see its events (a batch, a pending mark, the
        event's own item later); one the run removed is gone, so it is alerted each time it is made.
        A changed entry seen kept but no longer an admin is forgotten: made admin again, it alerts again."""
        if self.state is None or self.notifier is None:
            return alert
        live = outcome.live.entries
        kept = {u.principal_arn: u for u in outcome.plan.unmanaged}
        gone = removed(outcome)
        told: dict[str, str | None] = {}
        try:
            for arn, actor in alert.items():
                if arn in gone or self.state.first_time(_admin_key(cluster, region, arn, live[arn])):
                    told[arn] = actor
            for arn in trigger.changed_by():
                if arn in kept and not kept[arn].admin:
                    self.state.forget(_admin_key(cluster, region, arn, live[arn]))
        except Exception:  # better told twice than not at all
            self.log.exception(f"the alerts of new admins on {cluster} could not be recorded")
            return alert
        return told

    def _publish(self, report: RunReport, note: Notification) -> None:
        report.notes.append(note)
        if self.notifier is None:
            return
        try:
            self.notifier.publish(note)
        except Exception:  # what the run did stands: say loudly that its note was lost, and go on
            self.log.exception(f"the {note.kind} note on {report.cluster} could not be published")

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


def _widen(only: frozenset[str] | None, pending: Pending | None) -> frozenset[str] | None:
    """The run's principals with the pending marks' work added (None: the whole cluster)."""
    if pending is None:
        return only
    if only is None or pending.whole:
        return None
    return only | pending.principals


def _told(trigger: Trigger, pending: Pending | None) -> Trigger:
    """The run's trigger with the changes of the pending marks it took (it does their work)."""
    return trigger if pending is None else trigger.with_changes(pending.changes)


def _admin_key(cluster: str, region: str, principal: str, entry: LiveEntry) -> str:
    """The one-time mark of a new admin's alert: the principal's entry as created (made again, it is new)."""
    made = entry.created_at.isoformat() if entry.created_at else "-"
    return f"admin#{region}#{cluster}#{hashlib.sha256(principal.encode()).hexdigest()[:32]}#{made}"


def _gone_key(cluster: str, region: str) -> str:
    return f"gone#{region}#{cluster}"


def _detect(baseline: Baseline) -> Baseline:
    return replace(baseline, settings=replace(baseline.settings, mode="detect"))


def _enforce(baseline: Baseline) -> Baseline:
    """The baseline to write towards (a detect-only one, when people asked or for the guard's own grants)."""
    if baseline.settings.mode == "enforce":
        return baseline
    return replace(baseline, settings=replace(baseline.settings, mode="enforce"))


def _why_not_revoked(grant: Grant, outcome: Outcome) -> str:
    for refusal in outcome.refusals:
        if grant.principal_arn in refusal:
            return refusal
    for result in outcome.results:
        if not result.ok and safety.target(result.action) == grant.principal_arn:
            return result.error or "the write failed"
    return outcome.error or outcome.in_progress or "the run did not reach it"


def _why_not_given(grant: Grant, outcome: Outcome) -> str:
    for refusal in outcome.refusals:
        if grant.principal_arn in refusal:
            return f"the safety rules held it back: {refusal}"
    for result in outcome.results:
        if not result.ok and safety.target(result.action) == grant.principal_arn:
            return result.error or "a write failed"
    for warning in outcome.warnings:
        if grant.principal_arn in warning or "CONFIG_MAP" in warning:
            return warning
    return outcome.error or "its access is not live after the run"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def report_json(report: RunReport) -> dict[str, Any]:
    return {
        "cluster": report.cluster,
        "region": report.region,
        "skipped": report.skipped,
        "outcome": report.outcome.to_json() if report.outcome else None,
        "revoked": report.revoked,
        "revocationFailures": report.revocation_failures,
        "busy": report.busy,
        "missing": report.missing,
        "continued": report.continued,
    }
