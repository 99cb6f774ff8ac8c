"""What the guard did on its own, as audit records: one per remediation or sweep run that found something
(wrote, was held back, failed, saw drift in detect mode, saw a new cluster admin outside the baseline).
Pure. Break-glass calls and grant ends have their own records (`core.breakglass`); together they are the
history `GET /audit` and `access-guard history` read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .breakglass import GUARD, AuditRecord, one_line
from .describe import describe, op_of
from .outcome import Outcome
from .report import Trigger
from .unmanaged import admins_outside

# The triggers of the guard's own runs, and the action their records carry. Break-glass restores, grants,
# revocations and expiries are recorded by their own call (or grant end), not again here.
RUN_ACTIONS = {
    "event": "remediation",
    "principal": "remediation",
    "baseline": "remediation",
    "continue": "remediation",
    "sweep": "sweep",
}


def run_record(
    cluster: str, region: str, trigger: Trigger, outcome: Outcome, *, at: datetime, detect: bool
) -> AuditRecord | None:
    """The audit record of one run of the guard's own, or None when it has nothing to record."""
    action = RUN_ACTIONS.get(trigger.kind)
    if action is None:
        return None
    plan = outcome.plan
    outside = admins_outside(plan.unmanaged, (*plan.actions, *plan.held), outcome.live)
    done = [f"{op_of(r.action)} {describe(r.action)}" for r in outcome.results if r.ok]
    failed = [f"{op_of(r.action)} {describe(r.action)}: {r.error}" for r in outcome.results if not r.ok]
    drift = [f"{op_of(a)} {describe(a)}" for a in plan.actions] if detect or not outcome.applied else []
    refused = list(outcome.refusals or plan.refusals)
    if not (done or failed or drift or refused or outcome.error or outside):
        return None
    if failed or outcome.error:
        status, what = 500, f"failed: {outcome.error or '; '.join(failed)}"
    elif refused and not done:
        status, what = 403, "refused by the safety rules: " + "; ".join(refused)
    elif drift:
        status, what = 200, "drift seen, nothing changed (detect mode): " + "; ".join(drift)
    elif done:
        status, what = (
            200,
            "did: " + "; ".join(done) + (f"; held back: {'; '.join(refused)}" if refused else ""),
        )
    else:
        status, what = 200, "nothing to change"
    if outside:
        what += "; cluster admin outside the baseline: " + ", ".join(outside)
    request: dict[str, Any] = {"trigger": trigger.to_json(), "done": done, "failed": failed}
    request.update(refused=refused, drift=drift, adminsOutsideBaseline=outside)
    return AuditRecord(
        at=at,
        request_id=f"{action}-{trigger.event_id or at.strftime('%Y%m%dT%H%M%S%f')}-{cluster}",
        action=action,
        region=region,
        status=status,
        detail=one_line(what),
        cluster=cluster,
        caller=GUARD,
        reason=one_line(trigger.reason),
        request=request,
        actor=trigger.actor,
        event_id=trigger.event_id,
    )
