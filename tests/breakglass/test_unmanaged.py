"""The on-call view shows access outside the baseline that Guard keeps (prune off): `GET /clusters` counts
it and names the cluster admins, `drift` lists them first, and the CLI prints both."""

from __future__ import annotations

import boto3
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.cli.main import main

from .conftest import ADMIN, CLUSTER, NODES, REGION, VIEW, World, baseline_text


def given_prune_off_and_two_entries_outside_the_baseline(world: World) -> tuple[str, str]:
    BaselineStore(boto3.client("ssm", region_name=REGION)).put(baseline_text(guard="prune: false"))
    iam, eks = boto3.client("iam"), boto3.client("eks", region_name=REGION)
    trust = '{"Version":"2012-10-17","Statement":[]}'
    rogue = iam.create_role(RoleName="rogue", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    viewer = iam.create_role(RoleName="viewer", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    for arn, policy in ((viewer, VIEW), (rogue, ADMIN)):
        eks.create_access_entry(clusterName=CLUSTER, principalArn=arn)
        eks.associate_access_policy(
            clusterName=CLUSTER, principalArn=arn, policyArn=policy, accessScope={"type": "cluster"}
        )
    return rogue, viewer


def test_clusters_and_drift_show_entries_outside_the_baseline_admins_first(world: World) -> None:
    rogue, viewer = given_prune_off_and_two_entries_outside_the_baseline(world)

    [row] = world.call("GET", "/clusters").body["clusters"]
    drift = world.call("GET", f"/clusters/{CLUSTER}/drift").body

    assert (row["drift"], row["unmanaged"], row["unmanagedAdmins"]) == (False, 2, [rogue])
    assert [u["principalArn"] for u in drift["plan"]["unmanaged"]] == [rogue, viewer]
    assert f"  ! {rogue} (cluster admin): not in the baseline; kept: prune is off" in drift["text"]
    assert NODES not in drift["text"]  # node entries are EKS's, never listed


def test_the_cli_prints_them(world: World, monkeypatch, capsys) -> None:
    rogue, _ = given_prune_off_and_two_entries_outside_the_baseline(world)
    credentials = world.credentials["oncall"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")

    assert main(["breakglass", "clusters", "--api-url", world.url]) == 0
    out = capsys.readouterr().out

    assert out.splitlines()[1].endswith("2 (1 admin)")
    assert f"  ! {CLUSTER}: {rogue}" in out
