"""Access outside the baseline that Guard keeps (prune off, keep rules) is listed, cluster admins first,
in the plan, its JSON and the notes; a new cluster admin outside the baseline raises an alert naming who
made it, whatever prune says. Pure: no sockets."""

from __future__ import annotations

from access_guard.core import describe, planner
from access_guard.core.model import (
    AccessScope,
    Baseline,
    EntrySpec,
    GuardSettings,
    KeepRule,
    LiveEntry,
    LiveState,
    PolicyAssociation,
)
from access_guard.core.outcome import ActionResult, Outcome
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX
from access_guard.core.principals import default_username
from access_guard.core.report import Trigger, run_note
from access_guard.core.unmanaged import KEPT_BY_RULE, KEPT_PRUNE_OFF, unmanaged

ACCOUNT = "123456789012"
PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/platform-admins"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
DEV = f"arn:aws:iam::{ACCOUNT}:role/dev"
CI = f"arn:aws:iam::{ACCOUNT}:role/ci"
NODES = f"arn:aws:iam::{ACCOUNT}:role/nodes"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
ADMIN = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope())


def live(*entries: LiveEntry, only: frozenset[str] | None = None) -> LiveState:
    return LiveState(
        "payments",
        "eu-west-1",
        ACCOUNT,
        "API",
        {e.principal_arn: e for e in entries},
        only_principals=only,
    )


def entry(arn: str, *policies: PolicyAssociation, type_: str = "STANDARD") -> LiveEntry:
    return LiveEntry(arn, type_, default_username(arn), (), tuple(policies), principal_status="ok")


def baseline(prune: bool = False, keep: tuple[KeepRule, ...] = ()) -> Baseline:
    return Baseline(
        "payments",
        "eu-west-1",
        "API",
        (EntrySpec(PLATFORM, policies=(ADMIN,)),),
        GuardSettings(prune=prune, keep=keep),
    )


EVERYONE = (
    entry(PLATFORM, ADMIN),
    entry(DEV, PolicyAssociation(VIEW, AccessScope())),
    entry(BOB, ADMIN),
    entry(NODES, type_="EC2_LINUX"),
)


def test_with_prune_off_every_entry_outside_the_baseline_is_listed_admins_first():
    found = unmanaged(baseline(prune=False), live(*EVERYONE))
    assert [(u.principal_arn, u.admin, u.kept) for u in found] == [
        (BOB, True, KEPT_PRUNE_OFF),
        (DEV, False, KEPT_PRUNE_OFF),
    ]
    assert found[0].line() == f"{BOB} (cluster admin): not in the baseline; kept: prune is off"


def test_with_prune_on_only_entries_a_keep_rule_keeps_are_listed():
    kept = unmanaged(baseline(prune=True, keep=(KeepRule(principal_arn=DEV),)), live(*EVERYONE))
    assert [(u.principal_arn, u.kept) for u in kept] == [(DEV, KEPT_BY_RULE)]


def test_the_planner_keeps_its_actions_and_carries_the_list():
    desired, state = baseline(prune=False), live(*EVERYONE)
    plan = planner.plan(desired, state)
    assert plan.actions == ()
    assert [u.principal_arn for u in plan.unmanaged] == [BOB, DEV]
    text = describe.render_plan(plan)
    assert f"  ! {BOB} (cluster admin): not in the baseline; kept: prune is off" in text
    assert text.index(BOB) < text.index(DEV)
    doc = describe.plan_json(plan)
    assert doc["drift"] is False and doc["unmanagedAdmins"] == 1
    assert [u["principalArn"] for u in doc["unmanaged"]] == [BOB, DEV]


def _note(
    prune: bool,
    only: frozenset[str] | None = frozenset({BOB}),
    changes: tuple[tuple[str, str | None], ...] = ((BOB, BOB),),
    applied: bool = True,
):
    desired = baseline(prune=prune)
    state = live(entry(BOB, ADMIN), only=only) if only else live(entry(PLATFORM, ADMIN), entry(BOB, ADMIN))
    plan = planner.plan(desired, state)
    done = tuple(ActionResult(a, ok=True) for a in plan.actions) if applied else ()
    outcome = Outcome(plan=plan, live=state, applied=applied, results=done, not_attempted=())
    trigger = Trigger("event", f"CreateAccessEntry of {BOB} by {BOB}", "evt-9", None, BOB, changes)
    return run_note(trigger, outcome, detect=not applied)


def test_a_new_admin_outside_the_baseline_raises_an_alert_naming_who_whatever_prune_says():
    kept = _note(prune=False)
    assert kept is not None and kept.kind == "alert"
    assert kept.subject == (
        f"[payments] new cluster admin outside the baseline, by {BOB} (kept: prune is off)"
    )
    assert f"Cluster admin outside the baseline, made by {BOB}:" in kept.text
    assert kept.document["adminsOutsideBaseline"] == [BOB]
    assert kept.document["madeBy"] == {BOB: BOB}
    removed = _note(prune=True)
    assert removed is not None and removed.kind == "alert"
    assert "removed: not in the baseline" in removed.subject
    seen = _note(prune=True, applied=False)  # detect mode: nothing was removed, and the alert says so
    assert seen is not None and seen.kind == "alert"
    assert "(not removed yet: not in the baseline)" in seen.subject


def test_the_alert_names_who_changed_the_admin_even_when_the_run_covered_the_whole_cluster():
    # a run that took a pending mark for the whole cluster, or a batch's whole-cluster work, still did
    # bob's change: the alert names bob's admin (by who made it), not the other admins it saw
    note = _note(prune=False, only=None, changes=((BOB, CI),))
    assert note is not None and note.kind == "alert"
    assert note.subject.endswith(f"outside the baseline, by {CI} (kept: prune is off)")
    assert note.document["adminsOutsideBaseline"] == [BOB]


def test_a_run_with_no_change_behind_it_lists_entries_outside_the_baseline_but_raises_no_alert():
    # the sweep, a baseline change, an IAM principal made: none of them made an entry
    assert _note(prune=False, only=None, changes=()) is None
    assert _note(prune=False, changes=()) is None
    # a change to another principal does not make bob new
    assert _note(prune=False, only=None, changes=((DEV, CI),)) is None


def test_admins_made_by_different_people_are_each_named():
    desired = baseline(prune=False)
    state = live(entry(BOB, ADMIN), entry(CI, ADMIN), only=frozenset({BOB, CI}))
    plan = planner.plan(desired, state)
    outcome = Outcome(plan=plan, live=state, applied=True)
    trigger = Trigger("event", "a batch", "evt-9", None, BOB, ((BOB, BOB), (CI, DEV)))
    note = run_note(trigger, outcome, detect=False)
    assert note is not None and note.kind == "alert"
    assert note.subject.endswith(f"outside the baseline, by {DEV}, {BOB} (kept: prune is off)")
    assert f"  ! {BOB} (made by {BOB})" in note.text and f"  ! {CI} (made by {DEV})" in note.text
    assert note.document["madeBy"] == {BOB: BOB, CI: DEV}
