"""The real AWS CLI reads the local CloudTrail: `aws cloudtrail lookup-events`, run as a user would."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local.client import Emulator

from .helpers import run_aws_cli

TRUST = '{"Version": "2012-10-17", "Statement": []}'


@pytest.mark.cli
def test_lookup_events_by_event_name_finds_the_delete_role(aws: Emulator) -> None:
    iam = boto3.client("iam")
    iam.create_role(RoleName="ops", Path="/team/", AssumeRolePolicyDocument=TRUST)
    iam.delete_role(RoleName="ops")

    done = run_aws_cli(
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
    done = run_aws_cli(
        aws.endpoint_url,
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=DeleteRole",
        "AttributeKey=Username,AttributeValue=root",
    )

    assert done.returncode != 0
    assert "InvalidLookupAttributesException" in done.stderr
