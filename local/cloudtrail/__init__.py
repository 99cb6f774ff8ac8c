"""CloudTrail for the local AWS: records of EKS and IAM write calls, LookupEvents, EventBridge delivery.

Importing this package installs it: the middleware listener that records every EKS and IAM call that is
not read-only (failed ones too), moto's CloudTrail backend with LookupEvents, the control routes
(`GET /_emulator/cloudtrail/records`, `GET|PUT /_emulator/cloudtrail/settings` for delivery delays and
misdeliveries, `POST /_emulator/cloudtrail/flush`), and the reset hooks. Records reach the account's
default event bus (`aws.eks` / `aws.iam`, detail-type "AWS API Call via CloudTrail") and in-process
subscribers.
"""

from __future__ import annotations

from typing import Any

import moto.cloudtrail
import moto.cloudtrail.models
import moto.cloudtrail.responses

from .. import control
from ..calls import Call, add_listener
from .delivery import DELIVERY, deliver, subscribe, unsubscribe
from .models import cloudtrail_backends
from .records import build_record, envelope
from .store import STORE

__all__ = ["build_record", "envelope", "record_call", "records", "subscribe", "unsubscribe"]


def record_call(call: Call, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any] | None:
    """The middleware listener: record the call (if CloudTrail would) and deliver it to EventBridge."""
    record = build_record(call, status, headers, body)
    if record is None:
        return None
    STORE.add(record)
    deliver(envelope(record))
    return record


def records() -> list[dict[str, Any]]:
    """Every record so far, oldest first, across accounts and regions."""
    return STORE.all()


def _install() -> None:
    # Wherever moto looks the CloudTrail backends up (moto.backends.get_backend reads the package's).
    for module in (moto.cloudtrail, moto.cloudtrail.models, moto.cloudtrail.responses):
        module.cloudtrail_backends = cloudtrail_backends  # type: ignore[attr-defined]
    add_listener(record_call)
    control.on_reset(STORE.clear)
    control.on_reset(DELIVERY.reset)

    @control.route("GET", "cloudtrail/records")
    def _records(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, STORE.all()

    @control.route("GET", "cloudtrail/settings")
    def _get_settings(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, DELIVERY.settings()

    @control.route("PUT", "cloudtrail/settings")
    def _put_settings(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, DELIVERY.update(body)

    # Unlocked: delivering takes the state lock per event and calls subscribers, which may call back.
    @control.route("POST", "cloudtrail/flush", locked=False)
    def _flush(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, {"delivered": DELIVERY.flush()}


_install()
