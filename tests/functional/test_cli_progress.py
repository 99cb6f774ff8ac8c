"""Long reads and applies show progress on a terminal (entries read of how many, elapsed, what is being
applied) on stderr, and nothing when stderr is not a terminal or the output is --json."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import boto3
import pytest
from access_guard.adapters.clients import clear_cache
from access_guard.cli import progress
from access_guard.cli.main import main

from .scenario import ADMIN, REGION, VIEW, baseline_doc, create_cluster, entry, role

CLUSTER = "big"
ENTRIES = 12


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def slow_cluster(aws: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    clear_cache()
    monkeypatch.setattr(progress, "INTERVAL_SECONDS", 0.02)
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    admins = role("admins")
    eks = boto3.client("eks", region_name=REGION)
    viewers = [role(f"viewer-{i}") for i in range(ENTRIES)]
    for arn in [admins, *viewers]:
        eks.create_access_entry(clusterName=CLUSTER, principalArn=arn)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=admins, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    wanted = [entry(admins, (ADMIN, None)), *(entry(v, (VIEW, None)) for v in viewers)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(baseline_doc(CLUSTER, wanted, auth="API")))
    assert main(["--region", REGION, "baseline", "push", str(path)]) == 0
    aws.set_fault("eks:DescribeAccessEntry", latency_ms=40)
    aws.set_fault("eks:AssociateAccessPolicy", latency_ms=40)
    return str(path)


def run(monkeypatch: pytest.MonkeyPatch, err: io.StringIO, *args: str) -> int:
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    return main(["--region", REGION, "--no-color", *args])


def test_plan_and_apply_show_progress_on_a_terminal(slow_cluster: str, monkeypatch) -> None:
    err = Terminal()
    assert run(monkeypatch, err, "plan", "--cluster", CLUSTER) == 2
    shown = err.getvalue()
    assert f"reading {CLUSTER}: " in shown and f"of {ENTRIES + 1} entries read" in shown
    assert shown.endswith("\r\033[K")  # the line is cleared when the read is done

    err = Terminal()
    assert run(monkeypatch, err, "apply", "--cluster", CLUSTER, "--yes") == 0
    assert "written, applying AssociateAccessPolicy" in err.getvalue()


def test_no_progress_when_stderr_is_not_a_terminal_or_with_json(slow_cluster: str, monkeypatch) -> None:
    err = io.StringIO()
    assert run(monkeypatch, err, "plan", "--cluster", CLUSTER) == 2
    assert err.getvalue() == ""
    err = Terminal()
    assert run(monkeypatch, err, "plan", "--cluster", CLUSTER, "--json") == 2
    assert err.getvalue() == ""
    err = Terminal()
    assert run(monkeypatch, err, "apply", "--cluster", CLUSTER, "--yes", "--json") == 0
    assert "\r" not in err.getvalue() and "written" not in err.getvalue()
