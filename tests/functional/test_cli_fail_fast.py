"""An endpoint that is down is reported within seconds, naming it (not after a minute of retries)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from access_guard.adapters.clients import FAIL_FAST_SECONDS

CONSOLE_SCRIPT = Path(sys.executable).parent / "access-guard"


def a_port_nobody_listens_on() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NO_COLOR": "1",
    }
    started = time.monotonic()
    done = subprocess.run([str(CONSOLE_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=90)
    return time.monotonic() - started, done


def test_plan_against_an_endpoint_that_is_down_fails_within_seconds_naming_it():
    url = f"http://127.0.0.1:{a_port_nobody_listens_on()}"

    took, done = run("plan", "--cluster", "payments", "--endpoint-url", url)

    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot connect to {url}/"), done.stderr
    assert took < FAIL_FAST_SECONDS, took


def test_break_glass_against_an_api_that_is_down_fails_within_seconds_naming_it():
    url = f"http://127.0.0.1:{a_port_nobody_listens_on()}/v1"

    took, done = run("breakglass", "clusters", "--api-url", url)

    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot reach the break-glass API at {url}"), done.stderr
    assert took < FAIL_FAST_SECONDS, took
