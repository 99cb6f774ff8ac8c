"""The break-glass API over real HTTP, signed with botocore's SigV4 by IAM users' keys and STS sessions of the
local AWS, through the local API Gateway to the real handler: each call judged by its answer, the emulator's
access oracle, the audit table and the SNS notes."""

from __future__ import annotations

from typing import Any

import boto3
from access_guard.core.config import Env

from local.client import Emulator

from .conftest import (
    ACCOUNT,
    ADMIN,
    CLUSTER,
    EDIT,
    NAMES,
    ONCALL,
    PLATFORM,
    REAL_SSO,
    REGION,
    SAM,
    SRE,
    VIEW,
    World,
    make_world,
)


def test_the_handlers_are_where_the_cdk_points() -> None:
    from infra.components.pipeline import HANDLERS

    assert HANDLERS == "access_guard.handlers"
    from access_guard.handlers import api, expiry

    assert callable(api.handler) and callable(expiry.handler)


# --- reads -----------------------------------------------------------------------------------------------


def test_clusters_lists_the_managed_clusters_with_their_mode_and_drift(world: World) -> None:
    answer = world.call("GET", "/clusters")
    assert answer.status == 200
    assert answer.body == {
        "region": REGION,
        "clusters": [
            {
                "cluster": CLUSTER,
                "region": REGION,
                "mode": "enforce",
                "authenticationMode": "API_AND_CONFIG_MAP",
                "drift": False,
                "changes": 0,
                "refusals": 0,
                "activeGrants": 0,
                "grantsNotYetRevoked": [],
                "unmanaged": 0,
                "unmanagedAdmins": [],
                "error": None,
            }
        ],
    }
    # someone removes the dev entry behind Guard's back: the list says the cluster drifts
    boto3.client("eks", region_name=REGION).delete_access_entry(
        clusterName=CLUSTER, principalArn=f"arn:aws:iam::{ACCOUNT}:role/dev"
    )
    row = world.call("GET", "/clusters").body["clusters"][0]
    assert (row["drift"], row["changes"]) == (True, 2)


def test_drift_shows_the_plan_as_the_cli_does_and_as_json(world: World) -> None:
    eks = boto3.client("eks", region_name=REGION)
    eks.disassociate_access_policy(clusterName=CLUSTER, principalArn=SRE, policyArn=EDIT)

    answer = world.call("GET", f"/clusters/{CLUSTER}/drift")

    assert answer.status == 200
    assert answer.body["mode"] == "enforce"
    assert answer.body["text"] == (
        f"Cluster {CLUSTER} in {REGION} (mode: enforce)\n\n"
        f"  + associate AmazonEKSEditPolicy (namespace: payments) to {SRE}\n\n"
        "Plan: 1 to add, 0 to change, 0 to remove.\n"
    )
    plan = answer.body["plan"]
    assert plan["drift"] is True and plan["summary"] == {"add": 1, "change": 0, "remove": 0}
    assert plan["actions"][0]["kind"] == "associate-policy"
    assert world.access()[SRE] == {}  # a read changes nothing


# --- restore ---------------------------------------------------------------------------------------------


def lock_everyone_out(world: World) -> None:
    eks = boto3.client("eks", region_name=REGION)
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=PLATFORM)
    assert world.admins() == []


def test_restore_gets_the_baseline_admins_back_in_and_tells_everyone_who_why_and_from_where(
    world: World,
) -> None:
    # given a cluster nobody can administer, and an on-call engineer whose IAM Identity Center role has
    # the real /aws-reserved/sso.amazonaws.com/ path (API Gateway names only its session)
    lock_everyone_out(world)
    world.messages()

    answer = world.call(
        "POST", f"/clusters/{CLUSTER}/restore", {"reason": "INC-7 nobody can get in"}, who="restorer"
    )

    assert answer.status == 200, answer.body
    assert answer.body["reachedBaseline"] is True and answer.body["dryRun"] is False
    assert "access restored to the baseline" in answer.body["text"]
    assert world.admins() == [PLATFORM]  # the oracle: the baseline admin really is back
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{REAL_SSO.rsplit('/', 1)[1]}/carol"
    [record] = [r for r in world.audit() if r["action"] == "restore"]
    assert record["caller"] == session
    assert record["principal"] == REAL_SSO  # matched to the configured role, path and all
    assert (record["sourceIp"], record["reason"], record["status"]) == (
        "127.0.0.1",
        "INC-7 nobody can get in",
        200,
    )
    assert record["request"]["body"] == {"reason": "INC-7 nobody can get in", "dryRun": False}
    [note] = world.messages()
    assert note["kind"] == "break-glass"
    assert note["subject"] == f"[{CLUSTER}] break glass: restore by carol (ok)"
    assert note["document"]["caller"] == session and note["document"]["reason"] == "INC-7 nobody can get in"


