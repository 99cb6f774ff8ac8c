"""Reconcile: read the live configuration, plan (pure, `core.planner`), and apply the plan safely.

Every EKS write of the service goes through `Reconciler.apply`, and so through `core.safety`.

A run goes round by round: read, plan, then the plan's phases in order (see `core.planner`). Before a phase
that would remove an admin path, the safety gate judges it against fresh state: when anything was written
since the read (or the baseline's admins were not part of a targeted read), the baseline admins' entries are
read again first. A failed write stops the run: later phases are not attempted and the outcome says what
was done, what failed and what was not attempted. After a mode step, or a create answered 409, the next
round reads and plans afresh instead of guessing.

An approved plan (one an operator was shown) runs only against the state it was made from: the cluster is
read again and, if the plan made from it differs, nothing is written ("the cluster changed since this plan").

Mode updates: our own is waited on, bounded by the setting and by the run's deadline (less what the run
still needs), or not at all for a caller that must answer at once (the API); one still running at the bound
ends the run "in progress" (the next run continues), as does an update of another kind (a version upgrade)
that keeps the mode step from starting. Entry work never waits for someone else's update.

Deadlines: a run with too little time left for another phase stops between phases (never inside one), with
what it did not attempt and "in progress": a prefix of a run is safe by the planner's order, and the next run
continues.

`keep` narrows every plan to some of its actions (a detect-only cluster's run does only the grants' work).

In detect mode nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..adapters.eks_reader import DEFAULT_CONCURRENCY, EksReader
from ..adapters.eks_writer import ClusterBusy, EksWriter, WriteFailed
from ..adapters.iam import identity_center_roles
from ..core import identity_center, planner, safety
from ..core.deadline import PHASE_SECONDS, Deadline
from ..core.model import Action, Baseline, LiveState, Plan, UpgradeMode
from ..core.outcome import ActionResult, Outcome
from ..core.planner import PlanFn

MAX_ROUNDS = 6
STALE_PLAN = "the cluster changed since this plan; plan again"
BUSY = "another update is running on the cluster; the authentication-mode change waits for the next run"
OUT_OF_TIME = "the run's time is up: it stopped between phases, and the next run continues"
Keep = Callable[[Sequence[Action]], Sequence[Action]]


@dataclass
class _Run:
    """What one round did."""

    results: list[ActionResult] = field(default_factory=list)
    not_attempted: list[Action] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    held: list[Action] = field(default_factory=list)
    replan: bool = False
    mode_moved: bool = False
    in_progress: str | None = None

    @property
    def stopped(self) -> bool:
        return bool(self.not_attempted) or not all(r.ok for r in self.results)


class Reconciler:
    def __init__(
        self,
        *,
        eks: Any,
        iam: Any,
        concurrency: int = DEFAULT_CONCURRENCY,
        mode_update_poll_seconds: float = 5.0,
        mode_update_timeout_seconds: float = 120.0,
        plan_fn: PlanFn | None = None,
    ) -> None:
        self._reader = EksReader(eks=eks, iam=iam, concurrency=concurrency)
        self.iam = iam  # IAM of the cluster's account (Identity Center roles, `resolve`)
        self._writer = EksWriter(eks)
        self.concurrency = concurrency
        self.poll_seconds = mode_update_poll_seconds
        self.timeout_seconds = mode_update_timeout_seconds
        self._plan_fn = plan_fn or planner.plan

    # --- reading and planning ------------------------------------------------------------------------
    def resolve(self, baseline: Baseline) -> Baseline:
        """The baseline with its IAM Identity Center permission sets resolved to their live roles (one IAM
        listing for all of them, this once); a baseline without permission sets as it is, with no call."""
        if not baseline.permission_sets or baseline.resolved or baseline.unresolved:
            return baseline
        return identity_center.resolve(baseline, identity_center_roles(self.iam))

    def _check_region(self, region: str) -> None:
        if self._reader.region and self._reader.region != region:
            raise ValueError(
                f"the baseline is for region {region} but the EKS client is for {self._reader.region}"
            )

    def read(self, desired: Baseline, only: Iterable[str] | None = None) -> LiveState:
        """The live state: the whole cluster, or with `only` just those principals' entries."""
        self._check_region(desired.region)
        # an event about a permission set's role (old or new) covers the set's entry wherever it now lives
        targets = None if only is None else identity_center.widen(desired, only)
        interest = [s.principal_arn for s in desired.entries if targets is None or s.principal_arn in targets]
        return self._reader.read(desired.cluster, desired.region, interest, only=targets)

    def read_cluster(self, cluster: str, region: str) -> LiveState:
        self._check_region(region)
        return self._reader.read(cluster, region)

    def plan(
        self, desired: Baseline, only: Iterable[str] | None = None, keep: Keep | None = None
    ) -> tuple[LiveState, Plan]:
        live = self.read(desired, only)
        return live, self._plan_of(desired, live, keep)

    def _plan_of(self, desired: Baseline, live: LiveState, keep: Keep | None = None) -> Plan:
        # Reviewed again whatever made the plan: the safety rules are never optional.
        plan = safety.review(desired, live, self._plan_fn(desired, live))
        if keep is None:
            return plan
        kept = tuple(keep(plan.actions))
        return Plan(plan.cluster, plan.region, kept, plan.warnings, plan.refusals, plan.held)

    # --- applying ------------------------------------------------------------------------------------
    def apply(
        self,
        desired: Baseline,
        approved: tuple[LiveState, Plan] | None = None,
        *,
        only: Iterable[str] | None = None,
        deadline: Deadline | None = None,
        wait_for_mode: bool = True,
        keep: Keep | None = None,
    ) -> Outcome:
        """Read, plan and apply until nothing is left to do (bounded); in detect mode, write nothing.

        `approved` is the (live state, plan) an operator was shown and confirmed: it runs only if a fresh
        read plans exactly the same actions. `only` limits the run to those principals (a targeted
        reconcile); after a mode step, later rounds read the whole cluster. `deadline` bounds the run (it
        stops between phases when time is short); `wait_for_mode=False` starts a mode update without waiting
        for it (the run ends "in progress"); `keep` narrows each plan.
        """
        targets = None if only is None else frozenset(only)
        if desired.settings.mode == "detect":
            live, plan = self.plan(desired, targets, keep)
            return Outcome(
                plan,
                live,
                False,
                not_attempted=plan.actions,
                refusals=plan.refusals,
                held=plan.held,
                warnings=plan.warnings,
            )
        first: tuple[LiveState, Plan] | None = None
        results: list[ActionResult] = []
        refusals: list[str] = []
        held: list[Action] = []
        last: Plan | None = None
        for round_ in range(MAX_ROUNDS):
            live, plan = self.plan(desired, targets, keep)
            if round_ == 0 and approved is not None:
                if plan.actions != approved[1].actions:
                    return Outcome(approved[1], approved[0], False, error=STALE_PLAN)
                first = approved
            first = first or (live, plan)
            last = plan
            if plan.is_empty:
                break
            run = self._run(desired, live, plan, deadline, wait_for_mode)
            results.extend(run.results)
            refusals.extend(run.refusals)
            held.extend(run.held)
            if run.stopped or run.in_progress:
                return self._outcome(
                    first, results, run.not_attempted, refusals, held, last, in_progress=run.in_progress
                )
            if run.mode_moved:
                targets = None  # the cluster looks different now: read all of it
            if not run.replan:
                break
        else:
            live, plan = self.plan(desired, targets, keep)
            if not plan.is_empty:
                assert first is not None
                return self._outcome(
                    first,
                    results,
                    plan.actions,
                    refusals,
                    held,
                    plan,
                    error=f"still drifting after {MAX_ROUNDS} rounds",
                )
        assert first is not None and last is not None
        return self._outcome(first, results, [], refusals, held, last)

    @staticmethod
    def _outcome(
        first: tuple[LiveState, Plan],
        results: list[ActionResult],
        not_attempted: list[Action] | tuple[Action, ...],
        refusals: list[str],
        held: list[Action],
        last: Plan,
        *,
        error: str | None = None,
        in_progress: str | None = None,
    ) -> Outcome:
        return Outcome(
            plan=first[1],
            live=first[0],
            applied=True,
            results=tuple(results),
            not_attempted=tuple(not_attempted),
            error=error,
            refusals=tuple(dict.fromkeys((*last.refusals, *refusals))),
            held=tuple(dict.fromkeys((*last.held, *held))),
            warnings=last.warnings,
            in_progress=in_progress,
        )

    def _run(
        self,
        desired: Baseline,
        live: LiveState,
        plan: Plan,
        deadline: Deadline | None = None,
        wait_for_mode: bool = True,
    ) -> _Run:
        run = _Run()
        groups = planner.phases(plan.actions, live)
        wrote = False
        held: set[str] = set()  # principals whose type change was refused: their re-create is moot
        for index, group in enumerate(groups):
            later = [a for g in groups[index + 1 :] for a in g]
            group = [a for a in group if safety.target(a) not in held]
            if deadline is not None and deadline.expired(PHASE_SECONDS):
                run.not_attempted.extend(a for a in (*group, *later) if safety.target(a) not in held)
                run.in_progress = OUT_OF_TIME
                return run
            if safety.needs_gate(group, live):
                if wrote or live.only_principals is not None:
                    live = self._refresh_admins(desired, live)
                allowed, refused = safety.gate(desired, live, group)
                run.refusals.extend(refused)
                run.held.extend(a for a in group if a not in allowed)
                held.update(safety.target(a) or "" for a in group if a not in allowed)
                group = list(allowed)
            if not group:
                continue
            if isinstance(group[0], UpgradeMode):
                bound = (
                    self.timeout_seconds
                    if deadline is None
                    else min(self.timeout_seconds, deadline.left_for())
                )
                result, moved, in_progress = self._mode_step(
                    desired.cluster, group[0], bound if wait_for_mode else 0.0
                )
                if result is not None:
                    run.results.append(result)
                    if not result.ok:
                        run.not_attempted.extend(a for a in later if safety.target(a) not in held)
                        return run
                run.in_progress = in_progress
                run.mode_moved = run.replan = moved
                return run  # after a mode step the cluster looks different: plan again
            outcomes = self._run_phase(desired.cluster, group)
            run.results.extend(r for r, _ in outcomes)
            wrote = wrote or any(r.ok for r, _ in outcomes)
            if not all(r.ok for r, _ in outcomes):
                run.not_attempted.extend(a for a in later if safety.target(a) not in held)
                return run
            if any(replan for _, replan in outcomes):
                run.replan = True
                return run
        return run

    def _refresh_admins(self, desired: Baseline, live: LiveState) -> LiveState:
        """`live` with the baseline admins' entries read again (a targeted read: a few calls)."""
        admins = safety.to_reread(desired, live)  # and a moved permission set's new entry
        return self._reader.reread(live, admins) if admins else live

    def _run_phase(self, cluster: str, group: list[Action]) -> list[tuple[ActionResult, bool]]:
        if len(group) == 1 or self.concurrency == 1:
            return [self._writer.write(cluster, a) for a in group]
        with ThreadPoolExecutor(min(self.concurrency, len(group)), thread_name_prefix="eks-write") as pool:
            return list(pool.map(lambda a: self._writer.write(cluster, a), group))

    def _mode_step(
        self, cluster: str, action: UpgradeMode, wait_seconds: float
    ) -> tuple[ActionResult | None, bool, str | None]:
        """(result of our update, whether the mode may have moved, why the run waits) for one mode step,
        waiting at most `wait_seconds` for it."""
        try:
            update_id = self._writer.start_mode_update(cluster, action.target)
        except ClusterBusy:
            running = self._writer.running_mode_update(cluster)
            if running is None:
                return None, False, BUSY
            status = self._wait(cluster, running, wait_seconds)
            if status == "InProgress":
                return (
                    None,
                    False,
                    f"authentication-mode update {running} is still in progress; the next run continues",
                )
            return None, True, None  # it ended one way or the other: look again
        except WriteFailed as exc:
            return ActionResult(action, False, str(exc)), False, None
        status = self._wait(cluster, update_id, wait_seconds)
        if status is None:
            return ActionResult(action, True), True, None
        if status == "InProgress":
            note = f"started ({update_id}); still in progress"
            return (
                ActionResult(action, True, note=note),
                False,
                f"authentication-mode update {update_id} to {action.target} is still in progress; "
                "the next run continues",
            )
        return ActionResult(action, False, status), False, None

    def _wait(self, cluster: str, update_id: str, max_seconds: float) -> str | None:
        poll = min(self.poll_seconds, max_seconds) if max_seconds > 0 else 0.0
        return self._writer.wait_for_update(cluster, update_id, max_seconds=max_seconds, poll_seconds=poll)
