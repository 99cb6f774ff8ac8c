"""`python -m local serve` as a new user runs it: the guard's region from AWS_REGION / AWS_DEFAULT_REGION
(then us-east-1), printed; the on-call principals from ACCESS_GUARD_ONCALL_PRINCIPALS when --oncall is not
given."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.__main__ import serve_oncall, serve_region

from .serving import stop

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/platform-oncall"


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        ("ap-south-1", {"AWS_REGION": "eu-west-1"}, "ap-south-1"),
        (None, {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-central-1"}, "eu-west-1"),
        (None, {"AWS_DEFAULT_REGION": "eu-central-1"}, "eu-central-1"),
        (None, {}, "us-east-1"),
    ],
)
def test_the_region_is_the_flag_then_the_environment_then_us_east_1(
    given: str | None, env: dict[str, str], expected: str
) -> None:
    assert serve_region(given, env)[0] == expected


def test_the_on_call_principals_come_from_the_runtime_variable_unless_given() -> None:
    env = {"ACCESS_GUARD_ONCALL_PRINCIPALS": f"{ROLE}, arn:aws:iam::123456789012:user/alice"}
    assert serve_oncall(None, env) == [ROLE, "arn:aws:iam::123456789012:user/alice"]
    assert serve_oncall(["arn:aws:iam::123456789012:role/x"], env) == ["arn:aws:iam::123456789012:role/x"]
    assert serve_oncall(None, {}) == []


def test_serve_guards_the_users_region_and_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ACCESS_GUARD_"))} | {
        "AWS_REGION": "eu-west-1",
        "ACCESS_GUARD_ONCALL_PRINCIPALS": ROLE,
        "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Try it"):
                break
    finally:
        stop(process)
    text = "".join(lines)
    assert "the guard's pipeline is running in eu-west-1 (from AWS_REGION" in text, text
    assert "AWS_DEFAULT_REGION=eu-west-1" in text
