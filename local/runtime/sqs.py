"""SQS event source mappings run in process: poll queues on the local AWS, invoke functions with batches.

What Lambda's poller does, and so what this one does:
- ReceiveMessage with every system and message attribute, up to `batch_size` (1-10) messages; the batch
  is the Lambda SQS event ({"Records": [...]}) built from exactly what SQS returned.
- A batch that succeeds is deleted. A handler that raises (or times out) leaves the whole batch.
- With ReportBatchItemFailures, the messages named in `batchItemFailures` stay and the others are
  deleted; a malformed list (an id not in the batch, an empty or missing `itemIdentifier`) fails the
  whole batch. This holds for FIFO queues too: Lambda deletes every message the function did not name,
  so a FIFO handler must name the failed message *and every later one* (Powertools'
  SqsFifoPartialProcessor does); one that names only the failed message loses its order, in AWS as here.
- Redrive to the dead-letter queue is SQS's own: moto moves a message whose receive count has reached
  the queue's maxReceiveCount on the next receive, as SQS does.
- FIFO: SQS hands out a message group's next messages only once the group has nothing in flight (moto
  too; tests check it), and the poller also never runs two batches holding one group at the same time.
  With `batch_per_group` (the strict local world) a receive holding several groups becomes one batch per
  group, the groups' batches invoked at once, as Lambda's FIFO poller runs one batch per active group.

Retries. In AWS a message left by a failed batch comes back when its visibility timeout ends (often
minutes). Here the poller returns it itself, with ChangeMessageVisibility to 0, `retry_delay` seconds
(default 0: at once) after the failure, measured on `clock`. It is faithful to what the function sees (the
same message again, ApproximateReceiveCount one higher, the same redrive count) and only shortens the
wait. It also avoids a moto defect: when a FIFO group's in-flight messages time out together, moto hands
them back out of order; made visible explicitly, they come back in order. `retry_delay` is at most the
queue's visibility timeout; equal to it (the strict local world) the message returns when SQS would
return it, on `clock`, so a clock moved ahead brings it back sooner.

Long polling is not used (WaitTimeSeconds=0): the local AWS runs one call at a time, and a long poll
would hold every other client for its whole wait. The poller sleeps between empty receives instead.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .functions import Clock, FunctionRegistry, InvocationError

log = logging.getLogger("local.runtime.sqs")


@dataclass
class _Parked:
    """Messages of a failed batch waiting out their retry delay (still in flight in SQS)."""

    due: float
    receipt_handles: list[str]


class _BatchFailed(Exception):
    pass


class SqsEventSource:
    """One event source mapping: `queue_url` -> the function `function` (a name or ARN in `registry`)."""

    def __init__(
        self,
        registry: FunctionRegistry,
        function: str,
        queue_url: str,
        *,
        batch_size: int = 10,
        report_batch_item_failures: bool = True,
        retry_delay: float = 0.0,
        concurrency: int = 1,
        clock: Clock | None = None,
        batch_per_group: bool = False,
    ) -> None:
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size is 1-10 (one ReceiveMessage; no batching window)")
        if concurrency < 1:
            raise ValueError("concurrency is at least 1")
        registry.get(function)  # fail now, not at the first message
        self.registry, self.function, self.queue_url = registry, function, queue_url
        self.batch_size, self.report_batch_item_failures = batch_size, report_batch_item_failures
        self.retry_delay, self.concurrency = retry_delay, concurrency
        self.batch_per_group = batch_per_group
        self.clock = clock or registry.clock
        self._sqs = registry.client("sqs")
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn", "VisibilityTimeout", "FifoQueue"]
        )["Attributes"]
        self.queue_arn: str = attributes["QueueArn"]
        self.fifo = attributes.get("FifoQueue") == "true"
        if retry_delay > int(attributes["VisibilityTimeout"]):
            raise ValueError("retry_delay must be at most the queue's visibility timeout")
        self._region = self.queue_arn.split(":")[3]
        self._parked: list[_Parked] = []
        self._groups_busy: set[str] = set()
        self._lock = threading.Condition()

    # --- one poll ----------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Return due retries to the queue, then receive one batch and run it. Messages received."""
        self._release_due()
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        groups = {
            m["Attributes"]["MessageGroupId"] for m in messages if "MessageGroupId" in m.get("Attributes", {})
        }
        with self._lock:
            # SQS gives a group to one batch at a time; this only matters if a batch outlived its
            # visibility timeout and SQS handed its messages out again.
            self._lock.wait_for(lambda: not groups & self._groups_busy)
            self._groups_busy |= groups
        try:
            if self.fifo and self.batch_per_group and len(groups) > 1:
                # Lambda's FIFO poller: one batch per message group, the groups' batches at once.
                by_group: dict[str, list[dict[str, Any]]] = {}
                for message in messages:
                    by_group.setdefault(message["Attributes"]["MessageGroupId"], []).append(message)
                with ThreadPoolExecutor(len(by_group), thread_name_prefix="sqs-group") as pool:
                    for future in [pool.submit(self._run, batch) for batch in by_group.values()]:
                        future.result()
            else:
                self._run(messages)
        finally:
            with self._lock:
                self._groups_busy -= groups
                self._lock.notify_all()
        return len(messages)

    def _run(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._record(m) for m in messages]}
        try:
            response = self.registry.invoke(self.function, event)
            retry = self._failed_ids(messages, response)
        except (InvocationError, _BatchFailed) as exc:
            log.info("batch of %d from %s failed: %s", len(messages), self.queue_arn, exc)
            retry = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in retry]
        if done:
            result = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
            for failure in result.get("Failed", []):
                log.warning("could not delete a message from %s: %s", self.queue_arn, failure)
        again = [m["ReceiptHandle"] for m in messages if m["MessageId"] in retry]
        if again:
            with self._lock:
                self._parked.append(_Parked(self.clock() + self.retry_delay, again))
            self._release_due()

    def _failed_ids(self, messages: list[dict[str, Any]], response: Any) -> set[str]:
        """The messages to leave on the queue, from the function's partial batch response."""
        if not self.report_batch_item_failures or not isinstance(response, dict):
            return set()
        failures = response.get("batchItemFailures")
        if failures is None:
            return set()
        if not isinstance(failures, list):
            raise _BatchFailed("batchItemFailures is not a list")
        ids = {m["MessageId"] for m in messages}
        failed = set()
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in ids:
                raise _BatchFailed(f"invalid batch item failure {item!r}")
            failed.add(identifier)
        return failed

    def _release_due(self) -> None:
        now = self.clock()
        with self._lock:
            due = [p for p in self._parked if p.due <= now]
            self._parked = [p for p in self._parked if p.due > now]
        for parked in due:
            # One call, in batch order: a FIFO group's messages become visible together and in order.
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(parked.receipt_handles)
                ],
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    # --- state -------------------------------------------------------------------------------------
    @property
    def parked(self) -> int:
        """Messages waiting out their retry delay."""
        with self._lock:
            return sum(len(p.receipt_handles) for p in self._parked)

    def idle(self) -> bool:
        """Nothing to receive, nothing delayed, nothing in flight but messages waiting to be retried."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ]
        counts = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        visible, delayed, in_flight = (int(counts.get(name, 0)) for name in names)
        return visible == 0 and delayed == 0 and in_flight <= self.parked

    def run_until_idle(self, timeout: float = 30.0) -> int:
        return SqsPoller([self]).run_until_idle(timeout)


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # Lambda's shape: camelCase keys, binary values base64-encoded, list fields always present.
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])]
    attribute["dataType"] = value["DataType"]
    return attribute


class SqsPoller:
    """Runs several event sources: until their queues are idle (tests, demos), or in background threads."""

    def __init__(self, sources: Iterable[SqsEventSource], *, poll_interval: float = 0.05) -> None:
        self.sources: Sequence[SqsEventSource] = list(sources)
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_until_idle(self, timeout: float = 30.0) -> int:
        """Poll every source until all are idle (see SqsEventSource.idle); the number of messages received.

        Messages waiting out a retry delay do not keep it running: advance the sources' clock and call
        again to have them retried. Raises TimeoutError if the queues are still busy after `timeout`
        seconds (a message that always fails on a queue without a dead-letter queue never leaves).
        """
        deadline = time.monotonic() + timeout
        received = 0
        workers = sum(s.concurrency for s in self.sources)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqs-poll") as pool:
            while True:
                # Each round runs up to `concurrency` batches per source at once, then looks again.
                futures = [pool.submit(s.poll_once) for s in self.sources for _ in range(s.concurrency)]
                round_received = sum(f.result() for f in futures)
                received += round_received
                if round_received == 0 and all(s.idle() for s in self.sources):
                    return received
                if time.monotonic() > deadline:
                    busy = [s.queue_url for s in self.sources if not s.idle()]
                    raise TimeoutError(f"queues still busy after {timeout} s: {busy}")
                if round_received == 0:
                    time.sleep(self.poll_interval)  # messages in flight elsewhere or delayed: real time

    def start(self) -> None:
        """Poll in background threads (`concurrency` per source) until stop()."""
        self._stop.clear()
        for source in self.sources:
            for i in range(source.concurrency):
                thread = threading.Thread(
                    target=self._loop, args=(source,), daemon=True, name=f"sqs-{source.function}-{i}"
                )
                thread.start()
                self._threads.append(thread)

    def _loop(self, source: SqsEventSource) -> None:
        while not self._stop.is_set():
            try:
                received = source.poll_once()
            except Exception:  # the local AWS restarting, a queue deleted: keep the thread, say why
                log.exception("polling %s failed", source.queue_url)
                received = 0
            if received == 0:
                self._stop.wait(self.poll_interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def __enter__(self) -> SqsPoller:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
