"""`access-guard breakglass ...` against the local API: the on-call engineer's commands, signed with SigV4
from their AWS credentials (the default chain), the API URL from a flag, the environment or the stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3
import pytest
from access_guard.cli.main import main

from .conftest import ADMIN, CLUSTER, ONCALL, PLATFORM, REGION, VIEW, World


@pytest.fixture
def run(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    def run_cli(*args: str, who: str = "oncall", url: bool = True) -> tuple[int, str, str]:
        credentials = world.credentials[who]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
        if credentials.token:
            monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token)
        else:
            monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        code = main(["breakglass", *args, *(["--api-url", world.url] if url else [])])
        out, err = capsys.readouterr()
        return code, out, err

    return run_cli


def test_the_on_call_story_restore_then_a_grant_that_ends(world: World, run: Any) -> None:
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName=CLUSTER, principalArn=PLATFORM)

    code, out, _ = run("restore", CLUSTER, "--reason", "INC-9 locked out")
    assert code == 0, out
    assert "access restored to the baseline" in out
    assert world.admins() == [PLATFORM]

    code, out, _ = run(
        "grant", CLUSTER, "--policy", "AmazonEKSClusterAdminPolicy", "--minutes", "15", "--reason", "INC-9"
    )
    assert code == 0, out
    assert out.startswith(f"Granted AmazonEKSClusterAdminPolicy (cluster) on {CLUSTER} to {ONCALL} until ")
    assert ONCALL in world.admins()
    grant_id = out.split("Grant ", 1)[1].split(":", 1)[0]

    code, out, _ = run("grants", CLUSTER)
    assert code == 0 and grant_id in out and "active" in out

    code, out, _ = run("revoke", "--cluster", CLUSTER, grant_id, "--reason", "INC-9 over")
    assert (code, out.strip()) == (0, f"Revoked grant {grant_id}: its access is gone.")
    assert ONCALL not in world.access()

    code, out, _ = run("audit", CLUSTER)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["AT", "STATUS", "ACTION"]
    # the calls, and the grant's end (written by the run that took its access away)
    assert [line.split()[4] for line in lines[1:]] == ["revoke", "grant-end", "grants", "grant", "restore"]
    # The revocation's reason is recorded with the on-call engineer's call.
    [revoked] = [r for r in world.audit() if r["action"] == "revoke" and r["caller"] != "access-guard"]
    assert revoked["reason"] == "INC-9 over"
    assert revoked["request"]["body"] == {"reason": "INC-9 over"}


def test_drift_prints_the_plan_and_exits_2_when_there_is_drift(world: World, run: Any) -> None:
    assert run("drift", CLUSTER)[0] == 0
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName=CLUSTER, principalArn=PLATFORM)
    code, out, _ = run("drift", CLUSTER)
    assert code == 2
    assert f"+ create access entry {PLATFORM}" in out


def test_clusters_prints_a_table(world: World, run: Any) -> None:
    code, out, _ = run("clusters")
    assert code == 0
    assert out.splitlines()[1].split() == [CLUSTER, "enforce", "API_AND_CONFIG_MAP", "no", "0", "0"]


def test_errors_are_one_line_with_the_status_and_the_apis_reason(world: World, run: Any) -> None:
    code, out, err = run("clusters", who="mallory")
    assert (code, out) == (1, "")
    assert err.startswith("error: 403 forbidden: arn:aws:iam::123456789012:user/mallory is not an on-call")
    assert err.count("\n") == 1

    code, _, err = run("grant", CLUSTER, "--policy", VIEW, "--minutes", "61", "--reason", "-")
    assert code == 1
    assert err == (
        "error: 400 bad request: invalid grant request: --minutes must be between 1 and 60, got 61\n"
    )

    code, _, err = run("revoke", CLUSTER, "0123456789abcdef0123456789abcdef", "--reason", "done")
    assert code == 1 and err.startswith("error: 404 not found: no grant 0123456789abcdef0123456789abcdef")


def test_json_prints_the_apis_answer(world: World, run: Any) -> None:
    code, out, _ = run("grant", CLUSTER, "--policy", ADMIN, "--minutes", "5", "--reason", "INC-1", "--json")
    assert code == 0
    assert json.loads(out)["grant"]["principalArn"] == ONCALL


def test_the_api_url_comes_from_the_environment_or_the_deployed_stack(
    world: World, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCESS_GUARD_API_URL", world.url)
    assert run("clusters", url=False)[0] == 0

    monkeypatch.delenv("ACCESS_GUARD_API_URL")
    code, _, err = run("clusters", url=False)
    assert code == 1 and err.startswith(
        "error: no API URL: pass --api-url, set ACCESS_GUARD_API_URL, or deploy"
    )

    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiUrl": {"Value": world.url}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=f"EksAccessGuard-{REGION}", TemplateBody=json.dumps(template)
    )
    assert run("clusters", url=False)[0] == 0


def test_the_console_script_signs_with_the_default_credential_chain(world: World) -> None:
    credentials = world.credentials["sre"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_SESSION_TOKEN": credentials.token or "",
        "ACCESS_GUARD_API_URL": world.url,
    }
    script = os.path.join(os.path.dirname(sys.executable), "access-guard")
    done = subprocess.run(
        [script, "breakglass", "restore", CLUSTER, "--reason", "INC-3 check", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "No changes" in done.stdout
    [record] = [r for r in world.audit() if r["action"] == "restore"]
    assert record["caller"].endswith(":assumed-role/sre-oncall/bob")