def test_a_dry_run_restore_shows_the_plan_and_changes_nothing(world: World) -> None:
    lock_everyone_out(world)
    before = world.snapshot()

    answer = world.call("POST", f"/clusters/{CLUSTER}/restore", {"reason": "look first", "dryRun": True})

    assert answer.status == 200
    assert answer.body["dryRun"] is True and answer.body["reachedBaseline"] is False
    assert f"+ create access entry {PLATFORM}" in answer.body["text"]
    assert world.snapshot() == before and world.admins() == []


def test_detect_mode_governs_the_guard_not_the_on_call_engineer(
    aws: Emulator, template: dict[str, Any]
) -> None:
    """A cluster in detect mode (how the README says to start) still lets people in through break glass:
    restore and grants work, and are audited and noted like any other write."""
    from access_guard.adapters.baseline_store import BaselineStore

    from .conftest import baseline_text

    world = make_world(aws, template=template)
    try:
        BaselineStore(boto3.client("ssm", region_name=REGION)).put(baseline_text(guard="mode: detect"))
        lock_everyone_out(world)
        world.messages()
        answer = world.call("POST", f"/clusters/{CLUSTER}/restore", {"reason": "INC-7"})
        assert answer.status == 200 and answer.body["mode"] == "detect", answer.body
        assert world.admins() == [PLATFORM]
        grant = world.grant()
        assert grant.status == 201 and grant.body["grant"]["state"] == "active", grant.body
        assert sorted(world.admins()) == sorted([PLATFORM, ONCALL])
        actions = [r["action"] for r in world.audit()]
        assert actions[-2:] == ["restore", "grant"]
        assert [m["kind"] for m in world.messages()].count("break-glass") == 2
        assert world.denied() == []  # the local IAM refused the guard's roles nothing
    finally:
        world.gateway.stop()


# --- grants ----------------------------------------------------------------------------------------------


def test_a_grant_gives_the_caller_access_until_it_ends_and_records_everything(world: World) -> None:
    world.messages()
    answer = world.grant(minutes=15, reason="INC-42 payments down")

    assert answer.status == 201, answer.body
    grant = answer.body["grant"]
    assert grant["principalArn"] == ONCALL  # the role with its path, not the session
    assert grant["requestedBy"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ONCALL.rsplit('/', 1)[1]}/alice"
    assert (grant["accessPolicy"], grant["accessScope"], grant["state"]) == (
        ADMIN,
        {"type": "cluster"},
        "active",
    )
    assert ONCALL in world.admins()  # the oracle: the access is real
    # the grants table holds it, a schedule will end it, the audit table and the topic know of it
    listed = world.call("GET", f"/clusters/{CLUSTER}/grants").body["grants"]
    assert [g["grantId"] for g in listed] == [grant["grantId"]]
    assert world.schedules() == [f"access-guard-grant-{grant['grantId']}"]
    [record] = [r for r in world.audit() if r["action"] == "grant"]
    assert (record["grantId"], record["status"], record["reason"]) == (
        grant["grantId"],
        201,
        "INC-42 payments down",
    )
    [note] = world.messages()
    assert note["subject"] == f"[{CLUSTER}] break glass: grant by alice (ok)"
    assert "granted AmazonEKSClusterAdminPolicy (cluster)" in note["document"]["detail"]


def test_a_grant_may_name_another_on_call_principal_and_scope_a_policy_to_namespaces(world: World) -> None:
    answer = world.grant(policy=VIEW, principalArn=SAM, namespaces=["payments", "ledger"], who="sre")
    assert answer.status == 201, answer.body
    assert answer.body["grant"]["principalArn"] == SAM
    assert world.access()[SAM] == {VIEW: ("namespace", ("ledger", "payments"))}
    assert SAM not in world.admins()


def test_an_on_call_user_with_its_access_key_may_call(world: World) -> None:
    answer = world.grant(policy="AmazonEKSViewPolicy", who="sam")
    assert answer.status == 201, answer.body
    assert world.access()[SAM] == {VIEW: ("cluster", ())}


