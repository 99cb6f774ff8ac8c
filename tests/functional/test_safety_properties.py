"""Property: whatever the cluster, its aws-auth map, its creator and principals (deleted, recreated, in other
accounts), the baseline and the failures injected at any write, no write of the reconciler breaks the
invariant, as the emulator's access oracle judges it after every single write (oracle_watch.py); and when
nothing stands in the way the cluster reaches its baseline and plans nothing more."""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from access_guard.core.principals import default_username
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .oracle_watch import watching
from .scenario import ACCOUNT, ADMIN, EDIT, REGION, TRUST, VIEW, baseline, entry, granted, reconciler

OTHER_ACCOUNT = "210987654321"
ROLES = {"p0": "/", "p1": "/team/", "p2": "/"}
LOCAL = [f"arn:aws:iam::{ACCOUNT}:role{path}{name}" for name, path in ROLES.items()] + [
    f"arn:aws:iam::{ACCOUNT}:user/u0"
]
FOREIGN = f"arn:aws:iam::{OTHER_ACCOUNT}:role/partner"
PRINCIPALS = [*LOCAL, FOREIGN]
NODE = f"arn:aws:iam::{ACCOUNT}:role/node"
MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
WRITES = ("CreateAccessEntry", "AssociateAccessPolicy", "DisassociateAccessPolicy", "DeleteAccessEntry")
WRITES += ("UpdateAccessEntry", "UpdateClusterConfig")
ATTEMPTS = 2  # the reconciler's clients try each call twice: a retry is exercised, backoffs stay short
_clusters = itertools.count()

scopes = st.one_of(st.none(), st.lists(st.sampled_from(["a", "dev-*"]), min_size=1, max_size=2, unique=True))
policies = st.dictionaries(st.sampled_from([ADMIN, ADMIN, VIEW, EDIT]), scopes, max_size=2)
specs = st.fixed_dictionaries(
    {
        "groups": st.lists(st.sampled_from(["dev", "ops"]), max_size=1),
        "policies": policies,
        "type": st.sampled_from(["STANDARD", "STANDARD", "STANDARD", "EC2_LINUX"]),
    }
)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.sampled_from(MODES))
    initial = (
        {} if start == "CONFIG_MAP" else draw(st.dictionaries(st.sampled_from(PRINCIPALS), specs, max_size=4))
    )
    # node entries take roles of the cluster's account only
    initial = {a: s for a, s in initial.items() if s["type"] == "STANDARD" or ":role/" in a and a != FOREIGN}
    aws_auth = (
        []
        if start == "API"
        else draw(st.lists(st.tuples(st.sampled_from(LOCAL[:3]), st.booleans()), max_size=2))
    )
    # the baseline, drawn against what is live: an entry kept as it is, changed, given another type, or not
    # named at all; principals with no entry may be named too
    wanted: dict[str, Any] = {}
    for arn in PRINCIPALS:
        if arn in initial and arn != FOREIGN and ":role/" in arn:
            choice = draw(st.sampled_from(["retype", "same", "absent", "retype", "random"]))
        elif arn in initial:
            choice = draw(st.sampled_from(["same", "absent", "random"]))
        else:
            choice = draw(st.sampled_from(["absent", "absent", "random"]))
        if choice == "same":
            wanted[arn] = initial[arn]
        elif choice == "retype" and arn != FOREIGN and ":role/" in arn:
            other = "STANDARD" if initial[arn]["type"] != "STANDARD" else "EC2_LINUX"
            wanted[arn] = {**draw(specs), "type": other}
        elif choice != "absent":
            wanted[arn] = draw(specs)
    wanted = {a: s for a, s in wanted.items() if s["type"] == "STANDARD" or ":role/" in a and a != FOREIGN}
    target = draw(st.sampled_from([None, *MODES[MODES.index(start) :]]))
    if wanted and (target == "CONFIG_MAP" or (target is None and start == "CONFIG_MAP")):
        target = "API_AND_CONFIG_MAP"  # a baseline with entries needs an API mode (validation says so)
    return {
        "start": start,
        "creator": draw(st.sampled_from(["root", "user", "deleted-user"])),
        "initial": initial,
        "node": start != "CONFIG_MAP" and draw(st.booleans()),
        "aws_auth": aws_auth,
        "fates": draw(
            st.dictionaries(st.sampled_from(LOCAL), st.sampled_from(["deleted", "recreated"]), max_size=2)
        ),
        "wanted": wanted,
        "target": target,
        "guard": {"prune": draw(st.booleans()), "maxDeletions": draw(st.integers(0, 4))},
        "fault": draw(st.one_of(st.none(), st.tuples(st.sampled_from(WRITES), st.just("fail")))),
    }


def iam(account: str = ACCOUNT) -> Any:
    if account == ACCOUNT:
        return boto3.client("iam", region_name=REGION)
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/bootstrap", RoleSessionName="setup"
    )["Credentials"]
    return boto3.client(
        "iam",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def ensure_principals() -> None:
    client = iam()
    have = {r["RoleName"] for r in client.list_roles()["Roles"]}
    for name, path in [*ROLES.items(), ("node", "/"), ("eks-cluster", "/")]:
        if name not in have:
            client.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)
    if "u0" not in {u["UserName"] for u in client.list_users()["Users"]}:
        client.create_user(UserName="u0")
    foreign = iam(OTHER_ACCOUNT)
    if "partner" not in {r["RoleName"] for r in foreign.list_roles()["Roles"]}:
        foreign.create_role(RoleName="partner", AssumeRolePolicyDocument=TRUST)


