"""Break glass: the API's use cases (clusters, drift, restore, grants, revoke, audit) and the grants' expiry.

Every call goes through `BreakGlass.serve`: the caller is authorized (`core.breakglass.authorize`), the body
was parsed at the edge (a bad one is answered here, with its reason), writes are rate limited per on-call
principal, and whatever happens is audited: to the audit table, the logs and, for writes, the SNS topic.

Grants. The grants table is the single source of truth; entries, associations and schedules follow from it.
A grant is recorded first, then the cluster is enforced towards its desired state (baseline plus active
grants) by `Enforcer.run`, so the safety module judges the entry and association like any other write; what
the principal's entry held before is recorded with it (`core.grants.entry_facts`), so only what grants made
goes when they end; then its end is scheduled. If any of that fails, the grant is ended at once and what it
wrote is taken back: nothing dangles. Revoking early ends the grant in the table, then enforces; the
expiry (a schedule firing) re-reads the grant before it acts, and a revocation that fails raises, so
Lambda retries it and the sweep (`expire_due`) tries again; every failure is counted and alarmed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..adapters.audit_table import AuditTable, BadPageToken
from ..adapters.baseline_store import BaselineNotFound, BaselineUnreadable
from ..adapters.eks_reader import ClusterNotFound
from ..adapters.grant_schedules import GrantSchedules
from ..adapters.grants_table import GrantAlreadyEnded, GrantNotFound, GrantsTable
from ..adapters.notifier import Notifier
from ..adapters.state_table import ClusterBusy, StateTable
from ..core import breakglass as bg
from ..core import safety
from ..core.breakglass import (
    GUARD,
    ApiError,
    AuditQuery,
    AuditRecord,
    BadRequest,
    Caller,
    Conflict,
    Failed,
    GrantRequest,
    Identity,
    NotFound,
    Refusal,
    RestoreRequest,
    TooManyRequests,
)
from ..core.config import Config, Metrics
from ..core.describe import has_drift, plan_json, render_plan, summarize
from ..core.grants import Desired, Grant, desired_state, entry_facts
from ..core.model import Baseline
from ..core.report import Notification, Trigger, alert_note, run_note
from .enforce import Enforcer, MetricFn, RunReport

API_LOCK_WAIT_SECONDS = 10.0  # the API answers within API Gateway's 29 s
EXPIRY_LOCK_WAIT_SECONDS = 30.0
CLUSTER_CONCURRENCY = 4


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RevocationFailed(RuntimeError):
    """A due grant's access is still there (recorded, counted and alarmed): raised so it is tried again."""


@dataclass(frozen=True)
class Call:
    """One API request as the handler saw it."""

    action: str
    method: str
    path: str
    identity: Identity
    request_id: str
    cluster: str | None = None  # the path's cluster, as given
    query: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    write: bool = False


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """What an action did: the answer, one line for the record, and (for the note) what Guard did."""

    status: int
    body: dict[str, Any]
    detail: str
    grant_id: str | None = None
    run_text: str = ""


Action = Callable[[Caller, Any], Reply]


