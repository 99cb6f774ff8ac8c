"""CloudTrail LookupEvents over recorded events: validation, filtering and paging, as pure functions."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .records import event_time, lookup_summary, resources, username

ATTRIBUTE_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
MAX_RESULTS = 50
EVENT_CATEGORIES = ("insight",)


class LookupEventsError(Exception):
    """A request LookupEvents refuses, with the AWS error code it answers with (HTTP 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LookupRequest:
    attribute: tuple[str, str] | None
    start: datetime | None
    end: datetime | None
    category: str | None
    max_results: int
    after: int | None  # sequence number the page starts at (from NextToken)

    def fingerprint(self) -> str:
        key = [self.attribute, _iso(self.start), _iso(self.end), self.category]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_request(params: dict[str, Any]) -> LookupRequest:
    """Validate LookupEvents parameters (as sent in the JSON body) the way CloudTrail does."""
    attribute = _parse_attributes(params.get("LookupAttributes"))
    start = _parse_time(params.get("StartTime"), "StartTime")
    end = _parse_time(params.get("EndTime"), "EndTime")
    if start and end and start > end:
        raise LookupEventsError("InvalidTimeRangeException", "Start time must be on or before end time.")
    category = params.get("EventCategory")
    if category is not None and category not in EVENT_CATEGORIES:
        message = f"Event category {category!r} is not valid. Valid value: insight."
        raise LookupEventsError("InvalidEventCategoryException", message)
    max_results = params.get("MaxResults", MAX_RESULTS)
    valid = isinstance(max_results, int) and not isinstance(max_results, bool)
    if not valid or not 0 < max_results <= MAX_RESULTS:
        message = f"MaxResults must be between 1 and {MAX_RESULTS}; got {max_results!r}."
        raise LookupEventsError("InvalidMaxResultsException", message)
    request = LookupRequest(attribute, start, end, category, max_results, None)
    token = params.get("NextToken")
    if token is not None:
        request = LookupRequest(attribute, start, end, category, max_results, _read_token(token, request))
    return request


def _parse_attributes(value: Any) -> tuple[str, str] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise LookupEventsError("InvalidLookupAttributesException", "LookupAttributes must be a list.")
    if len(value) > 1:
        raise LookupEventsError(
            "InvalidLookupAttributesException", "You can specify only one lookup attribute per request."
        )
    attribute = value[0]
    key = attribute.get("AttributeKey") if isinstance(attribute, dict) else None
    wanted = attribute.get("AttributeValue") if isinstance(attribute, dict) else None
    if key not in ATTRIBUTE_KEYS:
        raise LookupEventsError(
            "InvalidLookupAttributesException",
            f"Lookup attribute key {key!r} is not valid. Valid keys: {', '.join(ATTRIBUTE_KEYS)}.",
        )
    if not isinstance(wanted, str) or not 1 <= len(wanted) <= 2000:
        raise LookupEventsError(
            "InvalidLookupAttributesException", "A lookup attribute value must be 1 to 2000 characters long."
        )
    if key == "ReadOnly" and wanted not in ("true", "false"):
        raise LookupEventsError(
            "InvalidLookupAttributesException", "The ReadOnly lookup attribute value must be true or false."
        )
    return key, wanted


def _parse_time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except ValueError:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise LookupEventsError("InvalidTimeRangeException", f"{name} is not a valid timestamp: {value!r}.")


def _make_token(sequence: int, request: LookupRequest) -> str:
    raw = json.dumps({"s": sequence, "f": request.fingerprint()}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: Any, request: LookupRequest) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        sequence, fingerprint = decoded["s"], decoded["f"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise LookupEventsError("InvalidNextTokenException", "Invalid NextToken.") from None
    if not isinstance(sequence, int) or fingerprint != request.fingerprint():
        raise LookupEventsError(
            "InvalidNextTokenException", "The NextToken was issued for a request with other parameters."
        )
    return sequence


def matches(record: dict[str, Any], attribute: tuple[str, str]) -> bool:
    key, wanted = attribute
    if key == "EventId":
        return record["eventID"] == wanted
    if key == "EventName":
        return record["eventName"] == wanted
    if key == "ReadOnly":
        return ("true" if record.get("readOnly") else "false") == wanted
    if key == "Username":
        return username(record) == wanted
    if key == "ResourceType":
        return any(r["ResourceType"] == wanted for r in resources(record))
    if key == "ResourceName":
        return any(r["ResourceName"] == wanted for r in resources(record))
    if key == "EventSource":
        return record["eventSource"] == wanted
    return (record.get("userIdentity") or {}).get("accessKeyId") == wanted  # AccessKeyId


def lookup(newest_first: Sequence[tuple[int, dict[str, Any]]], params: dict[str, Any]) -> dict[str, Any]:
    """LookupEvents' answer ({Events, NextToken?}) over (sequence, record) pairs given newest first."""
    request = parse_request(params)
    if request.category is not None:
        return {"Events": []}  # only management events are recorded; there are no Insights events
    selected: list[tuple[int, dict[str, Any]]] = []
    for sequence, record in newest_first:
        if request.after is not None and sequence > request.after:
            continue
        when = event_time(record)
        if (request.start and when < request.start) or (request.end and when > request.end):
            continue
        if request.attribute and not matches(record, request.attribute):
            continue
        selected.append((sequence, record))
        if len(selected) > request.max_results:
            break
    page = selected[: request.max_results]
    answer: dict[str, Any] = {"Events": [lookup_summary(record) for _, record in page]}
    if len(selected) > request.max_results:
        answer["NextToken"] = _make_token(selected[request.max_results][0], request)
    return answer
