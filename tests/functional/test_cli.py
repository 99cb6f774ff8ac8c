"""`access-guard` against the local AWS: every command and exit code, run in-process through `main()`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from access_guard.adapters.clients import clear_cache
from access_guard.cli.main import main
from access_guard.core import baseline as baseline_module
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX

from local.client import Emulator

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "payments"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
FAST = ["--poll-seconds", "0.05"]


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Clients are cached per process; each test talks to a freshly reset local AWS."""
    clear_cache()
    yield
    clear_cache()


# --- helpers ------------------------------------------------------------------------------------------------


def role(name: str, path: str = "/") -> str:
    trust = '{"Version":"2012-10-17","Statement":[]}'
    return boto3.client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]


def cluster(name: str = CLUSTER, mode: str = "API_AND_CONFIG_MAP") -> None:
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster-{name}"
    iam = boto3.client("iam")
    if not any(r["Arn"] == role_arn for r in iam.list_roles()["Roles"]):
        role(f"eks-cluster-{name}")
    boto3.client("eks").create_cluster(
        name=name,
        roleArn=role_arn,
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        accessConfig={
            "authenticationMode": mode,
            "bootstrapClusterCreatorAdminPermissions": mode == "CONFIG_MAP",
        },
    )


def live_entry(principal_arn: str, *, groups: list[str] | None = None, policy: str | None = None) -> None:
    eks = boto3.client("eks")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=principal_arn, kubernetesGroups=groups or [])
    if policy:
        eks.associate_access_policy(
            clusterName=CLUSTER, principalArn=principal_arn, policyArn=policy, accessScope={"type": "cluster"}
        )


def live_entries() -> dict[str, dict]:
    eks = boto3.client("eks")
    arns = eks.list_access_entries(clusterName=CLUSTER)["accessEntries"]
    return {
        arn: eks.describe_access_entry(clusterName=CLUSTER, principalArn=arn)["accessEntry"] for arn in arns
    }


def auth_mode(name: str = CLUSTER) -> str:
    return boto3.client("eks").describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"]


def baseline_text(
    entries: list[dict],
    *,
    name: str = CLUSTER,
    mode: str | None = "API_AND_CONFIG_MAP",
    guard: dict | None = None,
) -> str:
    access: dict = {"accessEntries": entries}
    if mode:
        access["authenticationMode"] = mode
    doc: dict = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": name, "region": REGION},
        "accessConfig": access,
    }
    if guard:
        doc["accessGuard"] = guard
    return yaml.safe_dump(doc, sort_keys=False)


def admin_spec(principal_arn: str) -> dict:
    return {
        "principalARN": principal_arn,
        "accessPolicies": [{"policyARN": ADMIN_POLICY_ARN, "accessScope": {"type": "cluster"}}],
    }