def delete(arn: str) -> None:
    name = arn.rsplit("/", 1)[-1]
    if ":user/" in arn:
        iam().delete_user(UserName=name)
    else:
        iam().delete_role(RoleName=name)


def create(arn: str) -> None:
    name = arn.rsplit("/", 1)[-1]
    if ":user/" in arn:
        iam().create_user(UserName=name)
    else:
        iam().create_role(RoleName=name, Path=ROLES[name], AssumeRolePolicyDocument=TRUST)


def build(cluster: str, world: dict[str, Any], emulator: Any) -> None:
    session = boto3.Session(region_name=REGION)
    creator_key = None
    if world["creator"] != "root":
        name = f"creator-{cluster}"
        iam().create_user(UserName=name)
        creator_key = iam().create_access_key(UserName=name)["AccessKey"]
        session = boto3.Session(
            aws_access_key_id=creator_key["AccessKeyId"],
            aws_secret_access_key=creator_key["SecretAccessKey"],
            region_name=REGION,
        )
    session.client("eks").create_cluster(
        name=cluster,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": world["start"],
            "bootstrapClusterCreatorAdminPermissions": world["start"] == "CONFIG_MAP",
        },
    )
    eks = boto3.client("eks", region_name=REGION)
    for arn, spec in world["initial"].items():
        if spec["type"] != "STANDARD":
            eks.create_access_entry(clusterName=cluster, principalArn=arn, type=spec["type"])
            continue
        extra = {"kubernetesGroups": spec["groups"]} if spec["groups"] else {}
        eks.create_access_entry(clusterName=cluster, principalArn=arn, **extra)
        for policy, ns in spec["policies"].items():
            scope = {"type": "cluster"} if ns is None else {"type": "namespace", "namespaces": ns}
            eks.associate_access_policy(
                clusterName=cluster, principalArn=arn, policyArn=policy, accessScope=scope
            )
    if world["node"]:
        eks.create_access_entry(clusterName=cluster, principalArn=NODE, type="EC2_LINUX")
    if world["aws_auth"]:
        emulator.set_aws_auth(
            cluster,
            map_roles=[
                {
                    "rolearn": arn,
                    "username": "mapped",
                    "groups": ["system:masters"] if masters else ["viewers"],
                }
                for arn, masters in world["aws_auth"]
            ],
        )
    for arn, fate in world["fates"].items():
        delete(arn)
        if fate == "recreated":
            create(arn)
    if world["creator"] == "deleted-user" and creator_key is not None:
        name = f"creator-{cluster}"
        iam().delete_access_key(UserName=name, AccessKeyId=creator_key["AccessKeyId"])
        iam().delete_user(UserName=name)


def restore(world: dict[str, Any]) -> None:
    for arn, fate in world["fates"].items():
        if fate == "deleted":
            create(arn)


def baseline_of(cluster: str, world: dict[str, Any]) -> Any:
    items = []
    for arn, spec in world["wanted"].items():
        if spec["type"] != "STANDARD":
            items.append({"principalARN": arn, "type": spec["type"]})
        else:
            items.append(entry(arn, *spec["policies"].items(), groups=spec["groups"]))
    return baseline(cluster, items, auth=world["target"], **world["guard"])


def inject(emulator: Any, fault: tuple[str, str] | None) -> None:
    if fault is None:
        return
    operation, kind = fault
    if kind == "fail":  # every attempt fails: the run stops at this write
        emulator.set_fault(f"eks:{operation}", error_status=500, error_count=ATTEMPTS)
    else:  # the write happens, its answer is lost: the SDK retries a write that already committed
        emulator.set_fault(f"eks:{operation}", commit_then_status=500, commit_count=1)


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_no_write_breaks_the_invariant_and_an_unhindered_run_reaches_the_baseline(aws, world):
    aws.set_eks_settings(mode_update_seconds=0.05)
    ensure_principals()
    cluster = f"prop-{next(_clusters)}"
    build(cluster, world, aws)
    wanted = baseline_of(cluster, world)
    baseline_admins = {
        s.principal_arn
        for s in wanted.entries
        if s.type == "STANDARD"
        and any(p.policy_arn == ADMIN and p.scope.type == "cluster" for p in s.policies)
    }
    guard, _ = reconciler(mode_update_poll_seconds=0.02, concurrency=1, max_attempts=ATTEMPTS)
    # when a run meets the injected fault, and a second run follows without it (principals restored)
    with watching(cluster, baseline_admins) as watch:
        inject(aws, world["fault"])
        first = guard.apply(wanted)
        aws.clear_faults()
        restore(world)
        second = guard.apply(wanted)
    # then no write broke the invariant, by the oracle
    assert watch.violations == [], (watch.violations, watch.writes, first.to_json())
    # and when it says it reached the baseline, the oracle agrees and there is nothing left to plan
    if second.reached_baseline:
        assert guard.plan(wanted)[1].is_empty
        got = granted(aws.access(cluster))
        for spec in wanted.entries:
            if spec.type != "STANDARD":
                continue
            have = got.get(spec.principal_arn)
            assert have is not None and have["source"] == "access-entry", (spec.principal_arn, got)
            assert have["username"] == (spec.username or default_username(spec.principal_arn))
            assert have["policies"] == {
                p.policy_arn: (p.scope.type, tuple(sorted(p.scope.namespaces))) for p in spec.policies
            }
    # and when nothing stood in the way, it did reach it: a local baseline admin to verify removals with,
    # nothing over the deletion limit
    unhindered = (
        baseline_admins & set(LOCAL)
        and all(s.type == "STANDARD" for s in wanted.entries)
        and not any(e for e in second.refusals if "maxDeletions" in e)
    )
    if unhindered:
        assert second.reached_baseline, second.to_json()
