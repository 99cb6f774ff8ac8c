"""The FIFO work queue: work items out to the remediate handler, grouped by cluster, deduplicated per event.

SendMessageBatch takes at most 10 messages and 256 KiB in all; items go out in batches within both. Each
message's group id is the item's cluster (`WorkItem.group_id`), so SQS hands one cluster's work to one
invocation at a time, in order; its deduplication id is the item's (`WorkItem.dedup_id`), so an event
delivered twice (or an intake retried after a partial send) is queued once within SQS's 5-minute window.

A partial failure raises `WorkQueueError` after every batch was tried, naming the items that did not go:
the caller's retry sends them all again, and the deduplication ids absorb those that went.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from ..core.work import WorkItem

MAX_BATCH = 10
MAX_BATCH_BYTES = 256 * 1024


class WorkQueueError(RuntimeError):
    """Some work items were not queued: `failures` holds (item, error code, message) for each."""

    def __init__(self, failures: list[tuple[WorkItem, str, str]]) -> None:
        self.failures = failures
        shown = "; ".join(
            f"{item.group_id} ({item.dedup_id[:12]}): {code} {message}"
            for item, code, message in failures[:5]
        )
        more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} work item(s) not queued: {shown}{more}")


def message_body(item: WorkItem) -> str:
    return json.dumps(item.to_json(), separators=(",", ":"), sort_keys=True)


class WorkQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def send(self, items: Sequence[WorkItem]) -> None:
        """Queue every item; WorkQueueError (after trying them all) if SQS refused any."""
        failures: list[tuple[WorkItem, str, str]] = []
        for batch in _batches([(item, message_body(item)) for item in items]):
            response = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": body,
                        "MessageGroupId": item.group_id,
                        "MessageDeduplicationId": item.dedup_id,
                    }
                    for index, (item, body) in enumerate(batch)
                ],
            )
            for failure in response.get("Failed", []):
                item = batch[int(failure["Id"])][0]
                failures.append((item, str(failure.get("Code", "")), str(failure.get("Message", ""))))
        if failures:
            raise WorkQueueError(failures)


def _batches(messages: list[tuple[WorkItem, str]]) -> Iterator[list[tuple[WorkItem, str]]]:
    batch: list[tuple[WorkItem, str]] = []
    size = 0
    for message in messages:
        length = len(message[1].encode())
        if batch and (len(batch) == MAX_BATCH or size + length > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += length
    if batch:
        yield batch
