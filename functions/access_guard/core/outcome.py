"""What a run did: each write's result, what was not attempted, what the safety rules held back, and
whether the cluster reached its desired state. Plain data, with one JSON form (shared by the CLI's
`--json`, the API and the notifications)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .describe import action_json
from .model import Action, LiveState, Plan


@dataclass(frozen=True)
class ActionResult:
    action: Action
    ok: bool
    error: str | None = None
    note: str | None = None  # e.g. "already existed" for a create answered with 409


@dataclass(frozen=True)
class Outcome:
    plan: Plan  # the plan of the first round (what an operator was shown)
    live: LiveState  # the live state that plan was made from
    applied: bool  # False in detect mode, and when the run refused to start (a stale plan)
    results: tuple[ActionResult, ...] = ()
    not_attempted: tuple[Action, ...] = ()
    error: str | None = None  # a failure not tied to one action (e.g. "the cluster changed since this plan")
    # Steps the safety rules held back, each with its one-line reason (from the last plan and every gate),
    # and the actions they held.
    refusals: tuple[str, ...] = ()
    held: tuple[Action, ...] = ()
    # What the last plan could not fix (a baseline principal deleted from IAM, CONFIG_MAP kept).
    warnings: tuple[str, ...] = ()
    # Set when the run ended waiting on an update EKS has not finished: the next run continues.
    in_progress: str | None = None

    @property
    def succeeded(self) -> bool:
        """Every write attempted succeeded and nothing failed or was cut short."""
        return (
            self.applied and self.error is None and not self.not_attempted and all(r.ok for r in self.results)
        )

    @property
    def reached_baseline(self) -> bool:
        """The cluster is where its desired state says: nothing failed, held back, pending or unfixable."""
        return self.succeeded and not self.refusals and not self.warnings and self.in_progress is None

    @property
    def written(self) -> tuple[Action, ...]:
        return tuple(r.action for r in self.results if r.ok)

    @property
    def unfinished(self) -> tuple[Action, ...]:
        """What the run meant to do and did not: failed, held back, or not attempted."""
        failed = tuple(r.action for r in self.results if not r.ok)
        return (*failed, *self.held, *self.not_attempted)

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.plan.cluster,
            "region": self.plan.region,
            "applied": self.applied,
            "succeeded": self.succeeded,
            "reachedBaseline": self.reached_baseline,
            "planned": [action_json(a) for a in self.plan.actions],
            "warnings": list(self.warnings),
            "refusals": list(self.refusals),
            "held": [action_json(a) for a in self.held],
            "done": [
                {"action": action_json(r.action), **({"note": r.note} if r.note else {})}
                for r in self.results
                if r.ok
            ],
            "failed": [{"action": action_json(r.action), "error": r.error} for r in self.results if not r.ok],
            "notAttempted": [action_json(a) for a in self.not_attempted],
            "inProgress": self.in_progress,
            "error": self.error,
        }
