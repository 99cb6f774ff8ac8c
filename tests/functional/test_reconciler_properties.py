"""Property: whatever the live state and the baseline, applying reaches the baseline (by the emulator's
oracle), planning again gives nothing to do, and no safety rule is broken on the way."""

from __future__ import annotations

import itertools

import boto3
import pytest
from access_guard.baseline import default_username
from access_guard.model import DeleteEntry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .scenario import (
    ACCOUNT,
    ADMIN,
    EDIT,
    REGION,
    TRUST,
    VIEW,
    baseline,
    create_cluster,
    entry,
    granted,
    reconciler,
)

ROLES = {"p0": "/", "p1": "/team/", "p2": "/", "p3": "/"}
USER = "u0"
NODE = "node"
PRINCIPALS = [f"arn:aws:iam::{ACCOUNT}:role{path}{name}" for name, path in ROLES.items()] + [
    f"arn:aws:iam::{ACCOUNT}:user/{USER}"
]
NODE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{NODE}"
MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
_clusters = itertools.count()

scopes = st.one_of(
    st.none(), st.lists(st.sampled_from(["a", "b", "dev-*"]), min_size=1, max_size=2, unique=True)
)
policies = st.dictionaries(st.sampled_from([ADMIN, VIEW, EDIT]), scopes, max_size=2)
groups = st.lists(st.sampled_from(["dev", "ops", "viewers"]), max_size=2, unique=True)
usernames = st.sampled_from([None, "dev-user", "ops:{{SessionName}}"])
specs = st.fixed_dictionaries({"groups": groups, "policies": policies, "username": usernames})


@st.composite
def worlds(draw):
    start_mode = draw(st.sampled_from(MODES))
    initial = {}
    if start_mode != "CONFIG_MAP":
        initial = draw(st.dictionaries(st.sampled_from(PRINCIPALS), specs, max_size=4))
    node = start_mode != "CONFIG_MAP" and draw(st.booleans())
    recreated = draw(st.sampled_from([None, *sorted(initial)])) if initial else None
    wanted = draw(st.dictionaries(st.sampled_from(PRINCIPALS), specs, max_size=4))
    target = draw(st.sampled_from([None, *MODES[MODES.index(start_mode) :]]))
    if wanted and (target == "CONFIG_MAP" or (target is None and start_mode == "CONFIG_MAP")):
        target = "API_AND_CONFIG_MAP"  # a baseline with entries needs an API mode (validation says so)
    guard = {
        "prune": draw(st.booleans()),
        "maxDeletions": draw(st.integers(0, 5)),
        "keep": [{"type": "EC2_LINUX"}] if draw(st.booleans()) else [],
    }
    return start_mode, initial, node, recreated, wanted, target, guard


def ensure_principals() -> None:
    iam = boto3.client("iam", region_name=REGION)
    have = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    for name, path in [*ROLES.items(), (NODE, "/"), ("eks-cluster", "/")]:
        if name not in have:
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)
    if USER not in {u["UserName"] for u in iam.list_users()["Users"]}:
        iam.create_user(UserName=USER)


def recreate(arn: str) -> None:
    iam = boto3.client("iam", region_name=REGION)
    name = arn.rsplit("/", 1)[-1]
    if ":user/" in arn:
        iam.delete_user(UserName=name)
        iam.create_user(UserName=name)
    else:
        iam.delete_role(RoleName=name)
        iam.create_role(RoleName=name, Path=ROLES[name], AssumeRolePolicyDocument=TRUST)


def build(cluster: str, start_mode: str, initial: dict, node: bool) -> None:
    create_cluster(cluster, mode=start_mode, bootstrap=start_mode == "CONFIG_MAP")
    eks = boto3.client("eks", region_name=REGION)
    for arn, spec in initial.items():
        kwargs = {"kubernetesGroups": spec["groups"]} if spec["groups"] else {}
        if spec["username"]:
            kwargs["username"] = spec["username"]
        eks.create_access_entry(clusterName=cluster, principalArn=arn, **kwargs)
        for policy, ns in spec["policies"].items():
            scope = {"type": "cluster"} if ns is None else {"type": "namespace", "namespaces": ns}
            eks.associate_access_policy(
                clusterName=cluster, principalArn=arn, policyArn=policy, accessScope=scope
            )
    if node:
        eks.create_access_entry(clusterName=cluster, principalArn=NODE_ARN, type="EC2_LINUX")


def entry_arns(cluster: str) -> set[str]:
    eks = boto3.client("eks", region_name=REGION)
    if eks.describe_cluster(name=cluster)["cluster"]["accessConfig"]["authenticationMode"] == "CONFIG_MAP":
        return set()
    return set(eks.list_access_entries(clusterName=cluster)["accessEntries"])


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_applying_the_plan_reaches_the_baseline_and_breaks_no_safety_rule(aws, world):
    start_mode, initial, node, recreated, wanted_specs, target, guard = world
    aws.set_eks_settings(mode_update_seconds=0.1)
    ensure_principals()
    cluster = f"prop-{next(_clusters)}"
    # given a live state (with perhaps a recreated principal) and a baseline
    build(cluster, start_mode, initial, node)
    if recreated:
        recreate(recreated)
    items = [
        entry(
            arn,
            *[(p, ns) for p, ns in spec["policies"].items()],
            groups=spec["groups"],
            **({"kubernetesUsername": spec["username"]} if spec["username"] else {}),
        )
        for arn, spec in wanted_specs.items()
    ]
    wanted = baseline(cluster, items, auth=target, **guard)
    before = entry_arns(cluster)
    guard_, _ = reconciler(mode_update_poll_seconds=0.02)
    # when
    outcome = guard_.apply(wanted)
    # then it worked, and there is nothing left to do
    assert outcome.succeeded, outcome.to_json()
    final = guard_.plan(wanted)[1]
    assert final.is_empty
    access = aws.access(cluster)
    if target is not None:
        assert MODES.index(access["authenticationMode"]) >= MODES.index(target)
    # every baseline entry grants exactly what the baseline says, by the oracle
    got = granted(access)
    for spec in wanted.entries:
        have = got.get(spec.principal_arn)
        assert have is not None and have["source"] == "access-entry", (spec.principal_arn, access)
        assert have["username"] == (spec.username or default_username(spec.principal_arn))
        assert have["groups"] == sorted(spec.kubernetes_groups)
        assert have["policies"] == {
            p.policy_arn: (p.scope.type, tuple(sorted(p.scope.namespaces))) for p in spec.policies
        }
    # and no safety rule was broken
    after = entry_arns(cluster)
    pruned = [r.action for r in outcome.results if isinstance(r.action, DeleteEntry)]
    pruned = [a for a in pruned if a.reason == "not-in-baseline"]
    wanted_arns = {s.principal_arn for s in wanted.entries}
    if not guard["prune"] or not wanted.entries:
        assert pruned == []
    assert len(pruned) <= guard["maxDeletions"]
    assert all(a.principal_arn not in wanted_arns for a in pruned)
    if node and guard["keep"]:
        assert NODE_ARN in after
    assert before - after <= {a.principal_arn for a in pruned} | (
        {recreated} - wanted_arns if recreated else set()
    )
    # (a refusal can arise after a mode upgrade too, when the creator's entry EKS made comes into view)
    if guard["prune"] and wanted.entries and not outcome.plan.refusals and not final.refusals:
        kept = {NODE_ARN} if node and guard["keep"] else set()
        assert after == wanted_arns | kept