def write(tmp_path: Path, text: str, name: str = "baseline.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def push(tmp_path: Path, text: str) -> None:
    assert main(["baseline", "push", write(tmp_path, text, "pushed.yaml")]) == 0


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--no-color", *argv])
    out, err = capsys.readouterr()
    return code, out, err


class FakeTty(io.StringIO):
    """Standard input on a terminal, with the operator's answer already typed."""

    def isatty(self) -> bool:
        return True


# --- validate -----------------------------------------------------------------------------------------------


def test_validate_a_valid_file_exits_0(tmp_path, capsys):
    path = write(tmp_path, baseline_text([admin_spec(f"arn:aws:iam::{ACCOUNT}:role/admins")]))

    code, out, err = run(capsys, "validate", path)

    assert code == 0
    assert "valid baseline for cluster payments in us-east-1" in out
    assert err == ""


def test_validate_an_invalid_file_exits_1_listing_every_problem(tmp_path, capsys):
    text = baseline_text(
        [
            {"principalARN": "not-an-arn"},
            {"principalARN": f"arn:aws:iam::{ACCOUNT}:role/x", "kubernetesGroups": ["system:masters"]},
        ]
    )
    path = write(tmp_path, text)

    code, out, err = run(capsys, "validate", path)

    assert code == 1
    assert out == ""
    assert err.startswith(f"error: {path} is not a valid baseline")
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(problems) >= 2
    assert any("accessEntries[0]" in p for p in problems) and any("accessEntries[1]" in p for p in problems)


def test_validate_a_file_that_is_not_yaml_exits_1(tmp_path, capsys):
    code, _, err = run(capsys, "validate", write(tmp_path, "metadata: [unclosed"))

    assert code == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_validate_a_missing_file_is_one_error_line(tmp_path, capsys):
    code, _, err = run(capsys, "validate", str(tmp_path / "nope.yaml"))

    assert code == 1
    assert err.startswith("error: cannot read ") and err.count("\n") == 1


# --- baseline push / show / capture -------------------------------------------------------------------------


def test_push_then_show_round_trips(aws: Emulator, tmp_path, capsys):
    admins = f"arn:aws:iam::{ACCOUNT}:role/platform/platform-admins"
    text = baseline_text(
        [
            admin_spec(admins),
            {"principalARN": f"arn:aws:iam::{ACCOUNT}:role/oncall", "kubernetesGroups": ["oncall"]},
        ],
        guard={"mode": "detect", "prune": True, "maxDeletions": 3},
    )

    code, out, _ = run(capsys, "baseline", "push", write(tmp_path, text))
    assert code == 0 and "Stored the baseline of cluster payments" in out

    code, shown, _ = run(capsys, "baseline", "show", CLUSTER)
    assert code == 0
    assert baseline_module.load(shown) == baseline_module.load(text)

    code, shown_json, _ = run(capsys, "baseline", "show", CLUSTER, "--json")
    assert code == 0
    assert baseline_module.from_document(json.loads(shown_json)) == baseline_module.load(text)


def test_push_refuses_an_invalid_baseline_and_stores_nothing(aws: Emulator, tmp_path, capsys):
    text = baseline_text([{"principalARN": "not-an-arn"}])

    code, _, err = run(capsys, "baseline", "push", write(tmp_path, text))

    assert code == 1 and err.startswith("error: ")
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


def test_show_without_a_stored_baseline_is_an_error(aws: Emulator, capsys):
    code, out, err = run(capsys, "baseline", "show", "nothing-here")

    assert code == 1 and out == ""
    assert err.startswith("error: no baseline stored") and err.count("\n") == 1


def test_capture_writes_a_baseline_that_plans_no_changes(aws: Emulator, tmp_path, capsys):
    cluster()
    admins, oncall = role("admins"), role("oncall")
    live_entry(admins, policy=ADMIN_POLICY_ARN)
    live_entry(oncall, groups=["oncall"])
    output = tmp_path / "captured.yaml"

    code, out, _ = run(capsys, "baseline", "capture", "--cluster", CLUSTER, "-o", str(output))

    assert code == 0 and out == ""
    captured = baseline_module.load(output.read_text())
    assert {e.principal_arn for e in captured.entries} == {admins, oncall}
    assert captured.authentication_mode == "API_AND_CONFIG_MAP"
    assert captured.settings.prune is False
    assert run(capsys, "validate", str(output))[0] == 0
    assert run(capsys, "baseline", "push", str(output))[0] == 0
    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER)
    assert code == 0, out
    assert "No changes. payments matches its baseline." in out


def test_capture_to_stdout(aws: Emulator, capsys):
    cluster()
    admins = role("admins")
    live_entry(admins, policy=ADMIN_POLICY_ARN)

    code, out, _ = run(capsys, "baseline", "capture", "--cluster", CLUSTER)

    assert code == 0
    captured = baseline_module.load(out)
    assert captured.cluster == CLUSTER and [e.principal_arn for e in captured.entries] == [admins]


