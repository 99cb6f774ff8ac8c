"""The CLI with IAM Identity Center permission sets: capture writes the permission-set form (--keep-arns keeps
ARNs), plan and apply show each set with the role it resolved to, and an apply moves a re-provisioned set."""

from __future__ import annotations

import json

import yaml
from access_guard.core import baseline as baseline_module
from access_guard.core.policies import ADMIN_POLICY_ARN

from local.client import Emulator

from .oracle_watch import watching
from .test_cli import CLUSTER, _fresh_clients, cluster, live_entries, live_entry, role, run  # noqa: F401


def test_capture_writes_a_permission_set_for_an_identity_center_role_and_it_plans_no_changes(
    aws: Emulator, tmp_path, capsys
):
    cluster()
    admins = aws.provision_permission_set("PlatformAdmins", region="eu-west-1")["created"]
    viewer = role("viewer")
    live_entry(admins, policy=ADMIN_POLICY_ARN)
    live_entry(viewer, groups=["viewers"])
    output = tmp_path / "captured.yaml"

    code, _, err = run(capsys, "baseline", "capture", "--cluster", CLUSTER, "-o", str(output))

    assert code == 0
    document = yaml.safe_load(output.read_text())
    assert [e["principalARN"] for e in document["accessConfig"]["accessEntries"]] == [viewer]
    assert document["accessGuard"]["identityCenter"] == [
        {
            "permissionSet": "PlatformAdmins",
            "accessPolicies": [{"policyARN": ADMIN_POLICY_ARN, "accessScope": {"type": "cluster"}}],
        }
    ]
    assert f"Wrote {admins} as IAM Identity Center permission set PlatformAdmins" in err
    assert run(capsys, "baseline", "push", str(output))[0] == 0
    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER)
    assert code == 0, out
    assert f"Permission set PlatformAdmins: {admins}" in out
    assert "No changes. payments matches its baseline." in out


def test_capture_keep_arns_writes_the_role_arn(aws: Emulator, capsys):
    cluster()
    admins = aws.provision_permission_set("PlatformAdmins")["created"]
    live_entry(admins, policy=ADMIN_POLICY_ARN)

    code, out, _ = run(capsys, "baseline", "capture", "--cluster", CLUSTER, "--keep-arns")

    assert code == 0
    captured = baseline_module.load(out)
    assert [e.principal_arn for e in captured.entries] == [admins] and captured.permission_sets == ()


def test_plan_and_apply_show_the_set_and_move_a_reprovisioned_one(aws: Emulator, tmp_path, capsys):
    cluster()
    old = aws.provision_permission_set("PlatformAdmins")["created"]
    live_entry(old, policy=ADMIN_POLICY_ARN)
    output = tmp_path / "b.yaml"
    run(capsys, "baseline", "capture", "--cluster", CLUSTER, "-o", str(output))
    run(capsys, "baseline", "push", str(output))
    new = aws.provision_permission_set("PlatformAdmins")["created"]

    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER)
    assert code == 2
    assert f"Permission set PlatformAdmins: {new}" in out
    assert f"(PlatformAdmins moved from {old} to {new})" in out
    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER, "--json")
    assert json.loads(out)["permissionSets"] == [
        {"permissionSet": "PlatformAdmins", "principalArn": new, "problem": None}
    ]

    with watching(CLUSTER, {new}) as watch:
        code, out, _ = run(capsys, "apply", "--cluster", CLUSTER, "--yes")
    assert code == 0, out
    assert watch.violations == []
    assert set(live_entries()) == {new}
    assert aws.admins(CLUSTER) == [new]
