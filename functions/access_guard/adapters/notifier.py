"""Notifications to the SNS topic: one publish per note, a short text for people (e-mail, SMS, default) and
the structured JSON document for machines (SQS, Lambda and HTTP(S) subscribers), per SNS's message
structure."""

from __future__ import annotations

import json
from typing import Any

from ..core.report import Notification

_MACHINE_PROTOCOLS = ("sqs", "lambda", "http", "https", "firehose")
_SUBJECT_LIMIT = 100  # SNS refuses longer subjects


class Notifier:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, note: Notification) -> str:
        """Publish `note`; the message id."""
        machine = {**note.document, "subject": note.subject, "text": note.text}
        document = json.dumps(machine, separators=(",", ":"), sort_keys=True, default=str)
        message = {"default": note.text, "email": note.text, **{p: document for p in _MACHINE_PROTOCOLS}}
        response = self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=_subject(note.subject),
            Message=json.dumps(message),
            MessageStructure="json",
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": note.kind},
                "cluster": {"DataType": "String", "StringValue": note.cluster or "-"},
            },
        )
        return str(response["MessageId"])


def _subject(text: str) -> str:
    # ASCII printable, no newlines, at most 100 characters: what SNS accepts as a subject.
    clean = "".join(c if 32 <= ord(c) < 127 else " " for c in text).strip() or "EKS Access Guard"
    return clean if len(clean) <= _SUBJECT_LIMIT else clean[: _SUBJECT_LIMIT - 3] + "..."
