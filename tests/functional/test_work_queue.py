"""The FIFO work queue adapter against the local AWS (moto SQS): batches, group and deduplication ids,
and partial failures (with botocore's Stubber, since SQS cannot be made to refuse one entry of a batch)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from access_guard.adapters.work_queue import (
    MAX_BATCH_BYTES,
    WorkQueue,
    WorkQueueError,
    _batches,
    message_body,
)
from access_guard.core.work import WorkItem
from botocore.stub import ANY, Stubber

REGION = "us-east-1"
ACCOUNT = "123456789012"


def item(
    n: int = 0, *, cluster: str = "prod", event_id: str = "e-1", principals: tuple[str, ...] | None = None
) -> WorkItem:
    return WorkItem(
        cluster=cluster,
        region=REGION,
        principals=principals if principals is not None else (f"arn:aws:iam::{ACCOUNT}:role/r{n}",),
        trigger="event",
        event_id=event_id,
        event_name="DeleteAccessEntry",
        event_time="2026-11-23T22:14:38Z",
        actor=f"arn:aws:iam::{ACCOUNT}:user/bob",
        reason=f"DeleteAccessEntry of r{n}",
    )


@pytest.fixture
def sqs(aws: Any) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def fifo(sqs: Any) -> str:
    return sqs.create_queue(
        QueueName="work.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    )["QueueUrl"]


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch


def waiting(sqs: Any, url: str) -> int:
    """Messages on the queue (FIFO hands out one group's next messages only when none is in flight)."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def count_calls(client: Any) -> list[int]:
    sizes: list[int] = []
    client.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: sizes.append(len(params["Entries"]))
    )
    return sizes


def test_each_item_lands_with_its_cluster_as_group_and_its_dedup_id(sqs: Any, fifo: str) -> None:
    # given
    items = [item(0, cluster="prod"), item(1, cluster="staging")]
    # when
    WorkQueue(sqs, fifo).send(items)
    # then
    got = {m["Attributes"]["MessageGroupId"]: m for m in received(sqs, fifo)}
    assert set(got) == {"us-east-1/prod", "us-east-1/staging"}
    for sent in items:
        message = got[sent.group_id]
        assert message["Attributes"]["MessageDeduplicationId"] == sent.dedup_id
        assert WorkItem.from_json(message["Body"]) == sent


def test_items_go_in_batches_of_ten(sqs: Any, fifo: str) -> None:
    sizes = count_calls(sqs)
    WorkQueue(sqs, fifo).send([item(n, event_id=f"e-{n}") for n in range(25)])
    assert sizes == [10, 10, 5]
    assert waiting(sqs, fifo) == 25


def test_nothing_to_send_makes_no_call(sqs: Any, fifo: str) -> None:
    sizes = count_calls(sqs)
    WorkQueue(sqs, fifo).send([])
    assert sizes == []


def test_the_same_item_sent_twice_is_queued_once(sqs: Any, fifo: str) -> None:
    queue = WorkQueue(sqs, fifo)
    queue.send([item()])
    queue.send([item()])
    assert waiting(sqs, fifo) == 1


def test_batches_also_stay_within_the_size_limit() -> None:
    # given: ten items of about 60 KB each (many principals)
    many = tuple(f"arn:aws:iam::{ACCOUNT}:role/team/{'x' * 40}{i:04d}" for i in range(900))
    items = [item(n, event_id=f"e-{n}", principals=many) for n in range(10)]
    # when
    batches = list(_batches([(i, message_body(i)) for i in items]))
    # then
    assert len(batches) > 1
    assert all(sum(len(body.encode()) for _, body in batch) <= MAX_BATCH_BYTES for batch in batches)
    assert [i for batch in batches for i, _ in batch] == items


def test_a_partial_failure_raises_naming_the_items_that_did_not_go() -> None:
    # given: SQS accepts the first entry and refuses the second
    sqs = boto3.client("sqs", region_name=REGION)
    items = [item(0), item(1, cluster="staging")]
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [{"Id": "0", "MessageId": "m-0", "MD5OfMessageBody": "x"}],
                "Failed": [
                    {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                ],
            },
            {"QueueUrl": "https://sqs/work.fifo", "Entries": ANY},
        )
        # when
        with pytest.raises(WorkQueueError) as raised:
            WorkQueue(sqs, "https://sqs/work.fifo").send(items)
    # then
    assert raised.value.failures == [(items[1], "InternalError", "try again")]
    assert "1 work item(s) not queued: us-east-1/staging" in str(raised.value)


def test_every_batch_is_tried_before_a_failure_is_raised() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    items = [item(n, event_id=f"e-{n}") for n in range(11)]
    with Stubber(sqs) as stub:
        failed = {"Id": "0", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "no"}
        stub.add_response("send_message_batch", {"Successful": [], "Failed": [failed]})
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "0", "MessageId": "m", "MD5OfMessageBody": "x"}], "Failed": []},
        )
        with pytest.raises(WorkQueueError) as raised:
            WorkQueue(sqs, "https://sqs/work.fifo").send(items)
        stub.assert_no_pending_responses()
    assert [f[0] for f in raised.value.failures] == [items[0]]


def test_the_body_is_the_items_json(sqs: Any, fifo: str) -> None:
    WorkQueue(sqs, fifo).send([item()])
    [message] = received(sqs, fifo)
    assert json.loads(message["Body"]) == item().to_json()
