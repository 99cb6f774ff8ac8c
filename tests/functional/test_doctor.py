"""`access-guard doctor` against the local AWS as `serve` sets it up (local/deployed.py): every check passes
there (warnings allowed); deleting the trail, stopping it, disabling a rule or breaking the canary's
delivery fails the command, naming the cause."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from access_guard.cli.main import main
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring

from local import deployed
from local.runner import NAME, Pipeline

from .scenario import ACCOUNT, REGION, TRUST

ONCALL = f"arn:aws:iam::{ACCOUNT}:role/oncall"


@pytest.fixture
def served(aws: Any, endpoint: str) -> Iterator[Pipeline]:
    pipeline = Pipeline.create(endpoint, region=REGION)
    wiring.reset()
    intake_handler.reset()
    boto3.client("iam", region_name=REGION).create_role(RoleName="oncall", AssumeRolePolicyDocument=TRUST)
    deployed.set_up(pipeline, oncall_principals=[ONCALL], api_url=None)
    pipeline.start()
    yield pipeline
    pipeline.stop()
    wiring.reset()
    intake_handler.reset()


def doctor(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> tuple[int, dict[str, dict[str, str]]]:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    code = main(
        ["doctor", "--region", REGION, "--endpoint-url", endpoint, "--json", "--canary-seconds", "15", *extra]
    )
    # the in-process handlers print their metric lines on the same stdout: read the doctor's document
    text = out.getvalue()
    document, _ = json.JSONDecoder().raw_decode(text, text.index('{\n  "region"'))
    assert document["ok"] is (code == 0)
    return code, {c["check"]: c for c in document["checks"]}


def test_every_check_passes_on_what_serve_sets_up(
    served: Pipeline, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, checks = doctor(endpoint, monkeypatch)
    assert code == 0, {k: c for k, c in checks.items() if c["status"] != "PASS"}
    assert checks["trail"]["status"] == "PASS"
    assert checks["event-path"]["status"] == "PASS"  # the canary went rule -> queue -> intake -> state table
    assert checks["on-call-principals"]["status"] == "PASS"
    # no e-mail confirmed, no baseline yet: said, not failed
    assert checks["subscriptions"]["status"] in ("PASS", "WARN")
    assert checks["clusters"]["status"] == "WARN"


def test_a_deleted_trail_fails_naming_it(
    served: Pipeline, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("cloudtrail", region_name=REGION).delete_trail(Name=deployed.TRAIL)
    code, checks = doctor(endpoint, monkeypatch, "--canary-seconds", "0")
    assert code == 1
    assert (
        checks["trail"]["status"] == "FAIL"
        and "no trail logs management write events" in checks["trail"]["why"]
    )
    assert checks["trail"]["fix"]


def test_a_stopped_trail_fails_naming_it(
    served: Pipeline, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name=deployed.TRAIL)
    code, checks = doctor(endpoint, monkeypatch)
    assert code == 1 and checks["trail"]["status"] == "FAIL"
    assert f"{deployed.TRAIL} is not logging" in checks["trail"]["why"]


def test_a_disabled_rule_fails_and_a_disabled_canary_rule_fails_the_event_path(
    served: Pipeline, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = boto3.client("events", region_name=REGION)
    events.disable_rule(Name=f"{NAME}-canary")
    code, checks = doctor(endpoint, monkeypatch, "--canary-seconds", "3")
    assert code == 1
    assert checks["rules"]["status"] == "FAIL" and f"{NAME}-canary (disabled)" in checks["rules"]["why"]
    assert checks["event-path"]["status"] == "FAIL" and "not recorded" in checks["event-path"]["why"]


def test_a_rule_that_delivers_nowhere_fails_the_event_path(
    served: Pipeline, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = boto3.client("events", region_name=REGION)
    rule = f"{NAME}-canary"
    ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
    events.remove_targets(Rule=rule, Ids=ids)
    code, checks = doctor(endpoint, monkeypatch, "--canary-seconds", "3")
    assert code == 1
    assert (
        checks["rules"]["status"] == "PASS"
    )  # enabled, yet its deliveries go nowhere: only the canary sees it
    assert checks["event-path"]["status"] == "FAIL" and "not recorded" in checks["event-path"]["why"]


def test_a_missing_on_call_principal_and_a_baseline_without_its_cluster_fail(
    served: Pipeline, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from access_guard.adapters.baseline_store import BaselineStore

    from .scenario import baseline_doc

    boto3.client("iam", region_name=REGION).delete_role(RoleName="oncall")
    store = BaselineStore(boto3.client("ssm", region_name=REGION), prefix=served.prefix)
    store.put(json.dumps(baseline_doc("gone-cluster", [])))
    code, checks = doctor(endpoint, monkeypatch, "--canary-seconds", "0")
    assert code == 1
    assert checks["on-call-principals"]["status"] == "FAIL" and ONCALL in checks["on-call-principals"]["why"]
    assert checks["clusters"]["status"] == "FAIL" and "gone-cluster" in checks["clusters"]["why"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_doctor_shows_the_check_it_runs_on_a_terminal_and_nothing_otherwise(
    served: Pipeline, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from access_guard.cli import progress

    monkeypatch.setattr(progress, "INTERVAL_SECONDS", 0.02)
    # the canary's rule off: the event-path check waits its whole second for the canary
    boto3.client("events", region_name=REGION).disable_rule(Name=f"{NAME}-canary")
    args = ["doctor", "--region", REGION, "--endpoint-url", endpoint, "--canary-seconds", "1"]
    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert main(args) == 1
    shown = err.getvalue()
    assert f"\r\033[Kdoctor {REGION}: checking event-path (7 of 9), " in shown
    assert shown.endswith("\r\033[K")  # cleared when the checks are done
    for quiet, extra in ((io.StringIO(), []), (Terminal(), ["--json"])):  # not a terminal; --json
        monkeypatch.setattr("sys.stderr", quiet)
        assert main([*args, *extra]) == 1
        assert "checking" not in quiet.getvalue() and "\r" not in quiet.getvalue()
