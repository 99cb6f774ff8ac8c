"""The reconciler: read the live configuration, plan (pure, `planner.plan`), and apply the plan safely.

Apply, round by round: read, plan, check the plan against the safety rules again (a second layer beside the
planner's), then run it phase by phase in the planner's order (mode upgrade, deletions of entries bound to a
recreated principal, creates, updates, associations, disassociations, and deletions of entries not in the
baseline strictly last). Independent actions of one phase run concurrently (bounded). Each action is exactly
one EKS write. A failed action stops the run: later phases are not attempted and the outcome says what was
done, what failed and what was not attempted. After a mode upgrade (the cluster now shows entries it could
not before), a 409 on create (the entry exists: compare and update) or a mode update already running, the
reconciler reads and plans again instead of guessing. Throttling and server errors are retried by botocore
(`clients.py`); nothing here retries them by hand.

In detect mode (`accessGuard.mode: detect`) nothing is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.clients import error_code
from ..adapters.eks_reader import DEFAULT_CONCURRENCY, ClusterNotFound, EksReader
from ..core import planner
from ..core.describe import action_json
from ..core.model import (
    STANDARD,
    Action,
    AssociatePolicy,
    Baseline,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    LiveState,
    Plan,
    UpdateEntry,
    UpgradeMode,
)
from ..core.planner import grants_admin

__all__ = ["ActionResult", "ClusterNotFound", "Outcome", "Reconciler", "check_safety"]

MAX_ROUNDS = 6

PlanFn = Callable[[Baseline, LiveState], Plan]


@dataclass(frozen=True)
class ActionResult:
    action: Action
    ok: bool
    error: str | None = None
    note: str | None = None  # e.g. "already existed" for a create answered with 409


@dataclass(frozen=True)
class Outcome:
    plan: Plan  # the plan of the first round (what the operator was shown)
    live: LiveState  # the live state that plan was made from
    applied: bool  # False in detect mode (and when the run could not start)
    results: tuple[ActionResult, ...] = ()
    not_attempted: tuple[Action, ...] = ()
    error: str | None = None  # a failure not tied to one action (e.g. a mode update that never finished)

    @property
    def succeeded(self) -> bool:
        return (
            self.applied and self.error is None and not self.not_attempted and all(r.ok for r in self.results)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.plan.cluster,
            "region": self.plan.region,
            "applied": self.applied,
            "succeeded": self.succeeded,
            "planned": [action_json(a) for a in self.plan.actions],
            "warnings": list(self.plan.warnings),
            "refusals": list(self.plan.refusals),
            "done": [
                {"action": action_json(r.action), **({"note": r.note} if r.note else {})}
                for r in self.results
                if r.ok
            ],
            "failed": [{"action": action_json(r.action), "error": r.error} for r in self.results if not r.ok],
            "notAttempted": [action_json(a) for a in self.not_attempted],
            "error": self.error,
        }


# --- the safety rules, again (pure) ----------------------------------------------------------------------


def _is_prune(action: Action) -> bool:
    return isinstance(action, DeleteEntry) and action.reason == "not-in-baseline"


def check_safety(
    baseline: Baseline, live: LiveState, plan: Plan, is_kept: Callable[[str, str], bool] | None = None
) -> Plan:
    """The plan with every not-in-baseline deletion removed if any safety rule would be broken by them.

    Rules (also enforced by the planner; this is the second layer): never prune when pruning is off or the
    baseline is empty; never delete a baseline or kept entry as "not in baseline"; never delete more than
    `max_deletions` (all or none); never leave the cluster without an admin path when the baseline asks for
    one. Deletions of entries bound to a recreated principal are followed by a re-create and stay.
    """
    prunes = [a for a in plan.actions if _is_prune(a)]
    if not prunes:
        return plan
    settings = baseline.settings
    wanted = {s.principal_arn for s in baseline.entries}
    reasons: list[str] = []
    if not baseline.entries:
        reasons.append("the baseline has no entries: never prune from an empty baseline")
    if not settings.prune:
        reasons.append("pruning is off in the baseline")
    if len(prunes) > settings.max_deletions:
        reasons.append(f"{len(prunes)} deletions exceed the limit of {settings.max_deletions}")
    for action in prunes:
        assert isinstance(action, DeleteEntry)
        live_entry = live.entries.get(action.principal_arn)
        entry_type = live_entry.type if live_entry else action.entry_type
        if action.principal_arn in wanted:
            reasons.append(f"{action.principal_arn} is in the baseline")
        elif is_kept is not None and is_kept(action.principal_arn, entry_type):
            reasons.append(f"{action.principal_arn} matches a keep rule")
    baseline_admins = {
        s.principal_arn for s in baseline.entries if s.type == STANDARD and grants_admin(s.policies)
    }
    if baseline_admins:
        deleted = {a.principal_arn for a in prunes if isinstance(a, DeleteEntry)}
        remaining = {arn for arn in baseline_admins if arn not in live.missing_principals}
        remaining |= {
            arn
            for arn, e in live.entries.items()
            if arn not in deleted and e.principal_status in ("ok", "unknown") and grants_admin(e.policies)
        }
        if not remaining:
            reasons.append("the deletions would leave no admin path the baseline asks for")
    if not reasons:
        return plan
    refusal = "not deleting " + ", ".join(a.principal_arn for a in prunes if isinstance(a, DeleteEntry))
    refusal += " (" + "; ".join(reasons) + ")"
    return replace(
        plan, actions=tuple(a for a in plan.actions if not _is_prune(a)), refusals=(*plan.refusals, refusal)
    )


def _phase(action: Action) -> int:
    if isinstance(action, UpgradeMode):
        return 0
    if isinstance(action, DeleteEntry):
        return 6 if action.reason == "not-in-baseline" else 1
    if isinstance(action, CreateEntry):
        return 2
    if isinstance(action, UpdateEntry):
        return 3
    if isinstance(action, AssociatePolicy):
        return 4
    return 5  # DisassociatePolicy


def phases(actions: Sequence[Action]) -> list[list[Action]]:
    """The actions grouped by phase, phases in apply order, the planner's order kept within a phase."""
    grouped: dict[int, list[Action]] = {}
    for action in actions:
        grouped.setdefault(_phase(action), []).append(action)
    return [grouped[k] for k in sorted(grouped)]