def test_capture_of_an_unknown_cluster_is_an_error(aws: Emulator, capsys):
    code, out, err = run(capsys, "baseline", "capture", "--cluster", "ghost")

    assert code == 1 and out == ""
    assert err.startswith("error: ") and "ghost" in err and err.count("\n") == 1


# --- plan ---------------------------------------------------------------------------------------------------


def test_plan_with_no_drift_exits_0(aws: Emulator, tmp_path, capsys):
    cluster()
    admins = role("admins")
    live_entry(admins, policy=ADMIN_POLICY_ARN)
    push(tmp_path, baseline_text([admin_spec(admins)]))

    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER)

    assert code == 0
    assert out.splitlines()[0] == f"Cluster {CLUSTER} in {REGION} (mode: enforce)"
    assert "No changes. payments matches its baseline." in out


def test_plan_with_drift_exits_2_and_shows_each_action(aws: Emulator, tmp_path, capsys):
    cluster()
    admins, oncall, intruder = role("admins"), role("oncall"), role("intruder")
    live_entry(oncall, groups=["wrong"])
    live_entry(intruder, policy=ADMIN_POLICY_ARN)
    oncall_spec = {"principalARN": oncall, "kubernetesGroups": ["oncall"]}
    push(tmp_path, baseline_text([admin_spec(admins), oncall_spec], guard={"prune": True}))

    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER)

    assert code == 2
    assert f"+ create access entry {admins}" in out
    assert f"+ associate AmazonEKSClusterAdminPolicy (cluster) to {admins}" in out
    assert f"~ update {oncall}: groups [wrong] -> [oncall]" in out
    assert f"- delete access entry {intruder} (not in the baseline)" in out
    assert "Plan: 2 to add, 1 to change, 1 to remove." in out


def test_plan_shows_a_mode_upgrade(aws: Emulator, tmp_path, capsys):
    cluster(mode="CONFIG_MAP")
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)]))

    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER)

    assert code == 2
    assert "~ authentication mode CONFIG_MAP -> API_AND_CONFIG_MAP" in out


def test_plan_json_is_one_document(aws: Emulator, tmp_path, capsys):
    cluster()
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)]))

    code, out, err = run(capsys, "plan", "--cluster", CLUSTER, "--json")

    assert code == 2
    doc = json.loads(out)
    assert doc["cluster"] == CLUSTER and doc["region"] == REGION and doc["drift"] is True
    assert [(a["op"], a["kind"]) for a in doc["actions"]] == [
        ("+", "create-entry"),
        ("+", "associate-policy"),
    ]
    assert doc["actions"][0]["principalArn"] == admins
    assert doc["warnings"] == [] and doc["refusals"] == []


def test_plan_json_without_drift(aws: Emulator, tmp_path, capsys):
    cluster()
    push(tmp_path, baseline_text([], mode=None))

    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER, "--json")

    assert code == 0
    assert json.loads(out)["drift"] is False and json.loads(out)["actions"] == []


def test_plan_without_a_stored_baseline_exits_1(aws: Emulator, capsys):
    cluster()

    code, out, err = run(capsys, "plan", "--cluster", CLUSTER)

    assert code == 1 and out == ""
    assert err.startswith("error: no baseline stored") and err.count("\n") == 1


def test_plan_for_an_unknown_cluster_exits_1(aws: Emulator, tmp_path, capsys):
    push(tmp_path, baseline_text([admin_spec(f"arn:aws:iam::{ACCOUNT}:role/admins")], name="ghost"))

    code, out, err = run(capsys, "plan", "--cluster", "ghost")

    assert code == 1 and out == ""
    assert err.startswith("error: cluster not found") and "ghost" in err and err.count("\n") == 1


