"""The per-cluster break-glass maximum in the baseline, and the facts a new grant records about the
principal's entry (what was there before it, and what only grants made)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from access_guard.core.baseline import BaselineError, dump, is_namespace, load
from access_guard.core.grants import Grant, entry_facts
from access_guard.core.model import AccessScope, LiveEntry, PolicyAssociation
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX

ONCALL = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/oncall"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
HEAD = "metadata: {name: payments, region: us-east-1}\n"


def test_a_baseline_sets_the_longest_grant_of_its_cluster_and_keeps_it_through_a_round_trip() -> None:
    baseline = load(HEAD + "accessGuard: {breakGlass: {maxMinutes: 30}}\n")
    assert baseline.settings.break_glass_max_minutes == 30
    assert load(dump(baseline)).settings.break_glass_max_minutes == 30


def test_without_it_the_deployment_maximum_applies_and_the_document_does_not_mention_it() -> None:
    baseline = load(HEAD)
    assert baseline.settings.break_glass_max_minutes is None
    assert "breakGlass" not in dump(baseline)


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("{maxMinutes: 0}", "accessGuard.breakGlass.maxMinutes: must be between 1 and 1440 minutes, got 0"),
        ("{maxMinutes: 1441}", "accessGuard.breakGlass.maxMinutes: must be between 1 and 1440"),
        ("{maxMinutes: 15.5}", "accessGuard.breakGlass.maxMinutes: must be a whole number of minutes"),
        ("{maxMinutes: true}", "accessGuard.breakGlass.maxMinutes: must be a whole number of minutes"),
        ("{maxMinutes: 10, approvers: 2}", "accessGuard.breakGlass.approvers: unknown field"),
        ("30", "accessGuard.breakGlass: must be a mapping, got integer"),
    ],
)
def test_a_bad_break_glass_section_is_refused_with_its_path(section: str, problem: str) -> None:
    with pytest.raises(BaselineError) as raised:
        load(HEAD + f"accessGuard: {{breakGlass: {section}}}\n")
    assert any(str(p).startswith(problem) for p in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("name", "ok"),
    [("payments", True), ("team-a*", True), ("a", True), ("Payments", False), ("-x", False), ("", False)],
)
def test_namespace_names_are_those_eks_accepts_in_a_scope(name: str, ok: bool) -> None:
    assert is_namespace(name) is ok


def grant(policy: str = ADMIN_POLICY_ARN, **fields: object) -> Grant:
    values: dict[str, object] = {
        "grant_id": "g1",
        "cluster": "payments",
        "region": "us-east-1",
        "principal_arn": ONCALL,
        "policy_arn": policy,
        "scope": AccessScope(),
        "reason": "INC-1",
        "requested_by": "arn:aws:sts::123456789012:assumed-role/oncall/alice",
        "created_at": NOW,
        "ends_at": NOW + timedelta(minutes=15),
        **fields,
    }
    return Grant(**values)  # type: ignore[arg-type]


def live(*policies: str) -> LiveEntry:
    return LiveEntry(
        ONCALL, "STANDARD", "u", (), tuple(PolicyAssociation(p, AccessScope()) for p in policies)
    )


CLUSTER = AccessScope()


def facts(others: list[Grant], policy: str, entry: LiveEntry | None, scope: AccessScope = CLUSTER) -> tuple:
    found = entry_facts(others, ONCALL, policy, scope, entry)
    return (found.created_entry, found.policy_was_there, found.scope_before)


def test_no_entry_before_the_grant_means_the_grant_makes_it() -> None:
    assert facts([], ADMIN_POLICY_ARN, None) == (True, False, None)


def test_an_entry_and_policy_from_outside_the_grants_were_there_before() -> None:
    assert facts([], ADMIN_POLICY_ARN, live(ADMIN_POLICY_ARN)) == (False, True, CLUSTER)
    assert facts([], ADMIN_POLICY_ARN, live(VIEW)) == (False, False, None)


def test_a_policy_there_at_a_narrower_scope_is_widened_and_its_scope_before_is_kept() -> None:
    narrow = AccessScope.of("namespace", ["dev"])
    entry = LiveEntry(ONCALL, "STANDARD", "u", (), (PolicyAssociation(VIEW, narrow),))
    assert facts([], VIEW, entry) == (False, False, narrow)
    # ...and a grant narrower than what is there adds nothing.
    assert facts([], VIEW, entry, AccessScope.of("namespace", ["dev"])) == (False, True, narrow)


def test_what_an_earlier_unclosed_grant_made_is_not_counted_as_there_before() -> None:
    earlier = grant(created_entry=True, policy_was_there=False, status="active")
    # The entry and policy are live only because of `earlier`: the new grant inherits its facts.
    assert facts([earlier], ADMIN_POLICY_ARN, live(ADMIN_POLICY_ARN)) == (True, False, None)
    # Another policy on an entry a grant made: the entry is still the grants' to delete.
    assert facts([earlier], VIEW, live(ADMIN_POLICY_ARN)) == (True, False, None)


def test_a_closed_grant_or_another_principals_grant_says_nothing() -> None:
    revoked = grant(created_entry=True, revoked_at=NOW, status="revoked")
    other = grant(principal_arn="arn:aws:iam::123456789012:role/other", created_entry=True, status="active")
    assert facts([revoked, other], ADMIN_POLICY_ARN, live(ADMIN_POLICY_ARN)) == (False, True, CLUSTER)
