"""`make demo` runs `python -m local demo`: the story must run to its end on a fresh local AWS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_recovers_the_locked_out_cluster() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "local", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The oracle's verdict at each step, not just the CLI's word for it.
    assert "cluster admins: NOBODY - locked out" in done.stdout
    assert "role/platform/platform-admins (via access-entry)" in done.stdout
    assert done.stdout.rstrip().endswith("Recovered.")
