"""Helpers shared by the emulator's conformance tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

# The real AWS CLI, installed into the same virtualenv as a test dependency.
AWS_CLI = Path(sys.executable).parent / "aws"


def refused(call: Callable[[], Any]) -> tuple[str, int, str]:
    """Run `call`, which must fail with an AWS error; return (error code, HTTP status, message)."""
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def run_aws_cli(endpoint: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`aws ARGS --endpoint-url ENDPOINT --region us-east-1 --output json` with dummy credentials only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    command = [str(AWS_CLI), *args, "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def signed(
    endpoint: str, method: str, path: str, body: bytes = b""
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A raw SigV4-signed EKS request, for bodies no SDK would send."""
    request = AWSRequest(
        method=method, url=endpoint + path, data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials("testing", "testing"), "eks", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(
        endpoint + path, data=body or None, method=method, headers=dict(request.headers)
    )
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")
