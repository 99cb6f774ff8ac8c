"""A baseline change in access terms (pure): who gains and loses cluster admin first, then the rest; holds on
new admins; and the trust check of stored parameters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from access_guard.core.changes import access_diff, apply_holds, change_note, holds_for, release
from access_guard.core.model import AccessScope, Baseline, EntrySpec, GuardSettings, PolicyAssociation
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX
from access_guard.core.trust import StoredParameter, key_id_forms, parameter_arn, untrusted

ACCOUNT = "123456789012"
ADMIN = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope())
ADMIN_IN_NS = PolicyAssociation(ADMIN_POLICY_ARN, AccessScope.of("namespace", ["apps"]))
VIEW = PolicyAssociation(POLICY_ARN_PREFIX + "AmazonEKSViewPolicy", AccessScope.of("namespace", ["apps"]))
PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/platform"
NEWCOMER = f"arn:aws:iam::{ACCOUNT}:role/newcomer"
VIEWER = f"arn:aws:iam::{ACCOUNT}:role/viewer"
T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def baseline(*entries: EntrySpec, **settings: object) -> Baseline:
    return Baseline(
        cluster="payments",
        region="us-east-1",
        authentication_mode="API",
        entries=tuple(entries),
        settings=GuardSettings(**settings),  # type: ignore[arg-type]
    )


def spec(arn: str, *policies: PolicyAssociation) -> EntrySpec:
    return EntrySpec(principal_arn=arn, policies=tuple(sorted(policies)))


def test_admins_gained_and_lost_come_first_then_the_rest():
    before = baseline(spec(PLATFORM, ADMIN), spec(VIEWER, VIEW))
    after = baseline(spec(NEWCOMER, ADMIN), spec(VIEWER, VIEW, ADMIN_IN_NS), max_deletions=3)
    diff = access_diff(before, after)
    assert diff.admins_added == (NEWCOMER,) and diff.admins_removed == (PLATFORM,)
    lines = diff.lines()
    assert lines[:2] == [f"  + cluster admin: {NEWCOMER}", f"  - cluster admin: {PLATFORM}"]
    assert any(
        VIEWER in line and "+policy AmazonEKSClusterAdminPolicy (namespace: apps)" in line for line in lines
    )
    assert any("accessGuard.maxDeletions" in line for line in lines)


def test_admin_at_namespace_scope_is_not_cluster_admin():
    diff = access_diff(baseline(spec(VIEWER, VIEW)), baseline(spec(VIEWER, VIEW, ADMIN_IN_NS)))
    assert diff.admins_added == () and diff.changed


def test_a_first_baseline_adds_every_admin_it_names_and_holds_nobody():
    diff = access_diff(None, baseline(spec(PLATFORM, ADMIN), spec(VIEWER, VIEW)))
    assert diff.admins_added == (PLATFORM,) and len(diff.added) == 1
    assert holds_for(diff, None, minutes=30, noted_at=T0).by_principal == {}


def test_no_change_in_access_says_so():
    same = baseline(spec(PLATFORM, ADMIN))
    diff = access_diff(same, same)
    assert diff.empty
    assert (
        "No change in access."
        in change_note(
            "payments",
            "us-east-1",
            writer=None,
            diff=diff,
            holds=holds_for(diff, same, minutes=5, noted_at=T0),
            first=False,
        ).text
    )


def test_a_held_admin_keeps_what_it_had_until_the_hold_ends_or_is_released():
    before = baseline(spec(PLATFORM, ADMIN), spec(NEWCOMER, VIEW))
    after = baseline(spec(PLATFORM, ADMIN), spec(NEWCOMER, ADMIN), spec(VIEWER, VIEW))
    diff = access_diff(before, after)
    holds = holds_for(diff, before, minutes=30, noted_at=T0)
    held = apply_holds(after, holds, T0 + timedelta(minutes=29))
    assert {s.principal_arn: s for s in held.entries}[NEWCOMER] == spec(NEWCOMER, VIEW)  # as before
    assert VIEWER in {s.principal_arn for s in held.entries}  # the rest goes ahead
    assert apply_holds(after, holds, T0 + timedelta(minutes=30)) == after
    released, which = release(holds, NEWCOMER, by="arn:aws:iam::1:role/oncall", reason="INC-1 expected")
    assert which == [NEWCOMER] and apply_holds(after, released, T0) == after


def test_a_held_admin_new_to_the_cluster_has_no_entry_meanwhile():
    before = baseline(spec(PLATFORM, ADMIN))
    after = baseline(spec(PLATFORM, ADMIN), spec(NEWCOMER, ADMIN))
    holds = holds_for(access_diff(before, after), before, minutes=10, noted_at=T0)
    assert [s.principal_arn for s in apply_holds(after, holds, T0).entries] == [PLATFORM]
    note = change_note(
        "payments",
        "us-east-1",
        writer="arn:aws:iam::1:user/w",
        diff=access_diff(before, after),
        holds=holds,
        first=False,
    )
    assert (
        NEWCOMER in note.document["held"][0]["principalArn"]
        and "Written by: arn:aws:iam::1:user/w" in note.text
    )


def test_no_hold_without_minutes():
    before = baseline(spec(PLATFORM, ADMIN))
    after = replace(before, entries=(*before.entries, spec(NEWCOMER, ADMIN)))
    assert holds_for(access_diff(before, after), before, minutes=0, noted_at=T0).by_principal == {}


# --- the trust check -------------------------------------------------------------------------------------

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_only_securestrings_under_the_deployments_key_are_trusted_in_any_of_its_names():
    names = sorted(key_id_forms(KEY))
    assert "alias/eks-access-guard" in names and "1234abcd-12ab-34cd-56ef-1234567890ab" in names
    good = [StoredParameter(f"/p/{i}", "SecureString", k) for i, k in enumerate(names)]
    assert untrusted(good, KEY) == []
    bad = [
        StoredParameter("/p/string", "String", None, writer="arn:aws:iam::1:user/mallory"),
        StoredParameter("/p/default", "SecureString", "alias/aws/ssm"),
        StoredParameter("/p/other", "SecureString", KEY.replace("1234abcd", "9999abcd")),
    ]
    found = untrusted([*good, *bad], KEY)
    assert [u.parameter for u in found] == ["/p/string", "/p/default", "/p/other"]
    assert found[0].line() == "/p/string is a String, written by arn:aws:iam::1:user/mallory"


def test_the_parameter_arn_is_the_one_ssm_puts_in_the_encryption_context():
    assert parameter_arn("eu-west-1", ACCOUNT, "/eks-access-guard/clusters/eu-west-1/a") == (
        f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/eks-access-guard/clusters/eu-west-1/a"
    )
