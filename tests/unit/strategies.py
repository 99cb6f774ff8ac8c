"""Hypothesis strategies: valid baselines (through the model and through documents) and live states."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from access_guard.core.baseline import from_document
from access_guard.core.model import (
    ENTRY_TYPES,
    MODE_ORDER,
    STANDARD,
    AccessScope,
    Baseline,
    EntrySpec,
    GuardSettings,
    KeepRule,
    LiveEntry,
    LiveState,
    PolicyAssociation,
)
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX
from access_guard.core.principals import default_username
from hypothesis import strategies as st

ACCOUNT = "123456789012"
CLUSTER = "prop"
REGION = "eu-west-1"
ROLES = tuple(f"arn:aws:iam::{ACCOUNT}:role/{'team/' if i % 3 == 0 else ''}role-{i}" for i in range(8))
USERS = tuple(f"arn:aws:iam::{ACCOUNT}:user/user-{i}" for i in range(4))
PRINCIPALS = ROLES + USERS
POLICIES = (
    ADMIN_POLICY_ARN,
    POLICY_ARN_PREFIX + "AmazonEKSViewPolicy",
    POLICY_ARN_PREFIX + "AmazonEKSEditPolicy",
)
GROUPS = ("developers", "ops", "readers")
NAMESPACES = ("apps", "dev-*", "payments")
USERNAMES = ("dev:{{SessionName}}", "alice", "ops-admin")
NODE_TYPES = tuple(t for t in ENTRY_TYPES if t != STANDARD)
KEEP_RULES = (
    KeepRule(type="EC2_LINUX"),
    KeepRule(principal_arn="arn:aws:iam::*:role/role-7"),
    KeepRule(principal_arn="*:user/user-3"),
    KeepRule(principal_arn="arn:aws:iam::*:role/team/*", type="FARGATE_LINUX"),
)

scopes = st.one_of(
    st.just(AccessScope()),
    st.lists(st.sampled_from(NAMESPACES), min_size=1, max_size=3).map(
        lambda ns: AccessScope.of("namespace", ns)
    ),
)
policy_sets = st.dictionaries(st.sampled_from(POLICIES), scopes, max_size=3).map(
    lambda d: tuple(sorted(PolicyAssociation(arn, scope) for arn, scope in d.items()))
)
group_sets = st.lists(st.sampled_from(GROUPS), max_size=3, unique=True).map(lambda g: tuple(sorted(g)))


@st.composite
def entry_specs(draw: st.DrawFn, arn: str) -> EntrySpec:
    if arn in ROLES and draw(st.integers(0, 4)) == 0:
        return EntrySpec(arn, type=draw(st.sampled_from(NODE_TYPES)))
    return EntrySpec(
        arn,
        username=draw(st.one_of(st.none(), st.sampled_from(USERNAMES))),
        kubernetes_groups=draw(group_sets),
        policies=draw(policy_sets),
    )


settings = st.builds(
    GuardSettings,
    mode=st.sampled_from(("enforce", "detect")),
    prune=st.booleans(),
    keep=st.lists(st.sampled_from(KEEP_RULES), max_size=2, unique=True).map(tuple),
    max_deletions=st.integers(0, 6),
)


@st.composite
def model_baselines(draw: st.DrawFn) -> Baseline:
    arns = draw(st.lists(st.sampled_from(PRINCIPALS), max_size=8, unique=True))
    entries = tuple(draw(entry_specs(arn)) for arn in arns)
    modes = [None, "API_AND_CONFIG_MAP", "API"] + ([] if entries else ["CONFIG_MAP"])
    return Baseline(CLUSTER, REGION, draw(st.sampled_from(modes)), entries, draw(settings))


def _entry_document(spec: EntrySpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"principalARN": spec.principal_arn}
    if spec.type != STANDARD:
        doc["type"] = spec.type
        return doc
    if spec.username is not None:
        doc["kubernetesUsername"] = spec.username
    doc["kubernetesGroups"] = list(reversed(spec.kubernetes_groups))  # order must not matter
    doc["accessPolicies"] = [
        {"policyARN": p.policy_arn, "accessScope": p.scope.to_api()} for p in spec.policies
    ]
    return doc


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid baseline document written by hand (eksctl field names), not through to_document."""
    base = draw(model_baselines())
    doc: dict[str, Any] = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": base.cluster, "region": base.region},
        "vpc": {"cidr": "10.0.0.0/16"},
    }
    access: dict[str, Any] = {}
    if base.authentication_mode is not None:
        access["authenticationMode"] = base.authentication_mode
    if base.entries:
        access["accessEntries"] = [_entry_document(s) for s in base.entries]
    if access:
        doc["accessConfig"] = access
    s = base.settings
    guard: dict[str, Any] = {"mode": s.mode, "prune": s.prune, "maxDeletions": s.max_deletions}
    guard["keep"] = [
        {k: v for k, v in (("principalARN", r.principal_arn), ("type", r.type)) if v is not None}
        for r in s.keep
    ]
    doc["accessGuard"] = guard
    return doc


