# ruff: noqa: F811 - `pipeline` is a fixture, imported and then asked for by name
"""A baseline's life: `push` always stores a SecureString (the deployment's key by its alias, else AWS's
managed key) and warns when nothing would act on it; `baseline delete` stops managing a cluster on purpose
(one notice "no longer managed, by WHO", no alarm), while a deletion nobody announced still alarms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.cli.main import main
from access_guard.core.config import AWS_MANAGED_SSM_KEY, BASELINE_KEY_ALIAS, Config
from access_guard.core.events import BaselineChange
from access_guard.services.intake import Intake

from .scenario import ACCOUNT, ADMIN, REGION, baseline_doc, entry, role
from .test_pipeline import CLUSTER, make_cluster, person, pipeline  # noqa: F401 - pipeline: a fixture


def write_baseline(tmp_path: Path, cluster: str = CLUSTER) -> str:
    admins = role(f"{cluster}-admins")
    path = tmp_path / f"{cluster}.json"
    path.write_text(json.dumps(baseline_doc(cluster, [entry(admins, (ADMIN, None))])))
    return str(path)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--no-color", "--region", REGION, *args])
    out, err = capsys.readouterr()
    return code, out, err


def stored_types(prefix: str = "/") -> set[tuple[str, str | None]]:
    ssm = boto3.client("ssm", region_name=REGION)
    found = set()
    for page in ssm.get_paginator("describe_parameters").paginate():
        for parameter in page["Parameters"]:
            if parameter["Name"].startswith(prefix) and "/clusters/" in parameter["Name"]:  # baselines only
                found.add((parameter["Type"], parameter.get("KeyId")))
    return found


def test_push_without_a_key_stores_a_secure_string_with_awss_key_and_warns_nothing_acts(
    aws: Any, tmp_path: Path, capsys
) -> None:
    # given a region where no guard is deployed: no key under the deployment's alias
    boto3.client("kms", region_name=REGION).delete_alias(AliasName=BASELINE_KEY_ALIAS)
    code, _, err = cli(capsys, "baseline", "push", write_baseline(tmp_path, "nowhere"))

    assert code == 0
    assert stored_types() == {("SecureString", AWS_MANAGED_SSM_KEY)}
    assert f"warning: there is no EKS cluster nowhere in {REGION}" in err
    assert f"warning: no Access Guard watches the baselines under /eks-access-guard/ in {REGION}" in err
    assert f"Encrypted with {AWS_MANAGED_SSM_KEY}: no key {BASELINE_KEY_ALIAS}" in err


def test_push_uses_the_deployments_key_when_its_alias_is_there_and_warns_nothing_when_a_guard_runs(
    aws: Any,
    pipeline,
    tmp_path: Path,
    capsys,
) -> None:
    kms = boto3.client("kms", region_name=REGION)  # the deployment's key is there (the `aws` fixture made it)
    key = kms.describe_key(KeyId=BASELINE_KEY_ALIAS)["KeyMetadata"]["Arn"]
    make_cluster(person("alice"))

    code, _, err = cli(capsys, "baseline", "push", write_baseline(tmp_path), "--prefix", pipeline.prefix)

    assert code == 0
    assert stored_types(pipeline.prefix) == {("SecureString", key)}
    assert "warning" not in err


def test_baseline_delete_stops_managing_on_purpose_with_one_notice_and_no_alarm(
    aws: Any,
    pipeline,
    tmp_path: Path,
    capsys,
) -> None:
    make_cluster(person("alice"))
    assert cli(capsys, "baseline", "push", write_baseline(tmp_path), "--prefix", pipeline.prefix)[0] == 0
    pipeline.drain()
    pipeline.notifications(wait_seconds=1)

    code, out, _ = cli(
        capsys, "baseline", "delete", "--cluster", CLUSTER, "--yes", "--prefix", pipeline.prefix
    )
    pipeline.drain()

    assert code == 0 and "is no longer managed" in out
    notes = pipeline.notifications(wait_seconds=2)
    assert [n["document"]["kind"] for n in notes] == ["notice"]
    me = boto3.client("sts").get_caller_identity()["Arn"]
    assert notes[0]["document"]["title"] == f"{CLUSTER} ({REGION}) is no longer managed, by {me}"


def test_a_deletion_nobody_announced_still_alarms_even_after_a_cluster_was_managed_again(
    aws: Any, tmp_path: Path, capsys
) -> None:
    make_cluster(person("alice"))
    path = write_baseline(tmp_path)
    store = BaselineStore(boto3.client("ssm", region_name=REGION))
    intake = Intake(
        store=store, eks=boto3.client("eks", region_name=REGION), queue=None, config=Config(), region=REGION
    )
    deleted = BaselineChange("e-1", datetime.now(UTC), ACCOUNT, REGION, CLUSTER, "Delete", "/p")
    # on purpose: a notice, no alert (the alarm counts alerts)
    assert cli(capsys, "baseline", "push", path)[0] == 0
    assert cli(capsys, "baseline", "delete", "--cluster", CLUSTER, "--yes")[0] == 0
    on_purpose = intake.handle(deleted)
    assert (on_purpose.alert, on_purpose.notice is not None) == (None, True)
    # managed again, then deleted behind the CLI's back: the alert
    assert cli(capsys, "baseline", "push", path)[0] == 0
    assert store.retired_by(CLUSTER, REGION) is None
    store.delete(CLUSTER, REGION)
    unexpected = intake.handle(deleted)
    assert unexpected.alert is not None and unexpected.notice is None


def test_baseline_delete_without_a_terminal_or_yes_changes_nothing(aws: Any, tmp_path: Path, capsys) -> None:
    assert cli(capsys, "baseline", "push", write_baseline(tmp_path))[0] == 0
    code, _, err = cli(capsys, "baseline", "delete", "--cluster", CLUSTER)
    assert code == 1 and "needs confirmation" in err
    assert cli(capsys, "baseline", "show", "--cluster", CLUSTER)[0] == 0
