"""Fixtures for the runtime tests: a function registry and clients on a reset local AWS, a fake clock."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from local.client import Emulator
from local.runtime import FunctionRegistry

REGION = "us-east-1"
ACCOUNT = "123456789012"


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(aws: Emulator) -> FunctionRegistry:
    return FunctionRegistry(region=REGION, account_id=ACCOUNT, endpoint_url=aws.endpoint_url)


@pytest.fixture
def sqs(aws: Emulator) -> Any:
    return boto3.client("sqs", region_name=REGION, endpoint_url=aws.endpoint_url)


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def drain_queue(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message on the queue now (received with all attributes, not deleted)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=300,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch
