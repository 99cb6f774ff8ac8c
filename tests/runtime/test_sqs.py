"""SQS event source mappings: the event, batches, partial failures, retries, redrive, FIFO groups."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.parser.models import SqsModel

from local.runtime import FunctionRegistry, SqsEventSource, SqsPoller

from .conftest import REGION, FakeClock, drain_queue, queue_arn


class Recorder:
    """A handler that records its events; `fail` decides, per record body, which to report as failed."""

    def __init__(self, fail: Any = None, raise_when: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = fail or (lambda body, record: False)
        self.raise_when = raise_when or (lambda event: False)
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            self.events.append(event)
        if self.raise_when(event):
            raise RuntimeError("handler failed")
        failed = [r["messageId"] for r in event["Records"] if self.fail(r["body"], r)]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    @property
    def bodies(self) -> list[list[str]]:
        return [[r["body"] for r in e["Records"]] for e in self.events]

    @property
    def all_bodies(self) -> list[str]:
        return [b for batch in self.bodies for b in batch]


def send(sqs: Any, url: str, *bodies: str, **kwargs: Any) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body, **kwargs)


def fifo_queue(sqs: Any, name: str, **attributes: str) -> str:
    return str(
        sqs.create_queue(
            QueueName=f"{name}.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes},
        )["QueueUrl"]
    )


def test_the_event_is_lambdas_sqs_event(registry: FunctionRegistry, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    recorder = Recorder()
    registry.register("consumer", recorder)
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "test"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )

    assert SqsEventSource(registry, "consumer", url).run_until_idle() == 1

    (event,) = recorder.events
    SqsModel.model_validate(event)  # Powertools' own model of the Lambda SQS event
    (record,) = event["Records"]
    assert record["body"] == '{"hello": "world"}'
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn(sqs, url)
    assert record["awsRegion"] == REGION
    assert record["md5OfBody"] == "49dfdd54b01cbcd2d2ab5e9e5ee6b9b9"
    assert record["md5OfMessageAttributes"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        "kind": {"stringValue": "test", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
    }
    assert drain_queue(sqs, url) == []


def test_messages_arrive_in_batches_of_at_most_batch_size(registry: FunctionRegistry, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="batches")["QueueUrl"]
    recorder = Recorder()
    registry.register("consumer", recorder)
    send(sqs, url, *[f"m{i}" for i in range(23)])

    assert SqsEventSource(registry, "consumer", url, batch_size=4).run_until_idle() == 23

    assert max(len(b) for b in recorder.bodies) <= 4
    assert sorted(recorder.all_bodies) == sorted(f"m{i}" for i in range(23))  # each exactly once
    assert drain_queue(sqs, url) == []


def test_a_handler_that_raises_leaves_the_whole_batch_to_be_retried(
    registry: FunctionRegistry, sqs: Any
) -> None:
    url = sqs.create_queue(QueueName="raises")["QueueUrl"]
    recorder = Recorder(raise_when=lambda event: len(recorder.events) == 1)
    registry.register("consumer", recorder)
    send(sqs, url, "a", "b")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    first, second = recorder.events
    assert sorted(recorder.bodies[0]) == sorted(recorder.bodies[1]) == ["a", "b"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in second["Records"]} == {"2"}
    assert {r["messageId"] for r in first["Records"]} == {r["messageId"] for r in second["Records"]}


def test_reported_failures_come_back_and_the_rest_are_deleted(registry: FunctionRegistry, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="partial")["QueueUrl"]
    failed_once: set[str] = set()

    def fail_b_once(body: str, record: Any) -> bool:
        if body == "b" and body not in failed_once:
            failed_once.add(body)
            return True
        return False

    recorder = Recorder(fail=fail_b_once)
    registry.register("consumer", recorder)
    send(sqs, url, "a", "b", "c")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    assert sorted(recorder.all_bodies) == ["a", "b", "b", "c"]
    assert recorder.bodies[-1] == ["b"]
    assert recorder.events[-1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_without_report_batch_item_failures_the_response_is_ignored(
    registry: FunctionRegistry, sqs: Any
) -> None:
    url = sqs.create_queue(QueueName="ignored")["QueueUrl"]
    recorder = Recorder(fail=lambda body, record: True)
    registry.register("consumer", recorder)
    send(sqs, url, "a", "b")

    SqsEventSource(registry, "consumer", url, report_batch_item_failures=False).run_until_idle()

    assert sorted(recorder.all_bodies) == ["a", "b"]  # reported as failed, deleted all the same


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"messageId": "wrong-key"}]},
        {"batchItemFailures": "not a list"},
    ],
)
def test_a_malformed_partial_response_fails_the_whole_batch(
    registry: FunctionRegistry, sqs: Any, response: dict[str, Any]
) -> None:
    url = sqs.create_queue(QueueName="malformed")["QueueUrl"]
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(sorted(r["body"] for r in event["Records"]))
        return response if len(calls) == 1 else {"batchItemFailures": []}

    registry.register("consumer", handler)
    send(sqs, url, "a", "b")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    assert calls == [["a", "b"], ["a", "b"]]


def test_a_function_timeout_leaves_the_batch(aws: Any, sqs: Any, clock: FakeClock) -> None:
    registry = FunctionRegistry(endpoint_url=aws.endpoint_url, clock=clock)
    url = sqs.create_queue(QueueName="slow")["QueueUrl"]
    bodies: list[str] = []

    def slow_once(event: dict[str, Any], context: Any) -> None:
        bodies.extend(r["body"] for r in event["Records"])
        if len(bodies) == 1:
            clock.advance(31)

    registry.register("consumer", slow_once, timeout=30)
    send(sqs, url, "a")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    assert bodies == ["a", "a"]


def test_a_retry_waits_for_the_retry_delay_on_the_sources_clock(
    registry: FunctionRegistry, sqs: Any, clock: FakeClock
) -> None:
    url = sqs.create_queue(QueueName="delayed-retry")["QueueUrl"]
    recorder = Recorder(raise_when=lambda event: len(recorder.events) == 1)
    registry.register("consumer", recorder)
    send(sqs, url, "a")
    source = SqsEventSource(registry, "consumer", url, retry_delay=20, clock=clock)

    source.run_until_idle()
    assert recorder.all_bodies == ["a"]
    assert source.parked == 1

    clock.advance(19)
    source.run_until_idle()
    assert recorder.all_bodies == ["a"]

    clock.advance(1)
    source.run_until_idle()
    assert recorder.all_bodies == ["a", "a"]
    assert source.parked == 0
    assert drain_queue(sqs, url) == []


def test_retry_delay_must_be_at_most_the_visibility_timeout(registry: FunctionRegistry, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="short", Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
    registry.register("consumer", Recorder())
    with pytest.raises(ValueError, match="visibility timeout"):
        SqsEventSource(registry, "consumer", url, retry_delay=10.5)
    SqsEventSource(registry, "consumer", url, retry_delay=10)  # SQS's own pace: the strict local world


def test_moto_redrives_to_the_dead_letter_queue_after_max_receive_count(
    registry: FunctionRegistry, sqs: Any
) -> None:
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    redrive = {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": "3"}
    url = sqs.create_queue(QueueName="source", Attributes={"RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
    recorder = Recorder(raise_when=lambda event: True)
    registry.register("consumer", recorder)
    send(sqs, url, "poison")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    assert recorder.all_bodies == ["poison"] * 3
    assert [r["attributes"]["ApproximateReceiveCount"] for e in recorder.events for r in e["Records"]] == [
        "1",
        "2",
        "3",
    ]
    assert [m["Body"] for m in drain_queue(sqs, dlq)] == ["poison"]
    assert drain_queue(sqs, url) == []


def test_a_poison_message_without_a_dead_letter_queue_never_goes_idle(
    registry: FunctionRegistry, sqs: Any
) -> None:
    url = sqs.create_queue(QueueName="no-dlq")["QueueUrl"]
    registry.register("consumer", Recorder(raise_when=lambda event: True))
    send(sqs, url, "poison")
    with pytest.raises(TimeoutError):
        SqsEventSource(registry, "consumer", url).run_until_idle(timeout=0.5)


def test_several_queues_are_polled_until_all_are_idle(registry: FunctionRegistry, sqs: Any) -> None:
    first, second = Recorder(), Recorder()
    registry.register("first", first)
    registry.register("second", second)
    url1 = sqs.create_queue(QueueName="q1")["QueueUrl"]
    url2 = sqs.create_queue(QueueName="q2")["QueueUrl"]
    send(sqs, url1, "x", "y")
    send(sqs, url2, "z")

    poller = SqsPoller([SqsEventSource(registry, "first", url1), SqsEventSource(registry, "second", url2)])
    assert poller.run_until_idle() == 3

    assert sorted(first.all_bodies) == ["x", "y"]
    assert second.all_bodies == ["z"]


def test_background_polling_runs_until_stopped(registry: FunctionRegistry, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="background")["QueueUrl"]
    arrived = threading.Event()
    registry.register("consumer", lambda event, context: arrived.set())

    with SqsPoller([SqsEventSource(registry, "consumer", url)]) as poller:
        send(sqs, url, "hello")
        assert arrived.wait(timeout=30)
    assert not any(t.is_alive() for t in poller._threads)


# --- FIFO ------------------------------------------------------------------------------------------


def test_moto_hands_out_no_message_of_a_group_with_messages_in_flight(sqs: Any) -> None:
    url = fifo_queue(sqs, "groups")
    send(sqs, url, "g1", "g2", MessageGroupId="G")
    send(sqs, url, "h1", MessageGroupId="H")

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ["g1"]
    assert [m["Body"] for m in second] == ["h1"]  # not g2: g1 is in flight

    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["g2"]


def test_fifo_with_powertools_processor_retries_the_failed_and_later_messages_in_order(
    registry: FunctionRegistry, sqs: Any
) -> None:
    url = fifo_queue(sqs, "ordered")
    processed: list[str] = []
    failed: set[str] = set()

    def record_handler(record: Any) -> None:
        if record.body == "m2" and "m2" not in failed:
            failed.add("m2")
            raise RuntimeError("m2 fails once")
        processed.append(record.body)

    def handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=SqsFifoPartialProcessor(), context=context
        )

    registry.register("consumer", handler)
    send(sqs, url, *[f"m{i}" for i in range(5)], MessageGroupId="G")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    assert processed == ["m0", "m1", "m2", "m3", "m4"]


def test_fifo_messages_the_function_does_not_report_are_deleted_even_after_a_failure(
    registry: FunctionRegistry, sqs: Any
) -> None:
    # What Lambda does when a FIFO handler reports only the failed message: the later ones are deleted.
    url = fifo_queue(sqs, "naive")
    failed: set[str] = set()

    def fail_m1_once(body: str, record: Any) -> bool:
        if body == "m1" and body not in failed:
            failed.add(body)
            return True
        return False

    recorder = Recorder(fail=fail_m1_once)
    registry.register("consumer", recorder)
    send(sqs, url, "m0", "m1", "m2", MessageGroupId="G")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    assert recorder.bodies == [["m0", "m1", "m2"], ["m1"]]


def test_fifo_batches_of_one_group_never_run_at_once(registry: FunctionRegistry, sqs: Any) -> None:
    url = fifo_queue(sqs, "concurrent")
    running: set[str] = set()
    overlaps: list[str] = []
    seen: dict[str, list[str]] = {}
    lock = threading.Lock()
    failed_once: set[str] = set()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        groups = {r["attributes"]["MessageGroupId"] for r in event["Records"]}
        with lock:
            overlaps.extend(groups & running)
            running.update(groups)
        failures = []
        try:
            for record in event["Records"]:
                body, group = record["body"], record["attributes"]["MessageGroupId"]
                if failures or (body.endswith("-3") and body not in failed_once):
                    failed_once.add(body)
                    failures.append({"itemIdentifier": record["messageId"]})  # this and every later one
                else:
                    seen.setdefault(group, []).append(body)
        finally:
            with lock:
                running.difference_update(groups)
        return {"batchItemFailures": failures}

    registry.register("consumer", handler)
    for group in "ABC":
        send(sqs, url, *[f"{group}-{i}" for i in range(6)], MessageGroupId=group)

    source = SqsEventSource(registry, "consumer", url, batch_size=2, concurrency=3)
    source.run_until_idle()

    assert overlaps == []
    assert seen == {g: [f"{g}-{i}" for i in range(6)] for g in "ABC"}


def test_standard_queue_batches_can_run_at_once(registry: FunctionRegistry, sqs: Any) -> None:
    # The counterpart of the FIFO test: concurrency is real, so that test's "never at once" means something.
    url = sqs.create_queue(QueueName="parallel")["QueueUrl"]
    barrier = threading.Barrier(2, timeout=10)
    registry.register("consumer", lambda event, context: barrier.wait())
    send(sqs, url, "a", "b")

    SqsEventSource(registry, "consumer", url, batch_size=1, concurrency=2).run_until_idle()

    assert not barrier.broken


def test_powertools_batch_processor_partial_failure(registry: FunctionRegistry, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="powertools")["QueueUrl"]
    attempts: dict[str, int] = {}

    def record_handler(record: Any) -> None:
        attempts[record.body] = attempts.get(record.body, 0) + 1
        if record.body == "bad" and attempts["bad"] == 1:
            raise ValueError("first attempt")

    def handler(event: dict[str, Any], context: Any) -> Any:
        processor = BatchProcessor(event_type=EventType.SQS)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    registry.register("consumer", handler)
    send(sqs, url, "good", "bad")

    SqsEventSource(registry, "consumer", url).run_until_idle()

    assert attempts == {"good": 1, "bad": 2}