class BreakGlass:
    def __init__(
        self,
        *,
        enforcer: Enforcer,
        grants: GrantsTable,
        config: Config,
        region: str,
        audit: AuditTable | None = None,
        schedules: GrantSchedules | None = None,
        state: StateTable | None = None,
        notifier: Notifier | None = None,
        metric: MetricFn | None = None,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        logger: Any = None,
        lock_wait_seconds: float = API_LOCK_WAIT_SECONDS,
    ) -> None:
        if enforcer.notifier is not None:
            raise ValueError("BreakGlass tells its own notes: give it an Enforcer without a notifier")
        self.enforcer = enforcer
        self.grants = grants
        self.config = config
        self.region = region
        self.audit = audit
        self.schedules = schedules
        self.state = state
        self.notifier = notifier
        self._metric = metric or (lambda name, value, unit: None)
        self.clock = clock
        self._new_id = new_id
        self.log = logger or logging.getLogger("access_guard.breakglass")
        self.lock_wait_seconds = lock_wait_seconds  # how long a write waits for another run's lock

    # --- every call ---------------------------------------------------------------------------------------
    def serve(self, call: Call, request: object, act: Action) -> Answer:
        """Authorize, answer a bad request, rate-limit writes, act, and audit whatever happened.
        `request` is the body parsed at the edge (a model), the ApiError its parse raised, or None."""
        identity = call.identity
        mfa = False if bg.long_term_key(identity.access_key) else None
        decided = bg.authorize(identity, self.config.oncall_principals, self.config.require_mfa, mfa)
        parsed = request if request is not None and not isinstance(request, ApiError) else None
        caller = decided if isinstance(decided, Caller) else None
        reply: Reply
        try:
            if isinstance(decided, Refusal):
                raise bg.Forbidden(decided.message)
            assert caller is not None
            self._metric(Metrics.BREAK_GLASS_REQUESTS, 1, "Count")
            if call.cluster is not None:
                bg.check_cluster_name(call.cluster)
            if isinstance(request, ApiError):
                raise request
            if call.write and self.state is not None:
                limit = self.config.rate_limit_per_minute
                if not self.state.take_rate(caller.principal_arn, limit=limit):
                    raise TooManyRequests(
                        f"{caller.principal_arn} made {limit} break-glass writes this minute; wait a minute"
                    )
            reply = act(caller, parsed)
        except ApiError as exc:
            reply = Reply(exc.status, exc.to_json(), exc.message, grant_id=exc.grant_id)
        except Exception as exc:  # a bug or an AWS failure: recorded and answered, never a bare 502
            self.log.exception(f"{call.action} failed")
            message = f"{call.action} failed: {_describe(exc)} (request {call.request_id})"
            reply = Reply(500, {"message": message}, message)
        record = AuditRecord(
            at=self.clock(),
            request_id=call.request_id,
            action=call.action,
            region=self.region,
            status=reply.status,
            detail=bg.one_line(reply.detail),
            cluster=call.cluster if call.cluster and bg.is_cluster_name(call.cluster) else None,
            caller=identity.user_arn,
            principal=caller.principal_arn if caller else None,
            source_ip=identity.source_ip,
            access_key=identity.access_key,
            reason=getattr(parsed, "reason", None),
            request=_request_json(call, parsed),
            grant_id=reply.grant_id,
        )
        self._record(record)
        if call.write and reply.status not in (400, 404, 413) or reply.status == 403:
            self._tell(bg.breakglass_note(record, reply.run_text))
        return Answer(reply.status, reply.body)

    def _record(self, record: AuditRecord) -> None:
        self.log.info(f"break glass: {record.action} {record.status}", extra={"audit": record.to_json()})
        if self.audit is None:
            return
        try:
            self.audit.put(record)
        except Exception:  # the call has happened: say so loudly, and still answer
            self.log.exception("the audit record could not be written")

    def _tell(self, note: Notification) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.publish(note)
        except Exception:
            self.log.exception(f"the {note.kind} note could not be published")

    # --- reads ---------------------------------------------------------------------------------------------
    def _baseline(self, cluster: str) -> Baseline:
        """The cluster's stored baseline (what it owns, without the grants); NotFound when not managed."""
        if not self.config.manages(cluster):
            raise NotFound(f"{cluster} is not a cluster this deployment manages")
        try:
            return self.enforcer.store.get(cluster, self.region)
        except BaselineNotFound:
            raise NotFound(f"no managed cluster {cluster} in {self.region} (no baseline is stored)") from None
        except BaselineUnreadable as exc:
            raise Conflict(f"the baseline of {cluster} cannot be used: {_first_line(exc)}") from None

    def _desired(self, cluster: str, baseline: Baseline | None = None) -> Desired:
        """The baseline with the cluster's grants merged: what the Enforcer brings the cluster to."""
        baseline = baseline or self._baseline(cluster)
        return desired_state(baseline, self.grants.for_cluster(cluster, self.region), self.clock())

    def _mode(self, desired: Desired | Baseline) -> str:
        baseline = desired.baseline if isinstance(desired, Desired) else desired
        return "detect" if self.config.detect_only else baseline.settings.mode

    def clusters(self, caller: Caller, _: object = None) -> Reply:
        names = sorted(
            c for c, r in self.enforcer.store.list() if r == self.region and self.config.manages(c)
        )
        with ThreadPoolExecutor(CLUSTER_CONCURRENCY, thread_name_prefix="clusters") as pool:
            rows = list(pool.map(self._cluster_row, names))
        drifting = sum(1 for r in rows if r["drift"])
        return Reply(
            200, {"region": self.region, "clusters": rows}, f"{len(rows)} clusters, {drifting} drifting"
        )

    def _cluster_row(self, cluster: str) -> dict[str, Any]:
        row: dict[str, Any] = {"cluster": cluster, "region": self.region, "mode": None}
        row.update(authenticationMode=None, drift=None, changes=None, refusals=None, activeGrants=None)
        row.update(unmanaged=None, unmanagedAdmins=None)  # entries outside the baseline it keeps
        try:
            desired = self.enforcer.desired(cluster, self.region)
            row["mode"] = self._mode(desired)
            live, plan = self.enforcer.reconciler.plan(desired.baseline)
        except (BaselineNotFound, BaselineUnreadable, ClusterNotFound) as exc:
            row["error"] = _first_line(exc)
            return row
        row.update(
            authenticationMode=live.authentication_mode,
            drift=has_drift(plan),
            changes=len(plan.actions),
            refusals=len(plan.refusals),
            activeGrants=len(desired.active),
            unmanaged=len(plan.unmanaged),
            unmanagedAdmins=[u.principal_arn for u in plan.unmanaged if u.admin],
            error=None,
        )
        return row

    def drift(self, caller: Caller, cluster: str) -> Reply:
        desired = self._desired(cluster)
        mode = self._mode(desired)
        try:
            _live, plan = self.enforcer.reconciler.plan(desired.baseline)
        except ClusterNotFound as exc:
            raise NotFound(_first_line(exc)) from None
        body = {
            "cluster": cluster,
            "region": self.region,
            "mode": mode,
            "plan": plan_json(plan, mode=mode),
            "text": render_plan(plan, mode=mode),
            "activeGrants": [bg.grant_json(g, self.clock()) for g in desired.active],
        }
        detail = str(summarize(plan.actions)) if has_drift(plan) else "no drift"
        return Reply(200, body, detail)

    def grants_of(self, caller: Caller, cluster: str) -> Reply:
        self._desired(cluster)
        found = self.grants.for_cluster(cluster, self.region, include_revoked=True)
        now = self.clock()
        active = sum(1 for g in found if g.state(now) == "active")
        body = {"cluster": cluster, "region": self.region, "grants": [bg.grant_json(g, now) for g in found]}
        return Reply(200, body, f"{len(found)} grants, {active} active")

    def audit_page(self, caller: Caller, query: AuditQuery) -> Reply:
        if self.audit is None:
            raise NotFound("this deployment keeps no audit table")
        try:
            records, token = self.audit.page(
                region=self.region,
                cluster=query.cluster,
                limit=query.limit,
                token=query.token,
                kind=query.kind,
                since=query.since,
            )
        except BadPageToken as exc:
            raise BadRequest(f"next: {exc}") from None
        body = {"records": [r.to_json() for r in records], "next": token}
        return Reply(200, body, f"{len(records)} records" + (f" of {query.cluster}" if query.cluster else ""))

    # --- restore -------------------------------------------------------------------------------------------
    def restore(self, caller: Caller, cluster: str, request: RestoreRequest) -> Reply:
        mode = self._mode(self._baseline(cluster))
        if mode == "detect" and not request.dry_run:
            raise Conflict(
                f"{cluster} is in detect mode: Guard changes nothing on it (dryRun shows the drift)"
            )
        trigger = Trigger(
            "restore", f"break-glass restore by {caller.arn}: {request.reason}", actor=caller.arn
        )
        report = self._run(cluster, trigger, dry_run=request.dry_run)
        outcome = report.outcome
        if outcome is None:
            raise NotFound(report.skipped or f"{cluster} is not managed")
        body: dict[str, Any] = {
            "cluster": cluster,
            "region": self.region,
            "dryRun": request.dry_run,
            "outcome": outcome.to_json(),
            "revokedGrants": report.revoked,
            "revocationFailures": report.revocation_failures,
        }
        if request.dry_run:
            body["reachedBaseline"] = not has_drift(outcome.plan)
            body["text"] = render_plan(outcome.plan, mode=mode)
            detail = "dry run: " + (
                str(summarize(outcome.plan.actions)) if has_drift(outcome.plan) else "no drift"
            )
            return Reply(200, body, detail)
        note = run_note(trigger, outcome, detect=False)
        body["reachedBaseline"] = outcome.reached_baseline
        body["text"] = note.text if note else f"Cluster {cluster} ({self.region}): no drift; nothing to do.\n"
        detail = (
            f"restored to the baseline ({len(outcome.written)} writes)"
            if outcome.reached_baseline
            else "not at its baseline: " + (outcome.error or "; ".join(outcome.refusals) or "see the outcome")
        )
        return Reply(200, body, detail, run_text=body["text"])

    # --- grants --------------------------------------------------------------------------------------------
    def grant(self, caller: Caller, cluster: str, request: GrantRequest) -> Reply:
        baseline = self._baseline(cluster)  # what the baseline owns: a grant only ever adds to it
        desired = self._desired(cluster, baseline)
        if self._mode(desired) == "detect":
            raise Conflict(f"{cluster} is in detect mode: Guard changes nothing on it, grants included")
        principal = bg.grant_principal(caller, request, self.config.oncall_principals)
        limit = bg.max_minutes(self.config.max_grant_minutes, baseline.settings.break_glass_max_minutes)
        if request.duration_minutes > limit:
            raise BadRequest(
                f"durationMinutes must be between 1 and {limit} on {cluster} (its baseline's maximum), "
                f"got {request.duration_minutes}"
            )
        try:
            live = self.enforcer.reconciler.read(desired.baseline, only=[principal])
        except ClusterNotFound as exc:
            raise NotFound(_first_line(exc)) from None
        entry = live.entries.get(principal)
        why = bg.grant_conflict(baseline, entry, principal, request.policy_arn, request.scope)
        if why is not None:
            raise Conflict(why)
        created_entry, policy_was_there = entry_facts(
            desired.active + desired.ending, principal, request.policy_arn, entry
        )
        now = self.clock()
        grant = Grant(
            grant_id=self._new_id(),
            cluster=cluster,
            region=self.region,
            principal_arn=principal,
            policy_arn=request.policy_arn,
            scope=request.scope.normal(),
            reason=request.reason,
            requested_by=caller.arn,
            created_at=now,
            ends_at=now + timedelta(minutes=request.duration_minutes),
            created_entry=created_entry,
            policy_was_there=policy_was_there,
        )
        self.grants.put_new(grant)  # the record first: whatever follows, the table knows the grant
        trigger = Trigger("grant", f"break-glass grant by {caller.arn}: {request.reason}", actor=caller.arn)
        try:
            report = self._run(cluster, trigger, principals=[principal])
        except ApiError as exc:  # the cluster busy, or gone
            raise self._fail(grant, exc.message, type(exc)) from None
        except Exception as exc:  # an AWS failure: the recorded grant must not outlive it
            raise self._fail(grant, _describe(exc), Failed) from exc
        problem = _why_not_given(report, principal)
        if problem is not None:
            kind: type[ApiError] = Conflict if any(principal in r for r in _refusals(report)) else Failed
            raise self._fail(grant, problem, kind)
        if self.schedules is not None:
            try:
                self.schedules.create(grant)
            except Exception as exc:  # a missing group, no permission: take the grant back
                raise self._fail(grant, f"its end could not be scheduled: {_describe(exc)}", Failed) from None
        note = run_note(trigger, report.outcome, detect=False) if report.outcome else None
        body = {"grant": bg.grant_json(grant, self.clock()), "outcome": _outcome_json(report)}
        return Reply(
            201,
            body,
            f"granted {bg.describe_grant(grant)}",
            grant_id=grant.grant_id,
            run_text=note.text if note else "",
        )

    def _fail(self, grant: Grant, why: str, kind: type[ApiError]) -> ApiError:
        """End a grant that could not be given and take back what it wrote; the error to answer with."""
        self.log.warning(f"grant {grant.grant_id} could not be given: {why}")
        try:
            ended = self.grants.end_early(grant, at=self.clock(), by=GUARD, failure=why)
            report = self._run(
                grant.cluster,
                Trigger("revoke", f"grant {grant.grant_id} could not be given ({why}): taking it back"),
                principals=[grant.principal_arn],
            )
            back = ended.grant_id in report.revoked
        except Exception as exc:  # the sweep takes it back: the grant is ending in the table
            self.log.exception(f"grant {grant.grant_id} could not be taken back at once")
            back, report = False, None
            why += f"; taking it back failed ({_describe(exc)}), the sweep tries again"
        tail = "nothing was left behind" if back else "it is ended and its access goes with the next run"
        return kind(f"the grant could not be given: {why}; {tail}", grant_id=grant.grant_id)

    def revoke(self, caller: Caller, cluster: str, grant_id: str, reason: str | None = None) -> Reply:
        bg.check_grant_id(grant_id)
        try:
            grant = self.grants.get(cluster, self.region, grant_id)
        except GrantNotFound:
            raise NotFound(f"no grant {grant_id} on {cluster} ({self.region})") from None
        try:
            grant = self.grants.end_early(grant, at=self.clock(), by=caller.arn)
        except GrantAlreadyEnded as exc:
            raise Conflict(_already(exc.grant)) from None
        if self.schedules is not None:
            try:
                self.schedules.delete(grant_id)
            except Exception:  # harmless: a schedule that fires for a revoked grant does nothing
                self.log.exception(f"the schedule of grant {grant_id} could not be deleted")
        why = f" ({reason})" if reason else ""
        trigger = Trigger("revoke", f"grant {grant_id} revoked early by {caller.arn}{why}", actor=caller.arn)
        try:
            report = self._run(cluster, trigger, principals=[grant.principal_arn])
        except Conflict:
            report = RunReport(cluster, self.region, skipped="the cluster is busy; the next run revokes it")
        now = self.clock()
        current = self.grants.get(cluster, self.region, grant_id)
        body: dict[str, Any] = {"grant": bg.grant_json(current, now), "outcome": _outcome_json(report)}
        note = run_note(trigger, report.outcome, detect=False) if report.outcome else None
        if grant_id in report.revoked:
            return Reply(200, body, f"revoked grant {grant_id} early", grant_id, note.text if note else "")
        if report.skipped:
            self._skipped([current], report.skipped)
        why = current.revocation_error or report.skipped or "not yet"
        message = f"grant {grant_id} is ended; its access is not gone yet ({why}): Guard retries"
        body["message"] = message
        return Reply(202, body, message, grant_id, note.text if note else "")

    # --- expiry --------------------------------------------------------------------------------------------
    def expire(self, cluster: str, region: str, grant_id: str) -> str:
        """The scheduled end of one grant: re-read it, and revoke it if it is due. One line saying what was
        done; RevocationFailed (after recording, counting and alarming it) when its access is still there."""
        try:
            grant = self.grants.get(cluster, region, grant_id)
        except GrantNotFound:
            return f"grant {grant_id} on {cluster} is not in the table: nothing to do"
        now = self.clock()
        if grant.revoked_at is not None:  # the run that took its access away audited it
            return f"grant {grant_id} was already revoked at {grant.revoked_at.isoformat()}"
        if grant.state(now) == "active":
            return f"grant {grant_id} is not due until {grant.ends_at.isoformat()}: nothing to do"
        trigger = Trigger("expiry", f"grant {grant_id} of {grant.principal_arn} ended at {grant.ends_at}")
        try:
            report = self._run(
                cluster, trigger, principals=[grant.principal_arn], wait=EXPIRY_LOCK_WAIT_SECONDS
            )
        except Conflict as busy:
            raise RevocationFailed(f"grant {grant_id}: {busy.message}") from None
        revoked = grant_id in report.revoked
        line = (
            f"revoked grant {grant_id}: {bg.describe_grant(grant)}"
            if revoked
            else f"grant {grant_id} is not revoked yet: "
            + ("; ".join(report.revocation_failures) or report.skipped or "the run did not reach it")
        )
        note = run_note(trigger, report.outcome, detect=False) if report.outcome else None
        record = bg.grant_end_record(
            grant,
            at=self.clock(),
            ok=revoked,
            line=line,
            request_id=f"expiry-{grant_id}-{uuid.uuid4().hex[:8]}",
        )
        if revoked:  # the Enforcer's run audited the revocation itself; the logs and the owners hear of it
            self.log.info(f"break glass: {record.action} {record.status}", extra={"audit": record.to_json()})
        else:
            self._record(record)
        self._tell(bg.breakglass_note(record, note.text if note else ""))
        if report.skipped and not revoked:
            self._skipped([grant], report.skipped)
        if not revoked:
            raise RevocationFailed(line)
        return line

    def expire_due(self, now: datetime | None = None) -> ExpiryReport:
        return expire_due(
            self.enforcer,
            self.grants,
            region=self.region,
            now=now or self.clock(),
            notifier=self.notifier,
            metric=self._metric,
        )

    def _skipped(self, grants: Iterable[Grant], why: str) -> None:
        _not_revocable(self.grants, grants, why, self.notifier, self._metric)

    # --- running the Enforcer ------------------------------------------------------------------------------
    def _run(
        self,
        cluster: str,
        trigger: Trigger,
        *,
        principals: list[str] | None = None,
        dry_run: bool = False,
        wait: float | None = None,
    ) -> RunReport:
        try:
            report = self.enforcer.run(
                cluster,
                self.region,
                trigger=trigger,
                principals=principals,
                dry_run=dry_run,
                lock_wait_seconds=self.lock_wait_seconds if wait is None else wait,
            )
        except ClusterBusy as exc:
            raise Conflict(f"{exc}") from None
        except ClusterNotFound as exc:
            raise NotFound(_first_line(exc)) from None
        for note in report.notes:  # the Enforcer's alerts (a revocation not done); its run note we fold in
            if note.kind == "alert":
                self._tell(note)
        return report


