"""SSM Parameter Store change events for the local AWS: what EventBridge gets when a parameter is written.

On AWS, Parameter Store sends a native event (not a CloudTrail record) for every parameter created, updated
or deleted: `source: aws.ssm`, `detail-type: Parameter Store Change`, `detail: {operation, name, type,
description}`, `resources: [the parameter's ARN]`. moto sends none. This listener watches the SSM calls the
local AWS answers successfully and delivers those events to the default bus of the call's account and
region, through the same delivery path (and delivery settings) as CloudTrail's events.

Importing this module installs the listener.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

from .calls import Call, add_listener
from .cloudtrail.delivery import deliver

DETAIL_TYPE = "Parameter Store Change"


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def events_of(call: Call, status: int, body: bytes) -> list[dict[str, Any]]:
    """The Parameter Store Change events a successful SSM write makes (none for anything else)."""
    operation = call.operation
    if operation.service != "ssm" or status >= 400:
        return []
    request, response = _json(call.body), _json(body)
    changes: list[tuple[str, str, str | None, str | None]] = []  # (operation, name, type, description)
    if operation.name == "PutParameter" and isinstance(request.get("Name"), str):
        kind = "Create" if response.get("Version") == 1 else "Update"
        changes.append((kind, request["Name"], request.get("Type"), request.get("Description")))
    elif operation.name == "DeleteParameter" and isinstance(request.get("Name"), str):
        changes.append(("Delete", request["Name"], None, None))
    elif operation.name == "DeleteParameters":
        changes.extend(
            ("Delete", n, None, None) for n in response.get("DeletedParameters", []) if isinstance(n, str)
        )
    account = call.caller.account_id
    when = call.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = []
    for kind, name, type_, description in changes:
        path = name if name.startswith("/") else "/" + name
        detail: dict[str, Any] = {"operation": kind, "name": name}
        if type_:
            detail["type"] = type_
        if description:
            detail["description"] = description
        events.append(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": DETAIL_TYPE,
                "source": "aws.ssm",
                "account": account,
                "time": when,
                "region": call.region,
                "resources": [f"arn:aws:ssm:{call.region}:{account}:parameter{path}"],
                "detail": detail,
            }
        )
    return events


def _listener(call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
    for event in events_of(call, status, body):
        deliver(event)


add_listener(_listener)
