"""A captured baseline keeps `prune: false`: a rogue admin outside it is not removed, but nobody can miss
him. The event path raises an alert naming who made him, and `plan` lists him first; the emulator's
oracle says he really is an admin (so the alert is not about nothing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from access_guard.cli.main import main

from .scenario import ACCOUNT, ADMIN, REGION, VIEW, entry, role
from .test_pipeline import CLUSTER, make_cluster, person, pipeline, push  # noqa: F401 - pipeline: a fixture

BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"


@pytest.fixture
def unpruned(pipeline, aws: Any) -> dict[str, Any]:  # noqa: F811 - the imported fixture
    platform = role("platform", "/platform/")
    make_cluster(person("alice"))
    push(pipeline, entry(platform, (ADMIN, None)), prune=False)
    pipeline.drain()
    pipeline.notifications()
    return {"platform": platform, "bob": person("bob"), "prefix": pipeline.prefix}


def test_a_new_admin_outside_the_baseline_is_kept_and_raises_an_alert_naming_who(unpruned, pipeline, aws):  # noqa: F811
    # when bob gives himself cluster admin
    eks = unpruned["bob"].client("eks")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=BOB)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=BOB, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    pipeline.drain()
    # then he stays (prune is off: the oracle says he can get in as admin) and the owners are alerted
    assert sorted(aws.admins(CLUSTER)) == sorted([unpruned["platform"], BOB])
    alerts = [n for n in pipeline.notifications(wait_seconds=2) if n["document"]["kind"] == "alert"]
    assert alerts, "no alert for a new cluster admin outside the baseline"
    assert any(
        n["document"]["subject"]
        == f"[{CLUSTER}] new cluster admin outside the baseline, by {BOB} (kept: prune is off)"
        for n in alerts
    )
    assert all(n["document"]["adminsOutsideBaseline"] == [BOB] for n in alerts)


def _admin_alerts(pipeline: Any) -> list[dict[str, Any]]:  # noqa: F811
    return [
        n["document"]
        for n in pipeline.notifications(wait_seconds=2)
        if n["document"]["kind"] == "alert" and n["document"].get("adminsOutsideBaseline")
    ]


def _make_admin(session: Any, arn: str) -> None:
    eks = session.client("eks")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=arn)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=arn, policyArn=ADMIN, accessScope={"type": "cluster"}
    )


def test_an_admin_made_while_another_run_holds_the_cluster_is_alerted_by_that_runs_pending_run(
    unpruned,
    pipeline,  # noqa: F811
    aws,
):
    from access_guard.core.report import Trigger
    from access_guard.handlers import wiring

    restore = wiring.enforcer(holder="restore", env={**pipeline.environment, "AWS_REGION": REGION})
    held: list[int] = []

    def a_long_restore(desired: Any, run: Any) -> Any:
        # while the restore holds the cluster, bob makes himself admin and the event path runs
        _make_admin(unpruned["bob"], BOB)
        pipeline.drain(timeout=120)
        held.append(len(_admin_alerts(pipeline)))  # the event's run found the cluster held: a mark
        return desired

    trigger = Trigger("restore", "a long restore")
    report = restore.run(CLUSTER, REGION, trigger=trigger, prepare=a_long_restore)

    assert held == [0]
    assert sorted(aws.admins(CLUSTER)) == sorted([unpruned["platform"], BOB])  # kept: prune is off
    alerts = [n.document for n in report.notes if n.kind == "alert"]
    assert [a["adminsOutsideBaseline"] for a in alerts] == [[BOB]]  # the holder ran again for the mark
    assert alerts[0]["trigger"]["kind"] == "continue"
    assert alerts[0]["madeBy"] == {BOB: BOB}
    assert [a["madeBy"] for a in _admin_alerts(pipeline)] == [{BOB: BOB}]  # published once


def test_a_new_admin_is_alerted_once_and_again_only_when_made_admin_again(unpruned, pipeline, aws):  # noqa: F811
    _make_admin(unpruned["bob"], BOB)
    pipeline.drain()
    assert [a["madeBy"] for a in _admin_alerts(pipeline)] == [{BOB: BOB}]
    eks = unpruned["bob"].client("eks")
    # when bob changes his entry again (another event, another run): he is not new, no second alert
    eks.update_access_entry(clusterName=CLUSTER, principalArn=BOB, kubernetesGroups=["ops"])
    pipeline.drain()
    assert _admin_alerts(pipeline) == []
    # when his admin policy goes and comes back, he is a new admin again
    eks.disassociate_access_policy(clusterName=CLUSTER, principalArn=BOB, policyArn=ADMIN)
    pipeline.drain()
    assert _admin_alerts(pipeline) == []
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=BOB, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    pipeline.drain()
    assert [a["madeBy"] for a in _admin_alerts(pipeline)] == [{BOB: BOB}]
    assert BOB in aws.admins(CLUSTER)
    # and when his entry is deleted and made again, it is a new entry: a new alert
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=BOB)
    pipeline.drain()
    assert _admin_alerts(pipeline) == []
    _make_admin(unpruned["bob"], BOB)
    pipeline.drain()
    assert [a["madeBy"] for a in _admin_alerts(pipeline)] == [{BOB: BOB}]


def test_plan_lists_entries_outside_the_baseline_admins_first(unpruned, aws, capsys):
    viewer = role("viewer")
    eks = unpruned["bob"].client("eks")
    for arn, policy in ((viewer, VIEW), (BOB, ADMIN)):
        eks.create_access_entry(clusterName=CLUSTER, principalArn=arn)
        eks.associate_access_policy(
            clusterName=CLUSTER, principalArn=arn, policyArn=policy, accessScope={"type": "cluster"}
        )
    args = ["--no-color", "--region", REGION, "plan", "--cluster", CLUSTER, "--prefix", unpruned["prefix"]]

    code = main(args)
    out = capsys.readouterr().out

    assert code == 0  # not drift: the baseline's own entries are all there
    assert f"  ! {BOB} (cluster admin): not in the baseline; kept: prune is off" in out
    assert f"  ? {viewer} (AmazonEKSViewPolicy (cluster)): not in the baseline; kept: prune is off" in out
    assert out.index(BOB) < out.index(viewer)
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [u["principalArn"] for u in doc["unmanaged"]] == [BOB, viewer]


def test_capture_says_what_its_prune_setting_does(unpruned, aws, capsys):
    assert main(["--region", REGION, "baseline", "capture", "--cluster", CLUSTER]) == 0
    text = capsys.readouterr().out
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    document = yaml.safe_load(text)
    assert document["accessGuard"]["prune"] is False
    assert "With prune: false" in header and "entries that are not here are kept and listed" in header
    assert "only these" not in header