def test_a_grant_widens_a_baseline_path_and_its_end_gives_the_baseline_scope_back(world: World) -> None:
    # SRE has Edit on the payments namespace by the baseline; a grant widens it to the cluster
    assert world.access()[SRE] == {EDIT: ("namespace", ("payments",))}
    answer = world.grant(policy="AmazonEKSEditPolicy", minutes=10, who="sre")
    assert answer.status == 201, answer.body
    assert world.access()[SRE] == {EDIT: ("cluster", ())}

    world.clock.advance(minutes=11)
    world.scheduler.tick()

    assert world.access()[SRE] == {EDIT: ("namespace", ("payments",))}  # narrowed back, never removed


def test_revoking_early_takes_the_access_away_and_a_second_revoke_says_it_was_already_revoked(
    world: World,
) -> None:
    grant_id = world.grant().body["grant"]["grantId"]
    assert ONCALL in world.admins()

    answer = world.call("DELETE", f"/clusters/{CLUSTER}/grants/{grant_id}", who="sre")

    assert answer.status == 200, answer.body
    assert answer.body["grant"]["state"] == "revoked"
    assert answer.body["grant"]["endedEarlyBy"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/sre-oncall/bob"
    assert ONCALL not in world.access()  # the entry the grant made is gone
    assert world.schedules() == []  # its schedule too
    before = world.snapshot()
    again = world.call("DELETE", f"/clusters/{CLUSTER}/grants/{grant_id}")
    assert again.status == 409
    assert f"grant {grant_id} was already revoked" in again.message
    assert world.snapshot() == before


def test_writes_are_rate_limited_per_on_call_principal(aws: Emulator, template: dict[str, Any]) -> None:
    world = make_world(aws, template=template, settings={Env.RATE_LIMIT_PER_MINUTE: "2"})
    try:
        first = world.call("POST", f"/clusters/{CLUSTER}/restore", {"reason": "a", "dryRun": True})
        second = world.call("POST", f"/clusters/{CLUSTER}/restore", {"reason": "b", "dryRun": True})
        third = world.call("POST", f"/clusters/{CLUSTER}/restore", {"reason": "c", "dryRun": True})
        assert (first.status, second.status, third.status) == (200, 200, 429)
        assert "made 2 break-glass writes this minute" in third.message
        # another on-call principal has its own budget, and reads are not limited
        assert (
            world.call(
                "POST", f"/clusters/{CLUSTER}/restore", {"reason": "d", "dryRun": True}, who="sre"
            ).status
            == 200
        )
        assert world.call("GET", "/clusters").status == 200
        assert world.audit()[-3]["outcome"] == "rate-limited"
        assert world.denied() == []  # the local IAM refused the guard's roles nothing
    finally:
        world.gateway.stop()


def test_with_mfa_required_only_sessions_with_mfa_get_through(
    aws: Emulator, template: dict[str, Any]
) -> None:
    world = make_world(aws, template=template, require_mfa=True)  # its on-call sessions are assumed with MFA
    try:
        assert world.call("GET", "/clusters").status == 200
        # an on-call user's long-term key: the resource policy (the local gateway) denies it
        refused = world.call("GET", "/clusters", who="sam")
        assert refused.status == 403 and "explicit deny" in refused.body["Message"]
        assert world.denied() == []  # the local IAM refused the guard's roles nothing
    finally:
        world.gateway.stop()


def test_the_audit_trail_is_newest_first_by_cluster_or_all_and_paginated(world: World) -> None:
    world.call("GET", "/clusters")
    world.call("GET", f"/clusters/{CLUSTER}/drift")
    world.call("POST", f"/clusters/{CLUSTER}/restore", {"reason": "check", "dryRun": True})

    everything = world.call("GET", "/audit")
    assert everything.status == 200
    # newest first; the audit call itself is recorded after it answers
    assert [r["action"] for r in everything.body["records"]] == ["restore", "drift", "clusters"]
    page = world.call("GET", f"/audit?cluster={CLUSTER}&limit=1")
    assert [r["action"] for r in page.body["records"]] == ["restore"]
    token = page.body["next"]
    assert token
    rest = world.call("GET", f"/audit?cluster={CLUSTER}&limit=5&next={token}")
    assert [r["action"] for r in rest.body["records"]] == ["drift"]
    assert rest.body["next"] is None


def test_the_grant_list_shows_every_grant_with_its_state(world: World) -> None:
    first = world.grant(policy="AmazonEKSViewPolicy", principalArn=SAM).body["grant"]["grantId"]
    second = world.grant().body["grant"]["grantId"]
    world.call("DELETE", f"/clusters/{CLUSTER}/grants/{first}")
    listed = world.call("GET", f"/clusters/{CLUSTER}/grants").body["grants"]
    assert {g["grantId"]: g["state"] for g in listed} == {first: "revoked", second: "active"}
    assert len(world.grants_table()) == 2 and NAMES.grants_table
