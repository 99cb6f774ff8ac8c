"""`access-guard history`: every remediation, sweep action, grant end, refusal and break-glass call is in
the audit table, read newest first through `GET /audit` (filtered by kind and time)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from access_guard.cli.main import main
from access_guard.core.report import Trigger

from .conftest import ACCOUNT, ADMIN, CLUSTER, DEV, PLATFORM, REGION, World

BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"


@pytest.fixture
def cli(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str, who: str = "oncall") -> tuple[int, str, str]:
        credentials = world.credentials[who]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
        monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")
        capsys.readouterr()
        code = main([*args, "--api-url", world.url, "--no-color"])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def remediate_bobs_deletion(world: World) -> None:
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName=CLUSTER, principalArn=DEV)
    trigger = Trigger("event", f"DeleteAccessEntry of {DEV} by {BOB}", "evt-42", None, BOB)
    world.service("remediate").enforcer.run(CLUSTER, REGION, trigger=trigger, principals=[DEV])


def test_history_lists_a_remediation_with_who_and_the_event_and_break_glass_calls_newest_first(
    world: World, cli: Any
) -> None:
    remediate_bobs_deletion(world)
    world.clock.advance(seconds=5)
    assert cli("breakglass", "restore", "--cluster", CLUSTER, "--reason", "INC-7", "--dry-run")[0] == 0
    world.clock.advance(seconds=5)
    assert cli("breakglass", "restore", "--cluster", CLUSTER, "--reason", "mine", who="mallory")[0] == 1

    code, out, err = cli("history", "--cluster", CLUSTER, "--since", "1h")

    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [row[2] for row in rows] == ["refusal", "break-glass", "remediation"], out
    remediation = out.splitlines()[3]
    assert "user/bob" in remediation and "evt-42" in remediation
    assert f"did: + create access entry {DEV}" in remediation
    assert all(len(line) < 250 for line in out.splitlines())
    assert "+00:00" not in out  # times to the second


def test_history_filters_by_kind_and_prints_json(world: World, cli: Any) -> None:
    remediate_bobs_deletion(world)
    assert cli("breakglass", "drift", "--cluster", CLUSTER)[0] in (0, 2)

    code, out, _ = cli("history", "--cluster", CLUSTER, "--kind", "remediation", "--json")

    assert code == 0
    [record] = json.loads(out)["records"]
    assert (record["kind"], record["actor"], record["eventId"]) == ("remediation", BOB, "evt-42")
    assert record["request"]["done"] and record["caller"] == "access-guard"


def test_history_since_leaves_out_what_is_older(world: World, cli: Any) -> None:
    remediate_bobs_deletion(world)
    later = (world.clock() + timedelta(minutes=1)).isoformat()

    code, out, _ = cli("history", "--cluster", CLUSTER, "--since", later)

    assert code == 0
    assert "remediation" not in out


def test_a_sweeps_action_is_recorded(world: World, cli: Any) -> None:
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName=CLUSTER, principalArn=PLATFORM)
    world.service("sweep").enforcer.run(CLUSTER, REGION, trigger=Trigger("sweep", "the scheduled sweep"))

    code, out, _ = cli("history", "--cluster", CLUSTER, "--kind", "sweep", "--json")

    assert code == 0
    [record] = json.loads(out)["records"]
    assert record["detail"].startswith("did: + create access entry " + PLATFORM)


def test_a_step_the_safety_rules_hold_back_is_recorded_as_a_refusal(world: World, cli: Any) -> None:
    # given the baseline's admin role is gone from IAM and bob holds the only working admin entry
    iam, eks = boto3.client("iam"), boto3.client("eks", region_name=REGION)
    iam.create_user(UserName="bob")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=BOB)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=BOB, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    iam.delete_role(RoleName=PLATFORM.rsplit("/", 1)[1])
    # when the sweep runs (prune is on: bob's entry is not in the baseline)
    world.service("sweep").enforcer.run(CLUSTER, REGION, trigger=Trigger("sweep", "the scheduled sweep"))

    code, out, _ = cli("history", "--cluster", CLUSTER, "--kind", "refusal", "--json")

    assert code == 0
    [record] = json.loads(out)["records"]
    assert record["action"] == "sweep" and record["status"] == 403
    assert record["request"]["refused"] and BOB in record["detail"]
