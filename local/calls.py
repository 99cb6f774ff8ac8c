"""The calls the local AWS answers, and who listens to them (CloudTrail, Parameter Store events, the API
gateway's MFA bookkeeping): the middleware notifies every listener after each call."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .identity import Caller
from .operations import Operation


@dataclass
class Call:
    """One AWS API call as the middleware saw it; what CloudTrail needs to write a record."""

    operation: Operation
    region: str
    caller: Caller
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    source_ip: str
    user_agent: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


# listener(call, http_status, response_headers, response_body); exceptions are logged, never raised.
Listener = Callable[[Call, int, dict[str, str], bytes], None]
_LISTENERS: list[Listener] = []


def add_listener(listener: Listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def remove_listener(listener: Listener) -> None:
    if listener in _LISTENERS:
        _LISTENERS.remove(listener)


def notify(call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
    for listener in list(_LISTENERS):
        try:
            listener(call, status, headers, body)
        except Exception:  # a listener must never break the API call it observes
            logging.getLogger("local.server").exception("listener failed for %s", call.operation.name)
