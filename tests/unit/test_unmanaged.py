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
from access_guard.core.outcome import Outcome
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


def _note(prune: bool, trigger_kind: str = "event", only: frozenset[str] | None = frozenset({BOB})):
    desired = baseline(prune=prune)
    state = live(entry(BOB, ADMIN), only=only) if only else live(entry(PLATFORM, ADMIN), entry(BOB, ADMIN))
    plan = planner.plan(desired, state)
    outcome = Outcome(plan=plan, live=state, applied=True, results=(), not_attempted=())
    trigger = Trigger(trigger_kind, f"CreateAccessEntry of {BOB} by {BOB}", "evt-9", None, BOB)
    return run_note(trigger, outcome, detect=False)


def test_a_new_admin_outside_the_baseline_raises_an_alert_naming_who_whatever_prune_says():
    kept = _note(prune=False)
    assert kept is not None and kept.kind == "alert"
    assert kept.subject == (
        f"[payments] new cluster admin outside the baseline, by {BOB} (kept: prune is off)"
    )
    assert f"Cluster admin outside the baseline, made by {BOB}:" in kept.text
    assert kept.document["adminsOutsideBaseline"] == [BOB]
    removed = _note(prune=True)
    assert removed is not None and removed.kind == "alert"
    assert "removed: not in the baseline" in removed.subject


def test_a_whole_cluster_run_lists_entries_outside_the_baseline_but_raises_no_alert():
    assert _note(prune=False, only=None) is None
    assert _note(prune=False, trigger_kind="sweep") is None
