"""`make demo` runs `python -m local demo`: the story must run to its end on a fresh local AWS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_the_whole_story_unattended_and_ends_with_the_baseline_restored() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "local", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,  # about 70 s alone; the Identity Center step adds about 8 s, a busy machine more
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The oracle's verdict at each step, not just the guard's word for it.
    assert "cluster admins: NOBODY - locked out" in done.stdout
    assert "role/platform/platform-admins (via access-entry)" in done.stdout
    # every change was answered by the guard on its own, and the baseline holds at the end
    assert done.stdout.count("The guard, on its own:") == 4
    assert "No changes. payments matches its baseline." in done.stdout
    assert "The baseline holds; the guard did all of it on its own" in done.stdout
    # the rogue admin's note warns about RBAC backdoors, every time (no race between bob's two calls)
    rogue = done.stdout.split("3. Bob", 1)[1].split("4. Someone", 1)[0]
    assert "new cluster admin outside the baseline, by arn:aws:iam::123456789012:user/bob" in rogue
    assert "Review the cluster's RBAC" in rogue and "ResourceNotFoundException" not in rogue
    # commands can be pasted as printed; no row of the timeline is a wall of text; no file left behind
    assert "--reason 'INC-7: platform admins locked out'" in done.stdout
    assert all(
        len(line) <= 160 for line in done.stdout.split("6. Timeline", 1)[1].split("7. 3 a.m.")[0].splitlines()
    )
    # and the on-call engineer's grant gave cluster admin, then ended on its own (the oracle says both)
    night = done.stdout.split("7. 3 a.m.", 1)[1]
    granted, ended = night.split("16 minutes later", 1)
    assert "AWSReservedSSO_OnCall_0a1b2c3d4e5f6a7b (via access-entry)" in granted
    assert "AWSReservedSSO_OnCall" not in ended.split("\n", 1)[1].split("$ access-guard breakglass audit")[0]
    # and the platform admins' permission set, re-provisioned, has its entry moved to the new role (the oracle
    # shows the old role admin before, nobody of the set right after, the new one once the guard moved it)
    identity = done.stdout.split("8. The platform admins sign in through IAM Identity Center", 1)[1]
    shown = identity.split("CloudTrail records them", 1)[1].splitlines()[1:3]
    old, new = (line.strip().removeprefix("-> ") for line in shown)
    before, after = identity.split("Who can get in right after:", 1)
    assert f"{old} (via access-entry)" in before
    right_after, later = after.split(f"PlatformAdmins moved from {old} to {new}", 1)
    assert "AWSReservedSSO_PlatformAdmins" not in right_after.split("The guard [")[0]
    assert f"{new} (via access-entry)" in later and old not in later
