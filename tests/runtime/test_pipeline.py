"""The runtime on the local AWS's own event path: a CloudTrail record, an EventBridge rule, a FIFO queue."""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

from local.runtime import FunctionRegistry, SqsEventSource

from .conftest import REGION, queue_arn

TRUST = '{"Version": "2012-10-17", "Statement": []}'


def test_an_iam_change_reaches_the_handler_through_eventbridge_and_a_fifo_queue(
    registry: FunctionRegistry, sqs: Any
) -> None:
    url = sqs.create_queue(
        QueueName="changes.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    events = boto3.client("events", region_name=REGION)
    pattern = {
        "source": ["aws.iam"],
        "detail": {"eventName": ["DeleteRole"], "errorCode": [{"exists": False}]},
    }
    events.put_rule(Name="access-changes", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="access-changes",
        Targets=[{"Id": "q", "Arn": queue_arn(sqs, url), "SqsParameters": {"MessageGroupId": "access"}}],
    )
    seen: list[tuple[str, str]] = []

    def record_handler(record: Any) -> None:
        detail = json.loads(record.body)["detail"]
        seen.append((detail["eventName"], detail["requestParameters"]["roleName"]))

    def handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=SqsFifoPartialProcessor(), context=context
        )

    registry.register("remediate", handler)
    iam = boto3.client("iam", region_name=REGION)
    for name in ("first", "second"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
        iam.delete_role(RoleName=name)

    SqsEventSource(registry, "remediate", url).run_until_idle()

    assert seen == [("DeleteRole", "first"), ("DeleteRole", "second")]