baselines = st.one_of(model_baselines(), documents().map(from_document))

STATUSES = st.sampled_from(("ok", "ok", "unknown", "missing", "recreated"))


def _live_from_spec(spec: EntrySpec) -> LiveEntry:
    if spec.type != STANDARD:
        return LiveEntry(
            spec.principal_arn, spec.type, "system:node:{{EC2PrivateDNSName}}", ("system:nodes",), ()
        )
    username = spec.username or default_username(spec.principal_arn)
    return LiveEntry(spec.principal_arn, STANDARD, username, spec.kubernetes_groups, spec.policies)


@st.composite
def random_live_entries(draw: st.DrawFn, arn: str) -> LiveEntry:
    if arn in ROLES and draw(st.integers(0, 3)) == 0:
        node_type = draw(st.sampled_from(NODE_TYPES))
        return LiveEntry(arn, node_type, "system:node:{{SessionName}}", ("system:nodes",), ())
    username = draw(st.one_of(st.just(default_username(arn)), st.sampled_from(USERNAMES)))
    return LiveEntry(arn, STANDARD, username, draw(group_sets), draw(policy_sets))


@st.composite
def drifted(draw: st.DrawFn, entry: LiveEntry) -> LiveEntry:
    """The entry with some drift: username, groups, re-scoped / extra / removed policies, a new type."""
    kind = draw(st.sampled_from(("none", "username", "groups", "policies", "type", "random")))
    if kind == "username" and entry.type == STANDARD:
        return replace(
            entry, username=draw(st.sampled_from(USERNAMES + (default_username(entry.principal_arn),)))
        )
    if kind == "groups" and entry.type == STANDARD:
        return replace(entry, kubernetes_groups=draw(group_sets))
    if kind == "policies" and entry.type == STANDARD:
        return replace(entry, policies=draw(policy_sets))
    if kind == "type" and entry.principal_arn in ROLES:
        new_type = draw(st.sampled_from(ENTRY_TYPES))
        if new_type == STANDARD:
            return LiveEntry(entry.principal_arn, STANDARD, default_username(entry.principal_arn), (), ())
        return LiveEntry(entry.principal_arn, new_type, "system:node:{{SessionName}}", ("system:nodes",), ())
    if kind == "random":
        return draw(random_live_entries(entry.principal_arn))
    return entry


@st.composite
def live_states(draw: st.DrawFn, baseline: Baseline) -> LiveState:
    mode = draw(st.sampled_from(MODE_ORDER))
    wanted = {s.principal_arn: s for s in baseline.entries}
    entries: dict[str, LiveEntry] = {}
    if mode != "CONFIG_MAP":
        for arn in PRINCIPALS:
            if arn in wanted:
                choice = draw(st.sampled_from(("absent", "baseline", "baseline", "baseline", "random")))
            else:  # an extra entry: fewer of them, so pruning stays within maxDeletions often enough
                choice = draw(st.sampled_from(("absent", "absent", "absent", "random")))
            if choice == "absent":
                continue
            if choice == "baseline":
                entry = draw(drifted(_live_from_spec(wanted[arn])))
            else:
                entry = draw(random_live_entries(arn))
            entries[arn] = replace(entry, principal_status=draw(STATUSES))
    missing = draw(st.frozensets(st.sampled_from(PRINCIPALS), max_size=2))
    # A principal IAM says is gone: its live entry, if any, says so too.
    for arn in missing:
        if arn in entries:
            entries[arn] = replace(entries[arn], principal_status="missing")
    return LiveState(
        CLUSTER,
        REGION,
        ACCOUNT,
        mode,
        entries,
        missing_principals=missing,
    )