def test_an_aws_error_is_one_error_line(aws: Emulator, tmp_path, capsys):
    # SSM refuses parameter names under /aws/: a real AWS error, not retried.
    path = write(tmp_path, baseline_text([], mode=None))

    code, out, err = run(capsys, "baseline", "push", path, "--prefix", "/aws/guard/")

    assert code == 1 and out == ""
    assert err.startswith("error: AWS PutParameter failed: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_a_prefix_ssm_cannot_hold_is_an_error(tmp_path, capsys):
    code, _, err = run(capsys, "baseline", "show", CLUSTER, "--prefix", "relative/path")

    assert code == 1
    assert err.startswith("error: ") and "must start with '/'" in err and err.count("\n") == 1


def test_plan_honours_the_prefix_option(aws: Emulator, tmp_path, capsys):
    cluster()
    text = baseline_text([], mode=None)
    assert main(["baseline", "push", write(tmp_path, text), "--prefix", "/team-a/guard/"]) == 0

    assert run(capsys, "plan", "--cluster", CLUSTER)[0] == 1  # not under the default prefix
    assert run(capsys, "plan", "--cluster", CLUSTER, "--prefix", "/team-a/guard/")[0] == 0


# --- apply --------------------------------------------------------------------------------------------------


def test_apply_yes_fixes_the_drift_and_a_second_plan_is_clean(aws: Emulator, tmp_path, capsys):
    aws.set_eks_settings(mode_update_seconds=0.2)
    cluster(mode="CONFIG_MAP")
    admins = role("admins", path="/platform/")
    push(tmp_path, baseline_text([admin_spec(admins)]))

    code, out, err = run(capsys, "apply", "--cluster", CLUSTER, "--yes", *FAST)

    assert code == 0, err
    assert "~ authentication mode CONFIG_MAP -> API_AND_CONFIG_MAP: done" in out
    assert f"+ create access entry {admins}" in out and ": done" in out
    assert "Apply: 3 done, 0 failed, 0 not attempted." in out
    assert auth_mode() == "API_AND_CONFIG_MAP"
    assert admins in aws.admins(CLUSTER)
    assert run(capsys, "plan", "--cluster", CLUSTER)[0] == 0


def test_apply_without_yes_and_without_a_terminal_refuses_and_changes_nothing(
    aws: Emulator, tmp_path, capsys, monkeypatch
):
    cluster()
    admins, intruder = role("admins"), role("intruder")
    live_entry(intruder, policy=ADMIN_POLICY_ARN)
    push(tmp_path, baseline_text([admin_spec(admins)], guard={"prune": True}))
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped input is not a confirmation
    before = live_entries()

    code, out, err = run(capsys, "apply", "--cluster", CLUSTER)

    assert code == 1
    assert err.startswith("error: apply needs confirmation") and "--yes" in err
    assert live_entries() == before
    assert run(capsys, "plan", "--cluster", CLUSTER)[0] == 2


def test_apply_asks_on_a_terminal_and_a_no_changes_nothing(aws: Emulator, tmp_path, capsys, monkeypatch):
    cluster()
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)]))
    monkeypatch.setattr("sys.stdin", FakeTty("n\n"))

    code, out, err = run(capsys, "apply", "--cluster", CLUSTER)

    assert code == 1
    assert f"Apply these 2 changes to {CLUSTER}? [y/N]" in out
    assert "Nothing was changed" in err
    assert live_entries() == {}


def test_apply_asks_on_a_terminal_and_a_yes_applies(aws: Emulator, tmp_path, capsys, monkeypatch):
    cluster()
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)]))
    monkeypatch.setattr("sys.stdin", FakeTty("y\n"))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER)

    assert code == 0
    assert list(live_entries()) == [admins]


def test_apply_with_no_drift_says_so_and_exits_0(aws: Emulator, tmp_path, capsys):
    cluster()
    admins = role("admins")
    live_entry(admins, policy=ADMIN_POLICY_ARN)
    push(tmp_path, baseline_text([admin_spec(admins)]))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER)

    assert code == 0
    assert "No changes. payments matches its baseline." in out
    assert "Nothing to apply." in out