def _describe_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', str(exc))}"
    return f"{type(exc).__name__}: {exc}"


class _Replan(Exception):
    """Internal: the live state moved under the plan; read and plan again."""


# --- the shell -------------------------------------------------------------------------------------------


class Reconciler:
    def __init__(
        self,
        *,
        eks: Any,
        iam: Any,
        concurrency: int = DEFAULT_CONCURRENCY,
        mode_update_poll_seconds: float = 5.0,
        mode_update_timeout_seconds: float = 1800.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        plan_fn: PlanFn | None = None,
    ) -> None:
        self._eks = eks
        self._reader = EksReader(eks=eks, iam=iam, concurrency=concurrency)
        self.concurrency = concurrency
        self.poll_seconds = mode_update_poll_seconds
        self.timeout_seconds = mode_update_timeout_seconds
        self._sleep = sleep
        self._clock = clock
        self._plan_fn = plan_fn

    # --- reading and planning ------------------------------------------------------------------------
    def _check_region(self, region: str) -> None:
        client_region = getattr(getattr(self._eks, "meta", None), "region_name", None)
        if client_region and client_region != region:
            raise ValueError(f"the baseline is for region {region} but the EKS client is for {client_region}")

    def read(self, baseline: Baseline) -> LiveState:
        self._check_region(baseline.region)
        return self._reader.read(
            baseline.cluster, baseline.region, (s.principal_arn for s in baseline.entries)
        )

    def read_cluster(self, cluster: str, region: str) -> LiveState:
        self._check_region(region)
        return self._reader.read(cluster, region)

    def _plan_of(self, baseline: Baseline, live: LiveState) -> Plan:
        return self._checked(baseline, live, (self._plan_fn or planner.plan)(baseline, live))

    @staticmethod
    def _checked(baseline: Baseline, live: LiveState, plan: Plan) -> Plan:
        return check_safety(baseline, live, plan, lambda arn, type_: baseline.settings.keeps(arn, type_))

    def plan(self, baseline: Baseline) -> tuple[LiveState, Plan]:
        live = self.read(baseline)
        return live, self._plan_of(baseline, live)

    # --- applying ------------------------------------------------------------------------------------
    def apply(self, baseline: Baseline, approved: tuple[LiveState, Plan] | None = None) -> Outcome:
        """Read, plan and apply until nothing is left to do (bounded); in detect mode, write nothing.

        `approved` is the (live state, plan) an operator was shown and confirmed (from `plan()`): the first
        round applies exactly that plan, checked against the safety rules again, instead of reading the
        cluster a second time. Later rounds (after a mode upgrade, or a 409) read and plan afresh.
        """
        if baseline.settings.mode == "detect":
            live, plan = approved or self.plan(baseline)
            return Outcome(plan=plan, live=live, applied=False, not_attempted=plan.actions)
        first: tuple[LiveState, Plan] | None = None
        results: list[ActionResult] = []
        for round_ in range(MAX_ROUNDS):
            if round_ == 0 and approved is not None and not approved[0].update_in_progress:
                live, plan = approved[0], self._checked(baseline, *approved)
            else:
                live = self.read(baseline)
                if live.update_in_progress:
                    if not self._wait_active(baseline.cluster):
                        plan = self._plan_of(baseline, live)
                        first = first or (live, plan)
                        return Outcome(
                            first[1],
                            first[0],
                            True,
                            tuple(results),
                            plan.actions,
                            error="an authentication-mode update is still running; nothing done this round",
                        )
                    live = self.read(baseline)
                plan = self._plan_of(baseline, live)
            if first is None:
                first = (live, plan)
            if plan.is_empty:
                return Outcome(first[1], first[0], True, tuple(results))
            done, not_attempted, replan = self._run(baseline.cluster, plan)
            results.extend(done)
            if not_attempted or not all(r.ok for r in done):
                return Outcome(first[1], first[0], True, tuple(results), tuple(not_attempted))
            if not replan:
                return Outcome(first[1], first[0], True, tuple(results))
        live = self.read(baseline)
        plan = self._plan_of(baseline, live)
        assert first is not None
        error = None if plan.is_empty else f"still drifting after {MAX_ROUNDS} rounds"
        return Outcome(first[1], first[0], True, tuple(results), plan.actions, error=error)

    def _run(self, cluster: str, plan: Plan) -> tuple[list[ActionResult], list[Action], bool]:
        """Run one plan; returns (results, not attempted, whether to read and plan again)."""
        results: list[ActionResult] = []
        groups = phases(plan.actions)
        for index, group in enumerate(groups):
            later = [a for g in groups[index + 1 :] for a in g]
            if isinstance(group[0], UpgradeMode):
                # One step, then the cluster looks different (entries become visible): plan again.
                action = group[0]
                assert isinstance(action, UpgradeMode)
                try:
                    result = self._upgrade_mode(cluster, action)
                except _Replan:
                    return results, [], True
                results.append(result)
                if not result.ok:
                    return results, [*group[1:], *later], False
                return results, [], True
            outcomes = self._run_phase(cluster, group)
            results.extend(r for r, _ in outcomes)
            if not all(r.ok for r, _ in outcomes):
                return results, later, False
            if any(replan for _, replan in outcomes):
                return results, [], True
        return results, [], False

    def _run_phase(self, cluster: str, group: list[Action]) -> list[tuple[ActionResult, bool]]:
        if len(group) == 1 or self.concurrency == 1:
            return [self._execute(cluster, a) for a in group]
        with ThreadPoolExecutor(min(self.concurrency, len(group)), thread_name_prefix="eks-write") as pool:
            return list(pool.map(lambda a: self._execute(cluster, a), group))

    def _execute(self, cluster: str, action: Action) -> tuple[ActionResult, bool]:
        """One EKS write. Returns the result and whether the live state needs a fresh read."""
        eks = self._eks
        try:
            if isinstance(action, CreateEntry):
                spec = action.spec
                kwargs: dict[str, Any] = {
                    "clusterName": cluster,
                    "principalArn": spec.principal_arn,
                    "type": spec.type,
                }
                if spec.type == STANDARD:
                    if spec.username is not None:
                        kwargs["username"] = spec.username
                    if spec.kubernetes_groups:
                        kwargs["kubernetesGroups"] = list(spec.kubernetes_groups)
                try:
                    eks.create_access_entry(**kwargs)
                except ClientError as exc:
                    if error_code(exc) != "ResourceInUseException":
                        raise
                    # It exists already (made since we read): the fresh read that follows describes it, and
                    # the fresh plan compares and updates it (one full read: a rare race, not the usual path).
                    return ActionResult(action, True, note="already existed; compared again"), True
            elif isinstance(action, UpdateEntry):
                eks.update_access_entry(
                    clusterName=cluster,
                    principalArn=action.principal_arn,
                    username=action.username,
                    kubernetesGroups=list(action.kubernetes_groups),
                )
            elif isinstance(action, AssociatePolicy):
                eks.associate_access_policy(
                    clusterName=cluster,
                    principalArn=action.principal_arn,
                    policyArn=action.association.policy_arn,
                    accessScope=action.association.scope.to_api(),
                )
            elif isinstance(action, DisassociatePolicy):
                try:
                    eks.disassociate_access_policy(
                        clusterName=cluster, principalArn=action.principal_arn, policyArn=action.policy_arn
                    )
                except ClientError as exc:
                    if error_code(exc) != "ResourceNotFoundException":
                        raise
                    return ActionResult(action, True, note="already gone"), False
            elif isinstance(action, DeleteEntry):
                try:
                    eks.delete_access_entry(clusterName=cluster, principalArn=action.principal_arn)
                except ClientError as exc:
                    if error_code(exc) != "ResourceNotFoundException":
                        raise
                    return ActionResult(action, True, note="already gone"), False
            else:  # pragma: no cover - UpgradeMode runs through _upgrade_mode
                raise TypeError(f"not a phase action: {action!r}")
        except (ClientError, BotoCoreError) as exc:
            return ActionResult(action, False, _describe_error(exc)), False
        return ActionResult(action, True), False

    def _upgrade_mode(self, cluster: str, action: UpgradeMode) -> ActionResult:
        try:
            response = self._eks.update_cluster_config(
                name=cluster, accessConfig={"authenticationMode": action.target}
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceInUseException":
                # An update is already running: let it finish, then look again.
                if self._wait_active(cluster):
                    raise _Replan() from exc
                return ActionResult(action, False, "an update already running did not finish in time")
            return ActionResult(action, False, _describe_error(exc))
        except BotoCoreError as exc:
            return ActionResult(action, False, _describe_error(exc))
        update_id = response["update"]["id"]
        status = response["update"].get("status", "InProgress")
        deadline = self._clock() + self.timeout_seconds
        while status == "InProgress":
            if self._clock() >= deadline:
                return ActionResult(
                    action, False, f"mode update {update_id} still InProgress after the timeout"
                )
            self._sleep(self.poll_seconds)
            try:
                update = self._eks.describe_update(name=cluster, updateId=update_id)["update"]
            except (ClientError, BotoCoreError) as exc:
                return ActionResult(action, False, _describe_error(exc))
            status = update.get("status", "InProgress")
            errors = update.get("errors") or []
        if status != "Successful":
            detail = (
                "; ".join(str(e.get("errorMessage", e)) for e in errors) if status != "InProgress" else ""
            )
            return ActionResult(
                action, False, f"mode update {update_id} ended {status}" + (f": {detail}" if detail else "")
            )
        return ActionResult(action, True)

    def _wait_active(self, cluster: str) -> bool:
        deadline = self._clock() + self.timeout_seconds
        while True:
            status = self._reader.describe_cluster(cluster).get("status")
            if status != "UPDATING":
                return True
            if self._clock() >= deadline:
                return False
            self._sleep(self.poll_seconds)
