"""What the people who own a cluster are told: a short text and a JSON document per note. Pure.

Every detected drift and every remediation is told (cluster, what changed, who did it per CloudTrail, what
Guard did, what it held back and why), and every alert (a baseline deleted or unreadable, a revocation that
failed). When an entry that held cluster admin was removed or changed, the note warns that Kubernetes RBAC
objects its holder may have made (ClusterRoleBindings, service-account tokens) are not undone by that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outcome import Outcome

# A run's note (run_note, new_admins, removed) imports what describes a run's outcome where it is written: the
# note types and the alerts and notices are all that the intake needs at its cold start (bench/import_time).

UNKNOWN_ACTOR = "an unknown principal"

TRIGGERS = (
    "event",
    "baseline",
    "principal",
    "sweep",
    "restore",
    "expiry",
    "grant",
    "revoke",
    "continue",
    "apply",
    "cluster-created",
)


@dataclass(frozen=True)
class Trigger:
    """Why a run happens: one human line, and the CloudTrail event behind it when there is one."""

    kind: str  # one of TRIGGERS
    reason: str
    event_id: str | None = None
    event_time: datetime | None = None
    actor: str | None = None
    # The principals whose entries the EKS events behind this run changed, each with who changed them (per
    # CloudTrail), sorted: a cluster admin outside the baseline among them is new and raises an alert
    # naming who made it, whatever `prune` says and whatever else the run covers (a batch's other work, the
    # pending marks it took). Every other entry outside the baseline is listed, not alerted.
    changes: tuple[tuple[str, str | None], ...] = ()

    def changed_by(self) -> dict[str, str | None]:
        return dict(self.changes)

    def with_changes(self, more: Iterable[tuple[str, str | None]]) -> Trigger:
        """This trigger with `more` changes added (a principal it names already keeps its own actor)."""
        merged = {**dict(more), **dict(self.changes)}
        if len(merged) == len(self.changes):
            return self
        return replace(self, changes=tuple(sorted(merged.items())))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "eventId": self.event_id,
            "eventTime": self.event_time.isoformat() if self.event_time else None,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Notification:
    kind: str  # "remediation" | "drift" | "alert" | "break-glass"
    cluster: str | None
    subject: str
    text: str
    document: dict[str, Any]


def new_admins(trigger: Trigger, outcome: Outcome) -> dict[str, str | None]:
    """The cluster admins outside the baseline (kept or removed) that the run's changes made, each with who
    made it. Only the changed principals count: the run may see others (a whole cluster, a batch's other
    work), old ones too, and those are listed, not alerted."""
    from .unmanaged import admins_outside

    changed = trigger.changed_by()
    if not changed:
        return {}
    plan = outcome.plan
    outside = admins_outside(plan.unmanaged, (*plan.actions, *plan.held), outcome.live)
    return {arn: changed[arn] for arn in outside if arn in changed}


def removed(outcome: Outcome) -> set[str]:
    """The principals whose entries the run deleted."""
    from .model import DeleteEntry

    return {a.principal_arn for a in outcome.written if isinstance(a, DeleteEntry)}


def run_note(
    trigger: Trigger,
    outcome: Outcome,
    *,
    detect: bool,
    alert: Mapping[str, str | None] | None = None,
) -> Notification | None:
    """The note of one run, or None when there was nothing to tell (no drift, nothing held back).

    `alert`: the new cluster admins outside the baseline to alert, each with who made it (the Enforcer
    leaves out those already alerted); None: `new_admins` of the run."""
    from .describe import RBAC_NOTE, describe, op_of, touched_admins, unmanaged_lines

    plan = outcome.plan
    written = outcome.written
    made = new_admins(trigger, outcome) if alert is None else dict(alert)
    outside = sorted(made)
    quiet = not plan.actions and not plan.refusals and not outcome.refusals and not outcome.error
    if quiet and not written and not outside:
        return None
    cluster, region = plan.cluster, plan.region
    admins = touched_admins(written, outcome.live)
    makers = list(dict.fromkeys(made[a] or UNKNOWN_ACTOR for a in outside))  # in the order of the admins
    who = ", ".join(makers)
    if outside:
        gone = removed(outcome)
        if all(a in gone for a in outside):
            fate = "removed: not in the baseline"
        elif any(a in {u.principal_arn for u in plan.unmanaged} for a in outside):
            fate = "kept: prune is off"
        else:
            fate = "not removed yet: not in the baseline"  # detect mode, held back or failed
        kind, headline = "alert", f"new cluster admin outside the baseline, by {who} ({fate})"
    elif detect or not outcome.applied and outcome.error is None:
        kind, headline = "drift", "drift detected; detect mode changes nothing"
    elif outcome.reached_baseline:
        kind, headline = "remediation", "access restored to the baseline"
    elif not outcome.succeeded:
        kind, headline = "remediation", "remediation failed"
    else:
        kind, headline = "remediation", "remediation incomplete"
    lines = [f"Cluster {cluster} ({region}): {headline}.", "", f"What happened: {trigger.reason}"]
    if trigger.event_id:
        when = f" at {trigger.event_time.isoformat()}" if trigger.event_time else ""
        lines.append(
            f"CloudTrail event {trigger.event_id}{when}" + (f", by {trigger.actor}" if trigger.actor else "")
        )
    if detect or not outcome.applied:
        if plan.actions:
            lines += [
                "",
                "Drift (what Guard would do):",
                *(f"  {op_of(a)} {describe(a)}" for a in plan.actions),
            ]
    elif outcome.results:
        lines += ["", "What Guard did:"]
        for result in outcome.results:
            status = "done" if result.ok else f"FAILED: {result.error}"
            lines.append(f"  {op_of(result.action)} {describe(result.action)}: {status}")
    for action in outcome.not_attempted if outcome.applied else ():
        lines.append(f"  {op_of(action)} {describe(action)}: not attempted")
    if outcome.refusals:
        lines += ["", "Held back by the safety rules:", *(f"  - {r}" for r in outcome.refusals)]
    if outcome.warnings:
        lines += ["", "Cannot be fixed by Guard:", *(f"  - {w}" for w in outcome.warnings)]
    if outcome.in_progress:
        lines += ["", f"In progress: {outcome.in_progress}"]
    if outcome.error:
        lines += ["", f"Error: {outcome.error}"]
    if outside and len(makers) == 1:
        lines += ["", f"Cluster admin outside the baseline, made by {who}:", *(f"  ! {a}" for a in outside)]
    elif outside:
        lines += [
            "",
            "Cluster admin outside the baseline:",
            *(f"  ! {a} (made by {made[a] or UNKNOWN_ACTOR})" for a in outside),
        ]
    if plan.unmanaged:
        lines += ["", *unmanaged_lines(plan)]
    if admins:
        lines += ["", RBAC_NOTE + " Admin entries removed or changed: " + ", ".join(admins) + "."]
    document = {
        "kind": kind,
        "cluster": cluster,
        "region": region,
        "trigger": trigger.to_json(),
        "detectOnly": detect,
        "outcome": outcome.to_json(),
        "rbacWarning": RBAC_NOTE if admins else None,
        "adminEntriesTouched": admins,
        "unmanaged": [u.to_json() for u in plan.unmanaged],
        "adminsOutsideBaseline": outside,
        "madeBy": {a: made[a] for a in outside},
    }
    return Notification(kind, cluster, f"[{cluster}] {headline}", "\n".join(lines) + "\n", document)


def alert_note(
    cluster: str | None, region: str | None, title: str, detail: str, **extra: Any
) -> Notification:
    """An alert that needs a person: what is wrong, in one title and a few lines."""
    where = f"Cluster {cluster} ({region})" if cluster else "EKS Access Guard"
    text = f"{where}: {title}.\n\n{detail}\n"
    document = {
        "kind": "alert",
        "cluster": cluster,
        "region": region,
        "title": title,
        "detail": detail,
        **extra,
    }
    return Notification("alert", cluster, f"[{cluster or 'guard'}] {title}", text, document)


def notice_note(intent: Any, text: str) -> Notification:
    """A notice for the owners, not an alarm: what changed on purpose (a cluster no longer managed)."""
    cluster = getattr(intent, "cluster", None)
    region = getattr(intent, "region", None)
    title = text.split(". ", 1)[0]
    document = {"kind": "notice", "cluster": cluster, "region": region, "title": title, "detail": text}
    return Notification("notice", cluster, f"[{cluster or 'guard'}] {title}", text + "\n", document)
