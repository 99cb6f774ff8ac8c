"""The installed `access-guard` console script and `python -m access_guard`, run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import yaml

from local.client import Emulator

ACCOUNT = "123456789012"
REGION = "us-east-1"
CONSOLE_SCRIPT = Path(sys.executable).parent / "access-guard"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def environment(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["NO_COLOR"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def given_a_cluster_with_a_baseline(tmp_path: Path, name: str) -> tuple[Path, str]:
    iam, eks = boto3.client("iam"), boto3.client("eks")
    trust = '{"Version":"2012-10-17","Statement":[]}'
    cluster_role = iam.create_role(RoleName=f"eks-{name}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    admins = iam.create_role(RoleName=f"{name}-admins", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    eks.create_cluster(
        name=name,
        roleArn=cluster_role,
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": "API_AND_CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    )
    doc = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": name, "region": REGION},
        "accessConfig": {
            "accessEntries": [
                {
                    "principalARN": admins,
                    "accessPolicies": [{"policyARN": ADMIN_POLICY, "accessScope": {"type": "cluster"}}],
                }
            ]
        },
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path, admins


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_console_script_pushes_plans_and_applies_through_aws_endpoint_url(aws: Emulator, tmp_path):
    path, admins = given_a_cluster_with_a_baseline(tmp_path, "scripted")
    env = environment(AWS_ENDPOINT_URL=aws.endpoint_url)
    cli = [str(CONSOLE_SCRIPT), "--region", REGION]

    pushed = run([*cli, "baseline", "push", str(path)], env)
    planned = run([*cli, "plan", "--cluster", "scripted"], env)
    applied = run([*cli, "apply", "--cluster", "scripted", "--yes"], env)
    again = run([*cli, "plan", "--cluster", "scripted"], env)

    assert pushed.returncode == 0, pushed.stderr
    assert planned.returncode == 2, planned.stderr
    assert f"+ create access entry {admins}" in planned.stdout
    assert "\033[" not in planned.stdout
    assert applied.returncode == 0, applied.stderr
    assert again.returncode == 0 and "No changes." in again.stdout
    assert aws.admins("scripted") == [admins]


def test_console_script_apply_without_a_terminal_refuses(aws: Emulator, tmp_path):
    path, _ = given_a_cluster_with_a_baseline(tmp_path, "piped")
    env = environment(AWS_ENDPOINT_URL=aws.endpoint_url)
    assert run([str(CONSOLE_SCRIPT), "baseline", "push", str(path)], env).returncode == 0

    applied = subprocess.run(
        [str(CONSOLE_SCRIPT), "apply", "--cluster", "piped"],
        env=env,
        input="y\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert applied.returncode == 1
    assert applied.stderr.startswith("error: apply needs confirmation")
    assert aws.admins("piped") == []


def test_python_dash_m_with_endpoint_url_option(aws: Emulator, tmp_path):
    path, admins = given_a_cluster_with_a_baseline(tmp_path, "module")
    env = environment(AWS_ENDPOINT_URL=None)
    cli = [sys.executable, "-m", "access_guard", "--endpoint-url", aws.endpoint_url]

    pushed = run([*cli, "baseline", "push", str(path)], env)
    planned = run([*cli, "plan", "--cluster", "module", "--json"], env)

    assert pushed.returncode == 0, pushed.stderr
    assert planned.returncode == 2, planned.stderr
    assert '"drift": true' in planned.stdout and admins in planned.stdout


def test_an_error_in_a_process_is_one_line_and_no_traceback(aws: Emulator):
    env = environment(AWS_ENDPOINT_URL=aws.endpoint_url)

    result = run([str(CONSOLE_SCRIPT), "plan", "--cluster", "nothing-stored"], env)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: no baseline stored") and result.stderr.count("\n") == 1
