"""Parameter Store change events: the native events EventBridge gets when a parameter is written."""

from __future__ import annotations

import json

import boto3
import pytest

REGION = "us-east-1"


def watched_queue(prefix: str) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="ssm-changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    pattern = {
        "source": ["aws.ssm"],
        "detail-type": ["Parameter Store Change"],
        "detail": {"name": [{"prefix": prefix}]},
    }
    events.put_rule(Name="ssm", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="ssm", Targets=[{"Id": "q", "Arn": arn}])
    return url


def received(url: str) -> list[dict]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_create_update_and_delete_of_a_parameter_each_send_a_change_event(aws):
    # given a rule for changes under /app/ with a queue target
    url = watched_queue("/app/")
    ssm = boto3.client("ssm", region_name=REGION)
    # when a parameter is created, updated and deleted, and one outside the prefix is written
    ssm.put_parameter(Name="/app/x", Value="1", Type="String", Description="first")
    ssm.put_parameter(Name="/app/x", Value="2", Type="String", Overwrite=True)
    ssm.delete_parameters(Names=["/app/x", "/app/never"])
    ssm.put_parameter(Name="/other/y", Value="1", Type="String")
    # then three events of the real shape arrive, in order
    events = received(url)
    assert [e["detail"]["operation"] for e in events] == ["Create", "Update", "Delete"]
    first = events[0]
    assert first["source"] == "aws.ssm" and first["detail-type"] == "Parameter Store Change"
    assert first["detail"] == {
        "operation": "Create",
        "name": "/app/x",
        "type": "String",
        "description": "first",
    }
    assert first["resources"] == ["arn:aws:ssm:us-east-1:123456789012:parameter/app/x"]
    assert first["account"] == "123456789012" and first["region"] == REGION


def test_a_failed_write_sends_nothing(aws):
    url = watched_queue("/app/")
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/app/x", Value="1", Type="String")
    received(url)
    with pytest.raises(ssm.exceptions.ParameterAlreadyExists):  # exists, no Overwrite: refused
        ssm.put_parameter(Name="/app/x", Value="2", Type="String")
    assert received(url) == []
