"""What a handler's cold start imports: only what that function runs (bench/import_time.py measures the cost).

Each case imports a handler in a fresh interpreter, in Lambda's environment (X-Ray's Lambda path, no
`requests`), and lists the modules it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": "/tmp/lambda-task-root",
    "AWS_LAMBDA_FUNCTION_NAME": "cold-start-test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def loaded_by(module: str, *, env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import sys, json; sys.modules['requests'] = None; import boto3; before = set(sys.modules); "
        f"import {module}; print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(env if env is not None else LAMBDA_ENV, PYTHONPATH=str(FUNCTIONS))
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_intake_does_not_import_break_glass_the_enforcer_or_the_run_notes():
    loaded = loaded_by("access_guard.handlers.intake")
    assert "access_guard.handlers.intake" in loaded
    for other in (
        "access_guard.services.breakglass",
        "access_guard.services.enforce",
        "access_guard.services.reconcile",
        "access_guard.core.breakglass",
        "access_guard.core.describe",
        "access_guard.adapters.audit_table",
    ):
        assert other not in loaded, other


@pytest.mark.parametrize("handler", ["intake", "remediate", "sweep", "api", "expiry"])
def test_x_ray_patches_no_library_the_functions_do_not_use(handler):
    loaded = loaded_by(f"access_guard.handlers.{handler}")
    assert "aws_xray_sdk.ext.botocore.patch" in loaded  # the AWS calls are traced
    assert "sqlite3" not in loaded


def test_the_remediation_builds_no_client_at_import():
    # no region at all: a client made at import (Powertools' idempotency store's own) would fail here
    no_region = {k: v for k, v in LAMBDA_ENV.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    loaded = loaded_by("access_guard.handlers.remediate", env=no_region)
    assert "access_guard.handlers.remediate" in loaded
