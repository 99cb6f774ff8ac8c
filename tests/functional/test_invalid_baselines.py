"""Every invalid baseline is refused with a clear message, and nothing changes on the cluster.

The documents are the unit tests' table of bad baselines (tests/unit/test_baseline.py). Each is refused by
`baseline push`; and one that reaches SSM anyway (written by hand, bypassing the CLI) makes `apply` fail
before any write: no EKS write call is made and the cluster's access is as it was.
"""

from __future__ import annotations

import json

import boto3
import pytest
import yaml
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.cli.main import main
from unit.test_baseline import BAD_DOCUMENTS

from local.client import Emulator

from .scenario import ADMIN, REGION, role

CLUSTER = "payments"
CASES = [pytest.param(doc, path, fragment, id=case) for case, doc, path, fragment in BAD_DOCUMENTS]


@pytest.fixture
def drifted(aws: Emulator) -> Emulator:
    """A cluster with a rogue admin entry: a valid baseline with prune on would delete it."""
    role("eks-cluster")
    boto3.client("eks").create_cluster(
        name=CLUSTER,
        roleArn=role("cluster-service"),
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": "API_AND_CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    )
    rogue = role("rogue")
    eks = boto3.client("eks")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=rogue)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=rogue, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    return aws


def eks_writes(aws: Emulator) -> int:
    return sum(1 for r in aws.cloudtrail_records() if r["eventSource"] == "eks.amazonaws.com")


@pytest.mark.parametrize(("doc", "path", "fragment"), CASES)
def test_push_refuses_the_bad_baseline_and_stores_nothing(
    drifted: Emulator, tmp_path, capsys, doc, path, fragment
) -> None:
    file = tmp_path / "baseline.yaml"
    file.write_text(yaml.safe_dump(doc) if doc is not None else "")
    code = main(["--region", REGION, "baseline", "push", str(file)])
    err = capsys.readouterr().err
    assert code == 1
    assert path in err and fragment in err, err
    assert BaselineStore(boto3.client("ssm")).list() == []


@pytest.mark.parametrize(("doc", "path", "fragment"), CASES)
def test_apply_from_a_bad_baseline_written_by_hand_changes_nothing(
    drifted: Emulator, capsys, doc, path, fragment
) -> None:
    # Given an invalid document stored for the cluster behind the CLI's back
    BaselineStore(boto3.client("ssm"))._write(CLUSTER, REGION, json.dumps(doc))
    before, writes = drifted.access(CLUSTER), eks_writes(drifted)
    # When an operator applies it
    code = main(["--region", REGION, "apply", "--cluster", CLUSTER, "--yes"])
    # Then it fails with one clear error, makes no EKS write, and the cluster's access is unchanged
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error:") and "Traceback" not in err, err
    assert eks_writes(drifted) == writes
    assert drifted.access(CLUSTER) == before