def test_apply_in_detect_mode_changes_nothing_and_exits_2(aws: Emulator, tmp_path, capsys):
    cluster()
    admins, intruder = role("admins"), role("intruder")
    live_entry(intruder, policy=ADMIN_POLICY_ARN)
    push(tmp_path, baseline_text([admin_spec(admins)], guard={"mode": "detect", "prune": True}))
    before = live_entries()

    plan_code, plan_out, _ = run(capsys, "plan", "--cluster", CLUSTER)
    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes")

    assert plan_code == 2 and "(mode: detect)" in plan_out
    assert code == 2
    assert "detect mode" in out and "changes nothing" in out
    assert live_entries() == before


def test_apply_json_in_detect_mode_writes_nothing(aws: Emulator, tmp_path, capsys):
    cluster()
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)], guard={"mode": "detect"}))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes", "--json")

    assert code == 2
    doc = json.loads(out)
    assert doc["mode"] == "detect" and doc["drift"] is True
    assert doc["applied"] is False and doc["done"] == [] and len(doc["notAttempted"]) == 2
    assert live_entries() == {}


def test_apply_json_reports_the_plan_and_the_outcome(aws: Emulator, tmp_path, capsys):
    cluster()
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)]))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes", "--json")

    assert code == 0
    doc = json.loads(out)
    assert doc["cluster"] == CLUSTER and doc["drift"] is True
    assert [a["kind"] for a in doc["actions"]] == ["create-entry", "associate-policy"]
    assert doc["applied"] is True and doc["succeeded"] is True
    assert doc["rbacWarning"] is None


def test_apply_that_removes_an_admin_entry_warns_about_rbac_backdoors(aws: Emulator, tmp_path, capsys):
    cluster()
    admins, intruder = role("admins"), role("intruder")
    live_entry(admins, policy=ADMIN_POLICY_ARN)
    live_entry(intruder, policy=ADMIN_POLICY_ARN)
    push(tmp_path, baseline_text([admin_spec(admins)], guard={"prune": True}))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes")

    assert code == 0
    assert f"- delete access entry {intruder} (not in the baseline): done" in out
    assert "RBAC backdoors" in out and intruder in out.split("RBAC backdoors", 1)[1]
    assert list(live_entries()) == [admins]


def test_apply_that_only_adds_gives_no_rbac_warning(aws: Emulator, tmp_path, capsys):
    cluster()
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)]))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes")

    assert code == 0 and "RBAC" not in out


def test_apply_that_fails_exits_1_and_says_what_failed_and_what_was_not_attempted(
    aws: Emulator, tmp_path, capsys
):
    # Given a baseline entry for a role of another account that does not exist: EKS refuses to create it.
    cluster()
    admins = role("admins")
    ghost = "arn:aws:iam::999999999999:role/ghost"
    viewer = {
        "principalARN": ghost,
        "accessPolicies": [
            {"policyARN": POLICY_ARN_PREFIX + "AmazonEKSViewPolicy", "accessScope": {"type": "cluster"}}
        ],
    }
    push(tmp_path, baseline_text([admin_spec(admins), viewer]))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes")

    assert code == 1
    assert f"+ create access entry {admins} (STANDARD, username: generated by EKS, groups: []): done" in out
    assert f"+ associate AmazonEKSClusterAdminPolicy (cluster) to {admins}: done" in out
    assert (
        f"+ create access entry {ghost} (STANDARD, username: generated by EKS, groups: []): FAILED: " in out
    )
    assert f"+ associate AmazonEKSViewPolicy (cluster) to {ghost}: not attempted" in out
    assert "Apply: 2 done, 1 failed, 1 not attempted." in out


