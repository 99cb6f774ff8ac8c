"""The real AWS CLI reads the local CloudTrail: `aws cloudtrail lookup-events`, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.client import Emulator

AWS_CLI = Path(sys.executable).parent / "aws"
TRUST = '{"Version": "2012-10-17", "Statement": []}'


def aws_cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    command = [str(AWS_CLI), *args, "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.cli
def test_lookup_events_by_event_name_finds_the_delete_role(aws: Emulator) -> None:
    iam = boto3.client("iam")
    iam.create_role(RoleName="ops", Path="/team/", AssumeRolePolicyDocument=TRUST)
    iam.delete_role(RoleName="ops")

    done = aws_cli(
        aws.endpoint_url,
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=DeleteRole",
    )

    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)["Events"]
    assert [e["EventName"] for e in found] == ["DeleteRole"]
    assert found[0]["Resources"] == [{"ResourceType": "AWS::IAM::Role", "ResourceName": "ops"}]
    record = json.loads(found[0]["CloudTrailEvent"])
    assert record["requestParameters"] == {"roleName": "ops"}
    assert record["awsRegion"] == "us-east-1"
    assert record["eventID"] == found[0]["EventId"]


@pytest.mark.cli
def test_lookup_events_with_two_attributes_fails_with_the_aws_error(aws: Emulator) -> None:
    done = aws_cli(
        aws.endpoint_url,
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=DeleteRole",
        "AttributeKey=Username,AttributeValue=root",
    )

    assert done.returncode != 0
    assert "InvalidLookupAttributesException" in done.stderr
