"""`access-guard replay EVENT.json [--dry-run]`: the event path's decision on one event, explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from access_guard.adapters import clients
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.cli.main import main as access_guard
from access_guard.core.trust import BASELINE_KEY_ALIAS

from .scenario import ADMIN, REGION, VIEW, baseline_doc, create_cluster, entry, role

CLUSTER = "payments"


@pytest.fixture
def drifted(aws: Any) -> dict[str, Any]:
    """A managed cluster whose viewer's entry bob just deleted; the record of that call."""
    clients.clear_cache()
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    admins, viewer = role("admins"), role("viewer")
    eks = boto3.client("eks", region_name=REGION)
    for arn, policy, scope in (
        (admins, ADMIN, {"type": "cluster"}),
        (viewer, VIEW, {"type": "namespace", "namespaces": ["apps"]}),
    ):
        eks.create_access_entry(clusterName=CLUSTER, principalArn=arn)
        eks.associate_access_policy(
            clusterName=CLUSTER, principalArn=arn, policyArn=policy, accessScope=scope
        )
    doc = baseline_doc(CLUSTER, [entry(admins, (ADMIN, None)), entry(viewer, (VIEW, ["apps"]))], auth="API")
    # pushed as a baseline writer does: under the deployment's baseline key (the CLI refuses anything else)
    BaselineStore(boto3.client("ssm", region_name=REGION), kms_key_id=BASELINE_KEY_ALIAS).put(json.dumps(doc))
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=viewer)
    [record] = [r for r in aws.cloudtrail_records() if r["eventName"] == "DeleteAccessEntry"]
    return {"record": record, "viewer": viewer}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = access_guard(["--region", REGION, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, value: Any, name: str = "event.json") -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return str(path)


def entries() -> list[str]:
    return boto3.client("eks", region_name=REGION).list_access_entries(clusterName=CLUSTER)["accessEntries"]


def test_a_dry_run_says_which_cluster_and_what_it_would_write_and_writes_nothing(drifted, tmp_path, capsys):
    code, out, _ = run(capsys, "replay", write(tmp_path, drifted["record"]), "--dry-run")
    assert code == 0
    assert f"Cluster {CLUSTER} ({REGION}), principals {drifted['viewer']}" in out
    assert f"+ create access entry {drifted['viewer']}" in out and "Dry run: nothing was written." in out
    assert drifted["viewer"] not in entries()


def test_a_replay_remediates_as_the_handler_would(drifted, tmp_path, capsys):
    envelope = {
        "version": "0",
        "id": "e1",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.eks",
        "account": drifted["record"]["recipientAccountId"],
        "time": drifted["record"]["eventTime"],
        "region": REGION,
        "resources": [],
        "detail": drifted["record"],
    }
    code, out, _ = run(capsys, "replay", write(tmp_path, envelope))
    assert code == 0 and ": done" in out
    assert drifted["viewer"] in entries()


def test_an_ignored_event_says_why(drifted, tmp_path, capsys):
    failed = {**drifted["record"], "errorCode": "AccessDeniedException", "errorMessage": "no"}
    code, out, _ = run(capsys, "replay", write(tmp_path, failed), "--json")
    assert code == 0
    assert json.loads(out)["decision"].startswith("ignored: failed call")


def test_an_event_of_an_unmanaged_cluster_is_dropped_with_the_reason(drifted, tmp_path, capsys):
    other = json.loads(json.dumps(drifted["record"]).replace(f'"{CLUSTER}"', '"orders"'))
    code, out, _ = run(capsys, "replay", write(tmp_path, other))
    assert code == 0 and out.startswith("Dropped:") and "orders" in out


@pytest.mark.parametrize(("content", "message"), [("{not json", "is not JSON"), (None, "cannot read")])
def test_a_malformed_or_missing_file_is_one_error_line(tmp_path, capsys, content, message):
    path = write(tmp_path, content) if content is not None else str(tmp_path / "missing.json")
    code, out, err = run(capsys, "replay", path)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err