# --- the sweep's fallback ----------------------------------------------------------------------------------


@dataclass
class ExpiryReport:
    revoked: list[str] = field(default_factory=list)  # grant ids now revoked
    failures: list[str] = field(default_factory=list)  # one line per grant still not revoked
    busy: list[str] = field(default_factory=list)  # clusters another run held (the next sweep tries)

    def to_json(self) -> dict[str, Any]:
        return {"revoked": self.revoked, "failures": self.failures, "busy": self.busy}


def expire_due(
    enforcer: Enforcer,
    grants: GrantsTable,
    *,
    region: str,
    now: datetime,
    notifier: Notifier | None = None,
    metric: MetricFn | None = None,
    lock_wait_seconds: float = 0.0,
) -> ExpiryReport:
    """Revoke every grant of `region` past its end and not yet revoked: the fallback for a schedule that was
    lost or whose revocation failed. One targeted run per cluster (the Enforcer records, counts and alarms
    what it could not revoke, and audits what it did); a grant whose cluster has no baseline any more is
    recorded and alarmed."""
    report = ExpiryReport()
    due: dict[str, list[Grant]] = {}
    for grant in grants.unrevoked():
        if grant.region == region and grant.state(now) == "ending":
            due.setdefault(grant.cluster, []).append(grant)
    for cluster, ended in sorted(due.items()):
        targets = sorted({g.principal_arn for g in ended})
        trigger = Trigger("expiry", f"{len(ended)} grant(s) past their end, not yet revoked (the sweep)")
        try:
            run = enforcer.run(
                cluster, region, trigger=trigger, principals=targets, lock_wait_seconds=lock_wait_seconds
            )
        except ClusterBusy:
            report.busy.append(cluster)
            continue
        except Exception as exc:  # one cluster's failure must not stop the others
            for grant in ended:
                report.failures.append(f"grant {grant.grant_id} on {cluster}: {_describe(exc)}")
            _not_revocable(grants, ended, _describe(exc), notifier, metric)
            continue
        report.revoked += run.revoked
        report.failures += run.revocation_failures
        if run.skipped:
            left = [g for g in ended if g.grant_id not in run.revoked]
            report.failures += [f"grant {g.grant_id} on {cluster}: {run.skipped}" for g in left]
            _not_revocable(grants, left, run.skipped, notifier, metric)
    return report


