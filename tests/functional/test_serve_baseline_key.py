"""`python -m local serve` makes the deployment's baseline key (the same alias as in AWS) and the guard it
runs uses it: a baseline the CLI pushes is a SecureString under that key and is applied; one written as a
String is refused with an alert and changes nothing (the emulator's oracle)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from access_guard.core.trust import BASELINE_KEY_ALIAS

from local.client import Emulator

from .serving import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = "payments"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def wait_for(check: Any, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s")


def baseline(admin: str) -> str:
    return json.dumps(
        {
            "metadata": {"name": CLUSTER, "region": REGION},
            "accessConfig": {
                "authenticationMode": "API",
                "accessEntries": [
                    {
                        "principalARN": admin,
                        "accessPolicies": [{"policyARN": ADMIN, "accessScope": {"type": "cluster"}}],
                    }
                ],
            },
            "accessGuard": {"prune": True},
        }
    )


@pytest.fixture
def served(tmp_path: Path) -> Any:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions"), str(ROOT)])
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "serve", "--port", str(port), "--sweep-seconds", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    lines = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Try it"):
                break
        else:
            raise AssertionError("serve stopped: " + "".join(lines))
        printed = "".join(lines)
        # keep reading what serve prints (its functions' log lines): a pipe nobody reads fills, and serve's
        # threads then block on their next print
        threading.Thread(target=lines.extend, args=(process.stdout,), daemon=True).start()
        yield endpoint, printed, env, lines
    finally:
        stop(process, sig=signal.SIGTERM)


@pytest.mark.slow  # a real `python -m local serve` with worker processes: minutes on a busy 2-core machine
def test_serve_makes_the_baseline_key_and_the_guard_applies_only_what_is_under_it(served, tmp_path):
    endpoint, printed, env, printing = served
    aws = {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }
    kms, ssm, iam = (boto3.client(s, **aws) for s in ("kms", "ssm", "iam"))
    key = kms.describe_key(KeyId=BASELINE_KEY_ALIAS)["KeyMetadata"]["Arn"]
    assert key in printed
    trust = '{"Version":"2012-10-17","Statement":[]}'
    platform = iam.create_role(RoleName="platform", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=trust)
    boto3.client("eks", **aws).create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    # a baseline writer pushes with the CLI: a SecureString under the served key, applied
    path = tmp_path / "baseline.json"
    path.write_text(baseline(platform))
    cli_env = {**env, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    cli_env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    pushed = subprocess.run(
        [sys.executable, "-m", "access_guard", "baseline", "push", str(path)],
        cwd=ROOT,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pushed.returncode == 0, pushed.stderr
    baselines = [p for p in ssm.describe_parameters()["Parameters"] if "/clusters/" in p["Name"]]
    assert {(p["Type"], p["KeyId"]) for p in baselines} == {("SecureString", key)}
    oracle = Emulator(endpoint)
    wait_for(lambda: oracle.admins(CLUSTER) == [platform])
    # someone writes the manifest as a String: refused, alerted, nothing changes
    before = oracle.access(CLUSTER)
    manifest = f"/eks-access-guard/clusters/{REGION}/{CLUSTER}"
    value = ssm.get_parameter(Name=manifest, WithDecryption=True)["Parameter"]["Value"]
    ssm.put_parameter(Name=manifest, Value=value, Type="String", Overwrite=True)
    # the alert, as serve shows it to its user: serve itself reads the notifications queue and prints each
    # note (a test reading that queue too would race serve for the message)
    title = f"[{CLUSTER}] baseline refused: not from a baseline writer"

    def refused() -> bool:
        return any(line.startswith("[") and title in line for line in list(printing))

    wait_for(refused)
    assert oracle.access(CLUSTER) == before
