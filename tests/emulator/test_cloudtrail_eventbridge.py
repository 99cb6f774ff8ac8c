"""CloudTrail records delivered as EventBridge events: to rules on the default bus and to subscribers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import local.cloudtrail
from local.client import Emulator

ACCOUNT = "123456789012"
TRUST = '{"Version": "2012-10-17", "Statement": []}'
DETAIL_TYPE = "AWS API Call via CloudTrail"


def rule_to_queue(region: str, pattern: dict[str, Any], *, state: str = "ENABLED") -> str:
    """A rule on `region`'s default bus with an SQS queue target; returns the queue URL."""
    sqs = boto3.client("sqs", region_name=region)
    queue_url = sqs.create_queue(QueueName="cloudtrail-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events", region_name=region)
    events.put_rule(Name="access-changes", EventPattern=json.dumps(pattern), State=state)
    events.put_targets(Rule="access-changes", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(queue_url)


def received(region: str, queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=region)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


@pytest.fixture
def envelopes() -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []
    local.cloudtrail.subscribe(got.append)
    yield got
    local.cloudtrail.unsubscribe(got.append)


def test_a_rule_in_us_east_1_receives_an_iam_delete_role(aws: Emulator) -> None:
    pattern = {"source": ["aws.iam"], "detail-type": [DETAIL_TYPE], "detail": {"eventName": ["DeleteRole"]}}
    queue = rule_to_queue("us-east-1", pattern)
    iam = boto3.client("iam", region_name="eu-central-1")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=TRUST)
    iam.delete_role(RoleName="ops")

    [event] = received("us-east-1", queue)

    assert event["source"] == "aws.iam"
    assert event["detail-type"] == DETAIL_TYPE
    assert event["region"] == "us-east-1"
    assert event["detail"]["eventName"] == "DeleteRole"
    assert event["detail"]["requestParameters"] == {"roleName": "ops"}
    assert event["detail"]["recipientAccountId"] == ACCOUNT


def test_iam_events_never_reach_another_regions_bus(aws: Emulator) -> None:
    queue = rule_to_queue("eu-central-1", {"source": ["aws.iam"]})
    boto3.client("iam", region_name="eu-central-1").create_user(UserName="bob")
    assert received("eu-central-1", queue) == []


def test_a_rule_in_the_clusters_region_receives_the_eks_event(aws: Emulator) -> None:
    pattern = {"source": ["aws.eks"], "detail": {"eventName": ["DeleteCluster"]}}
    queue = rule_to_queue("eu-west-1", pattern)
    with pytest.raises(ClientError):
        boto3.client("eks", region_name="eu-west-1").delete_cluster(name="prod")

    [event] = received("eu-west-1", queue)

    assert event["region"] == "eu-west-1"
    assert event["detail"]["eventSource"] == "eks.amazonaws.com"
    assert event["detail"]["requestParameters"] == {"name": "prod"}
    assert event["detail"]["errorCode"] == "ResourceNotFoundException"


def test_a_rule_whose_pattern_does_not_match_receives_nothing(aws: Emulator) -> None:
    queue = rule_to_queue("us-east-1", {"source": ["aws.iam"], "detail": {"eventName": ["DeleteRole"]}})
    boto3.client("iam").create_user(UserName="bob")
    assert received("us-east-1", queue) == []


def test_a_disabled_rule_receives_nothing(aws: Emulator) -> None:
    queue = rule_to_queue("us-east-1", {"source": ["aws.iam"]}, state="DISABLED")
    boto3.client("iam").create_user(UserName="bob")
    assert received("us-east-1", queue) == []


def test_subscribers_get_the_envelope_of_every_event(aws: Emulator, envelopes: list[dict[str, Any]]) -> None:
    boto3.client("iam").create_user(UserName="bob")
    with pytest.raises(ClientError):
        boto3.client("eks", region_name="eu-west-1").delete_cluster(name="prod")

    assert [(e["source"], e["region"], e["detail"]["eventName"]) for e in envelopes] == [
        ("aws.iam", "us-east-1", "CreateUser"),
        ("aws.eks", "eu-west-1", "DeleteCluster"),
    ]
    first = envelopes[0]
    assert first["version"] == "0"
    assert first["detail-type"] == DETAIL_TYPE
    assert first["account"] == ACCOUNT
    assert first["time"] == first["detail"]["eventTime"]
    assert first["resources"] == []
    assert first["detail"] == aws.cloudtrail_records()[0]
    assert len({e["id"] for e in envelopes}) == 2


def test_a_failing_subscriber_breaks_neither_the_call_nor_the_others(
    aws: Emulator, envelopes: list[dict[str, Any]]
) -> None:
    def broken(envelope: dict[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    local.cloudtrail.subscribe(broken)
    try:
        created = boto3.client("iam").create_user(UserName="bob")
    finally:
        local.cloudtrail.unsubscribe(broken)

    assert created["User"]["UserName"] == "bob"
    assert [e["detail"]["eventName"] for e in envelopes] == ["CreateUser"]


def test_an_unsubscribed_callback_hears_nothing_more(aws: Emulator) -> None:
    got: list[dict[str, Any]] = []
    local.cloudtrail.subscribe(got.append)
    boto3.client("iam").create_user(UserName="a")
    local.cloudtrail.unsubscribe(got.append)
    boto3.client("iam").create_user(UserName="b")
    assert [e["detail"]["requestParameters"]["userName"] for e in got] == ["a"]