def test_apply_json_when_an_action_fails(aws: Emulator, tmp_path, capsys):
    cluster()
    ghost = "arn:aws:iam::999999999999:role/ghost"
    push(tmp_path, baseline_text([admin_spec(role("admins")), {"principalARN": ghost}]))

    code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes", "--json")

    assert code == 1
    doc = json.loads(out)
    assert doc["applied"] is True and doc["succeeded"] is False
    [failed] = doc["failed"]
    assert failed["action"]["principalArn"] == ghost and failed["error"]


def test_capture_leaves_out_entries_of_deleted_principals(aws: Emulator, tmp_path, capsys):
    cluster()
    admins, gone = role("admins"), role("gone")
    live_entry(admins, policy=ADMIN_POLICY_ARN)
    live_entry(gone, groups=["old"])
    boto3.client("iam").delete_role(RoleName="gone")

    code, out, err = run(capsys, "baseline", "capture", "--cluster", CLUSTER)

    assert code == 0
    assert [e.principal_arn for e in baseline_module.load(out).entries] == [admins]
    assert "Left out 1 entry" in err and gone in err


def test_ctrl_c_at_the_prompt_exits_130_and_changes_nothing(aws: Emulator, tmp_path, capsys, monkeypatch):
    cluster()
    admins = role("admins")
    push(tmp_path, baseline_text([admin_spec(admins)]))

    class Interrupted(FakeTty):
        def readline(self, *args: object) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr("sys.stdin", Interrupted())

    code, _, err = run(capsys, "apply", "--cluster", CLUSTER)

    assert code == 130
    assert "Traceback" not in err
    assert live_entries() == {}


# --- options and usage --------------------------------------------------------------------------------------


def test_no_region_anywhere_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)

    code, out, err = run(capsys, "plan", "--cluster", CLUSTER)

    assert code == 1 and out == ""
    assert err.startswith("error: no AWS region") and err.count("\n") == 1


def test_a_usage_error_exits_1_not_2(capsys):
    code, _, err = run(capsys, "plan")

    assert code == 1
    assert err.startswith("error: ") and "--cluster" in err


def test_an_unknown_command_exits_1(capsys):
    code, _, err = run(capsys, "destroy")

    assert code == 1 and err.startswith("error: ")


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")

    assert code == 0 and "access-guard" in out and "apply" in out


def test_options_may_come_after_the_command(aws: Emulator, tmp_path, capsys):
    cluster()
    push(tmp_path, baseline_text([], mode=None))

    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER, "--region", REGION, "--concurrency", "3")

    assert code == 0 and f"in {REGION}" in out


def test_push_stores_a_baseline_in_its_own_region_and_plan_looks_there(aws: Emulator, tmp_path, capsys):
    text = baseline_text([], mode=None).replace(REGION, "eu-west-1")

    code, out, _ = run(capsys, "baseline", "push", write(tmp_path, text))

    assert code == 0 and "(eu-west-1)" in out
    assert run(capsys, "baseline", "show", CLUSTER, "--region", "eu-west-1")[0] == 0
    assert run(capsys, "baseline", "show", CLUSTER)[0] == 1  # not in the default region, us-east-1


def test_plan_is_coloured_on_a_terminal_unless_told_not_to(aws: Emulator, tmp_path, capsys, monkeypatch):
    cluster()
    push(tmp_path, baseline_text([admin_spec(role("admins"))]))

    def plan_on_a_terminal(*extra: str, no_color_env: bool = False) -> str:
        terminal = FakeTty()
        with monkeypatch.context() as patch:
            patch.setattr("sys.stdout", terminal)
            if no_color_env:
                patch.setenv("NO_COLOR", "1")
            assert main(["plan", "--cluster", CLUSTER, *extra]) == 2
        return terminal.getvalue()

    coloured = plan_on_a_terminal()
    plain = plan_on_a_terminal("--no-color")
    plain_by_env = plan_on_a_terminal(no_color_env=True)

    assert "\033[32m  + create access entry" in coloured
    assert "\033[" not in plain
    assert "\033[" not in plain_by_env
