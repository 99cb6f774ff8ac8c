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

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..adapters.audit_table import AuditTable, BadPageToken
from ..adapters.baseline_store import BaselineNotFound, BaselineUnreadable
from ..adapters.eks_reader import ClusterNotFound
from ..adapters.grant_schedules import GrantSchedules
from ..adapters.grants_table import GrantAlreadyEnded, GrantChanged, GrantNotFound, GrantsTable
from ..adapters.iam import identity_center_roles
from ..adapters.notifier import Notifier
from ..adapters.state_table import ClusterBusy, StateTable
from ..core import breakglass as bg
from ..core import identity_center, principals, safety
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
    Unprocessable,
)
from ..core.config import Config, Metrics
from ..core.deadline import Deadline
from ..core.describe import has_drift, plan_json, render_plan, summarize
from ..core.grants import Desired, Grant, desired_state, entry_facts
from ..core.limits import API_GATEWAY_TIMEOUT_SECONDS
from ..core.model import STANDARD, AssociatePolicy, Baseline, CreateEntry
from ..core.model import Action as EksAction
from ..core.report import Notification, Trigger, alert_note, run_note
from .enforce import Enforcer, MetricFn, Prepare, RunContext, RunReport, monotonic_deadline

API_LOCK_WAIT_SECONDS = 10.0  # the API answers within API Gateway's 29 s
# A call's budget when its handler gives none: inside API Gateway's 29 s, with room to answer.
API_SECONDS = API_GATEWAY_TIMEOUT_SECONDS - 4.0
EXPIRY_SECONDS = 170.0  # the expiry's budget when its handler gives none (its function runs 180 s)
EXPIRY_RUN_SECONDS = 30.0  # what the expiry's run needs after waiting for the grant's exact end
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
        sleep: Callable[[float], None] = time.sleep,
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
        self._sleep = sleep

    # --- every call ---------------------------------------------------------------------------------------
    def serve(self, call: Call, request: object, act: Action) -> Answer:
        """Authorize, answer a bad request, rate-limit writes, act, and audit whatever happened.
        `request` is the body parsed at the edge (a model), the ApiError its parse raised, or None."""
        identity = call.identity
        mfa = False if bg.long_term_key(identity.access_key) else None
        decided = bg.authorize(
            identity,
            self.config.oncall_principals,
            self.config.require_mfa,
            mfa,
            permission_sets=self.config.oncall_permission_sets,
            sso_roles=self._sso_roles(identity.user_arn),
        )
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

    def _sso_roles(self, caller_arn: str | None) -> list[str]:
        """The account's Identity Center roles, read (one IAM listing) only for a session of a role named like
        one of an on-call permission set; an IAM failure refuses the call like any unknown caller."""
        session = principals.parse_session(caller_arn or "")
        sets = self.config.oncall_permission_sets
        if session is None or identity_center.session_permission_set(session.role_name) not in sets:
            return []
        try:
            return identity_center_roles(self.enforcer.reconciler.iam)
        except Exception:
            self.log.exception("the Identity Center roles could not be read: the caller is not on call")
            return []

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
            # Identity Center permission sets resolved to their live roles (what the baseline owns, this run)
            return self.enforcer.reconciler.resolve(self.enforcer.store.get(cluster, self.region))
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
        """One cluster's row; a cluster that cannot be read says why in its row and never fails the list."""
        row: dict[str, Any] = {"cluster": cluster, "region": self.region, "mode": None}
        row.update(authenticationMode=None, drift=None, changes=None, refusals=None, activeGrants=None)
        row.update(unmanaged=None, unmanagedAdmins=None)  # entries outside the baseline it keeps
        try:
            desired = self.enforcer.desired(cluster, self.region)
            row["mode"] = self._mode(desired)
            ending = [g for g in desired.ending if g.revocation_error]
            row["grantsNotYetRevoked"] = [
                {"grantId": g.grant_id, "principalArn": g.principal_arn, "why": g.revocation_error}
                for g in ending
            ]
            live, plan = self.enforcer.reconciler.plan(desired.baseline)
        except (BaselineNotFound, BaselineUnreadable, ClusterNotFound) as exc:
            row["error"] = _first_line(exc)
            return row
        except Exception as exc:  # one cluster's failure (throttled, denied) must not fail the list
            self.log.exception(f"the row of {cluster} could not be read")
            row["error"] = _describe(exc)
            return row
        row.update(
            authenticationMode=live.authentication_mode,
            drift=has_drift(plan),
            changes=len(plan.actions),
            refusals=len(plan.refusals),
            activeGrants=len(desired.holding),
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
            "activeGrants": [bg.grant_json(g, self.clock()) for g in desired.holding],
        }
        detail = str(summarize(plan.actions)) if has_drift(plan) else "no drift"
        return Reply(200, body, detail)

    def grants_of(self, caller: Caller, cluster: str) -> Reply:
        self._desired(cluster)
        found = self.grants.for_cluster(cluster, self.region, include_closed=True)
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
    def restore(
        self, caller: Caller, cluster: str, request: RestoreRequest, deadline: Deadline | None = None
    ) -> Reply:
        """Bring the cluster to its baseline now. Never blocks on a mode update: 200 when done, 202 when a
        mode update is running (the rest follows on its own: the run hands its continuation on). A detect-only
        cluster is restored too: people asked (detect mode governs what the guard does on its own)."""
        mode = self._mode(self._baseline(cluster))
        trigger = Trigger(
            "restore", f"break-glass restore by {caller.arn}: {request.reason}", actor=caller.arn
        )
        left: list[str] = []

        def within_the_api_role(desired: Desired, run: RunContext) -> Desired:
            """The API's role may associate only the grant policies, and pass no node role: what it may not
            do is left to the remediation's role (a continuation), and said; the rest goes ahead, pruning
            included, under the safety rules."""

            def keep(actions: Sequence[EksAction]) -> list[EksAction]:
                kept = []
                for action in actions:
                    why = self._outside_the_api_role(action)
                    if why is None:
                        kept.append(action)
                    else:
                        run.left_out.append(action)
                        if why not in left:
                            left.append(why)
                return kept

            run.keep = keep
            return desired

        report = self._run(
            cluster,
            trigger,
            dry_run=request.dry_run,
            deadline=deadline,
            override_detect=True,
            prepare=None if request.dry_run else within_the_api_role,
        )
        outcome = report.outcome
        if outcome is None:
            raise NotFound(report.skipped or f"{cluster} is not managed")
        body: dict[str, Any] = {
            "cluster": cluster,
            "region": self.region,
            "dryRun": request.dry_run,
            "mode": mode,
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
        body["reachedBaseline"] = outcome.reached_baseline and not left
        body["text"] = note.text if note else f"Cluster {cluster} ({self.region}): no drift; nothing to do.\n"
        body["leftToRemediation"] = left
        if left:
            body["text"] += "".join(f"Left to the remediation: {why}\n" for why in left)
            body["status"] = "in-progress"
            body["continues"] = report.continued
            detail = "; ".join(left) + (
                "; the remediation follows on its own" if report.continued else "; the next sweep does it"
            )
            body["message"] = detail
            return Reply(202, body, detail, run_text=body["text"])
        if outcome.in_progress:
            body["status"] = "in-progress"
            body["continues"] = report.continued
            follow = "the rest follows on its own" if report.continued else "the next sweep continues it"
            detail = f"in progress: {outcome.in_progress}; {follow}"
            body["message"] = detail
            return Reply(202, body, detail, run_text=body["text"])
        body["status"] = "done"
        detail = (
            f"restored to the baseline ({len(outcome.written)} writes)"
            if outcome.reached_baseline
            else "not at its baseline: " + (outcome.error or "; ".join(outcome.refusals) or "see the outcome")
        )
        return Reply(200, body, detail, run_text=body["text"])

    # --- held admins (holdNewAdminsMinutes) -----------------------------------------------------------------
    def release_held(self, caller: Caller, cluster: str, request: bg.ReleaseRequest) -> Reply:
        """Give now a cluster admin a baseline change holds back (or every held one), with a reason."""
        self._baseline(cluster)  # managed, and its baseline usable
        store = self.enforcer.store
        release = getattr(store, "release", None)  # the trusted store holds admins; a plain one never does
        released = (
            release(cluster, self.region, request.principal_arn, by=caller.arn, reason=request.reason)
            if release is not None
            else []
        )
        if not released:
            who = request.principal_arn or "no admin"
            raise NotFound(f"{who} is not held on {cluster}: nothing to release")
        trigger = Trigger(
            "baseline",
            f"held cluster admin(s) {', '.join(released)} released by {caller.arn}: {request.reason}",
            actor=caller.arn,
        )
        report = self._run(cluster, trigger, principals=released)
        outcome = report.outcome
        note = run_note(trigger, outcome, detect=False) if outcome is not None else None
        text = note.text if note else f"Released {', '.join(released)} on {cluster}.\n"
        body = {
            "cluster": cluster,
            "region": self.region,
            "released": released,
            "outcome": outcome.to_json() if outcome is not None else None,
            "text": text,
        }
        return Reply(200, body, f"released {', '.join(released)}", run_text=text)

    # --- grants --------------------------------------------------------------------------------------------
    def grant(
        self, caller: Caller, cluster: str, request: GrantRequest, deadline: Deadline | None = None
    ) -> Reply:
        """Give temporary access. Recorded and given in one run under the cluster's lock (so the safety module
        judges it, and no other writer acts on a read made before it): 201 `active` once the access is seen
        live; 202 `pending` when a mode update must land first (it becomes active on its own); 409 or 422
        with the reason when it cannot be given, and then nothing is active and nothing scheduled."""
        self._baseline(cluster)  # 404 for a cluster this deployment does not manage
        principal = bg.grant_principal(caller, request, self.config.oncall_principals)
        grant_id = self._new_id()

        def prepare(desired: Desired, run: RunContext) -> Desired:
            owned = desired.owned
            limit = bg.max_minutes(self.config.max_grant_minutes, owned.settings.break_glass_max_minutes)
            if request.duration_minutes > limit:
                raise BadRequest(
                    f"durationMinutes must be between 1 and {limit} on {cluster} (its baseline's maximum), "
                    f"got {request.duration_minutes}"
                )
            live = run.reconciler.read(desired.baseline, only=[principal])
            entry = live.entries.get(principal)
            why = bg.grant_conflict(owned, entry, principal, request.policy_arn, request.scope)
            if why is not None:
                raise Conflict(why)
            facts = entry_facts(desired.grants, principal, request.policy_arn, request.scope.normal(), entry)
            now = self.clock()
            new = self.grants.put_new(
                Grant(
                    grant_id=grant_id,
                    cluster=cluster,
                    region=self.region,
                    principal_arn=principal,
                    policy_arn=request.policy_arn,
                    scope=request.scope.normal(),
                    reason=request.reason,
                    requested_by=caller.arn,
                    created_at=now,
                    ends_at=now + timedelta(minutes=request.duration_minutes),
                    created_entry=facts.created_entry,
                    policy_was_there=facts.policy_was_there,
                    scope_before=facts.scope_before,
                )
            )
            run.giving = new.grant_id
            return desired_state(owned, [*desired.grants, new], now, giving=new.grant_id)

        trigger = Trigger("grant", f"break-glass grant by {caller.arn}: {request.reason}", actor=caller.arn)
        report = self._run(
            cluster, trigger, principals=[principal], deadline=deadline, override_detect=True, prepare=prepare
        )
        grant = report.settled.get(grant_id) or self.grants.find(cluster, self.region, grant_id)
        if grant is None:
            raise Failed(f"the grant could not be given: {report.skipped or 'the run did not record it'}")
        if grant.status not in ("active", "pending"):
            why = grant.failure or grant.revocation_error or "its access is not live after the run"
            tail = (
                "nothing was left behind"
                if grant.closed
                else "it is ended and what it wrote goes with the next run"
            )
            kind: type[ApiError] = Conflict if why.startswith("the safety rules") else Unprocessable
            raise kind(f"the grant could not be given: {why}; {tail}", grant_id=grant_id)
        if self.schedules is not None:
            try:
                self.schedules.create(grant, now=self.clock())
            except Exception as exc:  # a missing group, no permission: take the grant back
                raise self._fail(
                    grant, f"its end could not be scheduled: {_describe(exc)}", deadline
                ) from None
        note = run_note(trigger, report.outcome, detect=False) if report.outcome else None
        body: dict[str, Any] = {"grant": bg.grant_json(grant, self.clock()), "outcome": _outcome_json(report)}
        if grant.status == "pending":
            expected = self.clock() + timedelta(seconds=self.config.mode_update_wait_seconds)
            message = (
                f"grant {grant_id} is pending: {grant.pending_reason}; it becomes active on its own when the "
                f"update lands (expected by {expected.isoformat(timespec='seconds')}); it still ends at "
                f"{grant.ends_at.isoformat(timespec='seconds')}"
            )
            body.update(message=message, expectedBy=expected.isoformat(timespec="seconds"))
            return Reply(202, body, message, grant_id=grant_id, run_text=note.text if note else "")
        return Reply(
            201,
            body,
            f"granted {bg.describe_grant(grant)}",
            grant_id=grant_id,
            run_text=note.text if note else "",
        )

    def _outside_the_api_role(self, action: EksAction) -> str | None:
        """Why the API's role may not make this write (its IAM policy: associations of the grant policies
        only, no node roles passed), or None."""
        if (
            isinstance(action, AssociatePolicy)
            and action.association.policy_arn not in self.config.grant_policies
        ):
            name = action.association.policy_arn.rsplit("/", 1)[-1]
            return f"policy {name} is outside the grant policies: the remediation's role restores it"
        if isinstance(action, CreateEntry) and action.spec.type != STANDARD:
            return f"{action.spec.type} entry {action.spec.principal_arn}: the remediation's role restores it"
        return None

    def _fail(self, grant: Grant, why: str, deadline: Deadline | None) -> ApiError:
        """End a grant that could not be scheduled and take back what it wrote; the error to answer with."""
        self.log.warning(f"grant {grant.grant_id} could not be given: {why}")
        back = False
        try:
            self.grants.end_early(grant, at=self.clock(), by=GUARD, failure=why)
            report = self._run(
                grant.cluster,
                Trigger("revoke", f"grant {grant.grant_id} could not be given ({why}): taking it back"),
                principals=[grant.principal_arn],
                deadline=deadline,
                when_busy="mark",
            )
            back = grant.grant_id in report.revoked
        except Exception as exc:  # the sweep takes it back: the grant is ending in the table
            self.log.exception(f"grant {grant.grant_id} could not be taken back at once")
            why += f"; taking it back failed ({_describe(exc)}), the sweep tries again"
        tail = "nothing was left behind" if back else "it is ended and its access goes with the next run"
        return Failed(f"the grant could not be given: {why}; {tail}", grant_id=grant.grant_id)

    def revoke(
        self,
        caller: Caller,
        cluster: str,
        grant_id: str,
        deadline: Deadline | None = None,
        reason: str | None = None,
    ) -> Reply:
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
        report = self._run(
            cluster, trigger, principals=[grant.principal_arn], deadline=deadline, when_busy="mark"
        )
        now = self.clock()
        current = self.grants.get(cluster, self.region, grant_id)
        body: dict[str, Any] = {"grant": bg.grant_json(current, now), "outcome": _outcome_json(report)}
        note = run_note(trigger, report.outcome, detect=False) if report.outcome else None
        if current.closed:
            return Reply(200, body, f"revoked grant {grant_id} early", grant_id, note.text if note else "")
        why = current.revocation_error or report.skipped or "not yet"
        message = f"grant {grant_id} is ended; its access is not gone yet ({why}): Guard retries"
        body["message"] = message
        return Reply(202, body, message, grant_id, note.text if note else "")

    # --- expiry --------------------------------------------------------------------------------------------
    def expire(self, cluster: str, region: str, grant_id: str, deadline: Deadline | None = None) -> str:
        """The scheduled end of one grant: re-read it, wait for its exact end if the schedule fired early
        (Scheduler fires within a minute; the schedule is set a minute ahead), and take its access away.
        One line saying what was done; RevocationFailed (after recording, counting and alarming it) when its
        access is still there, so that Lambda retries."""
        deadline = deadline or monotonic_deadline(EXPIRY_SECONDS)
        grant = self.grants.find(cluster, region, grant_id)
        if grant is None:
            return f"grant {grant_id} on {cluster} is not in the table: nothing to do"
        if grant.closed:  # the run that took its access away audited it
            return f"grant {grant_id} is already {grant.status}"
        early = (grant.ends_at - self.clock()).total_seconds()
        if early > 0 and grant.ended_early_at is None:
            if early > deadline.left_for(EXPIRY_RUN_SECONDS):
                if self.schedules is None:
                    return f"grant {grant_id} is not due until {grant.ends_at.isoformat()}: nothing to do"
                self.schedules.create(grant, now=self.clock(), replace=True)
                return f"grant {grant_id} is not due until {grant.ends_at.isoformat()}: its end is re-armed"
            self._sleep(early)
        trigger = Trigger("expiry", f"grant {grant_id} of {grant.principal_arn} ended at {grant.ends_at}")
        report = self._run(
            cluster, trigger, principals=[grant.principal_arn], deadline=deadline, when_busy="mark"
        )
        current = self.grants.find(cluster, region, grant_id) or grant
        if current.closed:
            line = f"grant {grant_id} ended ({current.status}): {bg.describe_grant(grant)}"
            note = run_note(trigger, report.outcome, detect=False) if report.outcome else None
            record = bg.grant_end_record(
                current, at=self.clock(), ok=True, line=line, request_id=f"expiry-{grant_id}"
            )
            self._tell(bg.breakglass_note(record, note.text if note else ""))
            return line
        if report.busy:
            return f"grant {grant_id}: the cluster is held by another run, which takes its access away next"
        why = "; ".join(report.revocation_failures) or report.skipped or "the run did not reach it"
        line = f"grant {grant_id} is not revoked yet: {why}"
        if report.skipped and not report.revocation_failures:
            self._skipped([current], report.skipped)
        raise RevocationFailed(line)

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
        deadline: Deadline | None = None,
        override_detect: bool = False,
        prepare: Prepare | None = None,
        when_busy: str = "raise",
    ) -> RunReport:
        deadline = deadline or monotonic_deadline(API_SECONDS)
        try:
            report = self.enforcer.run(
                cluster,
                self.region,
                trigger=trigger,
                principals=principals,
                dry_run=dry_run,
                deadline=deadline,
                lock_wait_seconds=self.lock_wait_seconds,
                wait_for_mode=False,  # never block on a mode update: the run hands its continuation on
                override_detect=override_detect,
                prepare=prepare,
                when_busy=when_busy,
            )
        except ClusterBusy as exc:
            raise Conflict(f"{exc}") from None
        except ClusterNotFound as exc:
            raise NotFound(_first_line(exc)) from None
        if report.missing:
            raise NotFound(report.skipped or f"{cluster} does not exist")
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
    deadline: Deadline | None = None,
) -> ExpiryReport:
    """Revoke every grant of `region` past its end and not yet closed (and take back grants whose run died
    while giving them): the fallback for a schedule that was lost or whose revocation failed or was held by
    the safety rules. One targeted run per cluster (the Enforcer records, counts and alarms what it could not
    revoke, and audits what it did); a grant whose cluster has no baseline any more is recorded and alarmed.
    """
    report = ExpiryReport()
    due: dict[str, list[Grant]] = {}
    for grant in grants.unclosed():
        if grant.region == region and grant.state(now) in ("ending", "requested"):
            due.setdefault(grant.cluster, []).append(grant)
    for cluster, ended in sorted(due.items()):
        targets = sorted({g.principal_arn for g in ended})
        trigger = Trigger("expiry", f"{len(ended)} grant(s) past their end, not yet revoked (the sweep)")
        try:
            run = enforcer.run(
                cluster,
                region,
                trigger=trigger,
                principals=targets,
                lock_wait_seconds=lock_wait_seconds,
                deadline=deadline,
                when_busy="mark",
            )
        except Exception as exc:  # one cluster's failure must not stop the others
            for grant in ended:
                report.failures.append(f"grant {grant.grant_id} on {cluster}: {_describe(exc)}")
            _not_revocable(grants, ended, _describe(exc), notifier, metric)
            continue
        if run.busy:
            report.busy.append(cluster)
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
        with contextlib.suppress(GrantChanged):  # another run moved it meanwhile: it is that run's to tell
            grants.transition(grant, revocation_error=why)
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