def _not_revocable(
    grants: GrantsTable,
    ended: Iterable[Grant],
    why: str,
    notifier: Notifier | None,
    metric: MetricFn | None,
) -> None:
    """Record, count and alarm grants whose access the Enforcer could not even try to take away."""
    ended = list(ended)
    for grant in ended:
        grants.save(replace(grant, revocation_error=why))
        if metric is not None:
            metric(Metrics.REVOCATION_FAILURES, 1, "Count")
    if ended and notifier is not None:
        lines = [f"grant {g.grant_id} of {g.principal_arn}: {why}" for g in ended]
        detail = "\n".join(lines) + "\nGuard tries again on the next sweep."
        first = ended[0]
        notifier.publish(alert_note(first.cluster, first.region, "temporary access not yet revoked", detail))


# --- small helpers ------------------------------------------------------------------------------------------


def _refusals(report: RunReport) -> tuple[str, ...]:
    return report.outcome.refusals if report.outcome else ()


def _why_not_given(report: RunReport, principal: str) -> str | None:
    """Why the run did not give the principal its grant, or None when it did."""
    outcome = report.outcome
    if outcome is None:
        return report.skipped or "the run did not happen"
    for refusal in outcome.refusals:
        if principal in refusal:
            return f"the safety rules held it back: {refusal}"
    failed = [r for r in outcome.results if not r.ok]
    if failed:
        return failed[0].error or "a write failed"
    if outcome.error:
        return outcome.error
    if outcome.in_progress:
        return outcome.in_progress
    if principal in {safety.target(a) for a in outcome.unfinished}:
        return "its writes were not attempted"
    return None


def _already(grant: Grant) -> str:
    if grant.revoked_at is not None:
        how = f"ended early by {grant.ended_early_by}, " if grant.ended_early_at else ""
        gone = grant.revoked_at.isoformat()
        return f"grant {grant.grant_id} was already revoked ({how}its access gone at {gone})"
    return (
        f"grant {grant.grant_id} was already revoked by {grant.ended_early_by} at "
        f"{grant.ended_early_at.isoformat() if grant.ended_early_at else '?'}; its access is being taken away"
    )


def _outcome_json(report: RunReport) -> dict[str, Any] | None:
    return report.outcome.to_json() if report.outcome else None


def _request_json(call: Call, parsed: object) -> dict[str, Any]:
    doc: dict[str, Any] = {"method": call.method, "path": call.path}
    if call.query:
        doc["query"] = dict(call.query)
    to_json = getattr(parsed, "to_json", None)
    if callable(to_json):
        doc["body"] = to_json()
    elif call.body:
        doc["body"] = call.body[:1000] + ("..." if len(call.body) > 1000 else "")
    return doc


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _describe(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        operation = getattr(exc, "operation_name", "AWS call")
        return f"AWS {operation} failed: {error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(
            ": "
        )
    return _first_line(exc)
