"""CloudTrail records of EKS and IAM write calls, built from what the middleware saw: pure functions.

`build_record` turns one observed call and its response into the record CloudTrail would write (or None
for calls CloudTrail management trails do not show as writes). `lookup_summary` is the record as
LookupEvents lists it, and `envelope` the record as EventBridge delivers it.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from ..calls import Call
from ..operations import Operation, _service_model

RECORDED_SERVICES = ("eks", "iam")
GLOBAL_REGION = "us-east-1"  # IAM is global; CloudTrail files its events in us-east-1
EVENT_VERSION = "1.09"
DETAIL_TYPE = "AWS API Call via CloudTrail"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# LookupEvents' Resources, read off requestParameters: (service, parameter, resource type).
_RESOURCE_PARAMETERS = (
    ("iam", "roleName", "AWS::IAM::Role"),
    ("iam", "userName", "AWS::IAM::User"),
    ("iam", "groupName", "AWS::IAM::Group"),
    ("iam", "policyArn", "AWS::IAM::Policy"),
    ("iam", "instanceProfileName", "AWS::IAM::InstanceProfile"),
    ("eks", "name", "AWS::EKS::Cluster"),
)
# Secrets a response carries that CloudTrail never writes down.
_REDACTED_RESPONSE_FIELDS = {"secretAccessKey", "password"}


def build_record(call: Call, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any] | None:
    """The CloudTrail record of `call` answered with `status`/`headers`/`body`; None if not recorded."""
    operation = call.operation
    if operation.service not in RECORDED_SERVICES or operation.readonly:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    failed = status >= 400
    if operation.service == "iam":
        region = GLOBAL_REGION
        request_parameters = _iam_request_parameters(call.body)
        response_elements = None if failed else _iam_response_elements(body)
        error = _iam_error(body, status) if failed else None
        request_id = lowered.get("x-amzn-requestid") or _xml_text(body, "RequestId") or call.request_id
    else:
        region = call.region
        request_parameters = _rest_request_parameters(call)
        response_elements = None if failed else _rest_response_elements(operation, body)
        error = _rest_error(lowered, body, status) if failed else None
        request_id = lowered.get("x-amzn-requestid") or lowered.get("x-amz-request-id") or call.request_id
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": call.caller.cloudtrail_user_identity(),
        "eventTime": call.time.astimezone(UTC).strftime(TIME_FORMAT),
        "eventSource": f"{operation.service}.amazonaws.com",
        "eventName": operation.name,
        "awsRegion": region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    record.update(
        {
            "requestParameters": request_parameters,
            "responseElements": response_elements,
            "requestID": request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": call.caller.account_id,
            "eventCategory": "Management",
        }
    )
    return record


# --- REST-JSON services (EKS) ------------------------------------------------------------------------


def _rest_request_parameters(call: Call) -> dict[str, Any] | None:
    # Path parameters exactly as they travelled (CloudTrail shows ARNs in the path still URL-encoded).
    params: dict[str, Any] = dict(call.operation.path_params)
    if call.body:
        try:
            payload = json.loads(call.body)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            params.update(payload)
    for key, values in parse_qs(call.query_string, keep_blank_values=True).items():
        params[key] = values[0] if len(values) == 1 else values
    return params or None


def _rest_response_elements(operation: Operation, body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        return None
    if not isinstance(payload, dict) or not payload:
        return None
    try:
        shape = _service_model(operation.service).operation_model(operation.name).output_shape
    except Exception:
        shape = None
    return _timestamps_to_iso(shape, payload) if shape is not None else payload


def _timestamps_to_iso(shape: Any, value: Any) -> Any:
    """Epoch-second timestamps on the wire become ISO 8601 strings, as CloudTrail writes them."""
    kind = shape.type_name
    if kind == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime(TIME_FORMAT)
    if kind == "structure" and isinstance(value, dict):
        return {
            k: _timestamps_to_iso(shape.members[k], v) if k in shape.members else v for k, v in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_timestamps_to_iso(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _timestamps_to_iso(shape.value, v) for k, v in value.items()}
    return value


def _rest_error(headers: dict[str, str], body: bytes, status: int) -> tuple[str, str]:
    payload: Any
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    # x-amzn-ErrorType may carry a ":<doc url>" suffix; the error code is what comes before it.
    code = headers.get("x-amzn-errortype") or str(payload.get("__type", "")) or f"Http{status}"
    code = code.split(":")[0].split("#")[-1]
    message = payload.get("message") or payload.get("Message") or ""
    return code, str(message)


# --- Query services (IAM) ----------------------------------------------------------------------------


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _iam_request_parameters(body: bytes) -> dict[str, Any] | None:
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}
    tree: dict[str, Any] = {}
    for key, values in form.items():
        if key in ("Action", "Version"):
            continue
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = values[-1]
    params = _form_tree(tree)
    return params or None


def _form_tree(node: Any) -> Any:
    """`Tags.member.1.Key=a` style fields as CloudTrail shows them: `{"tags": [{"key": "a"}]}`."""
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"} and isinstance(node["member"], dict):
        node = node["member"]
    if node and all(k.isdigit() for k in node):
        return [_form_tree(node[k]) for k in sorted(node, key=int)]
    return {_lower_first(k): _form_tree(v) for k, v in node.items()}


def _strip_namespace(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(body: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def _xml_text(body: bytes, name: str) -> str | None:
    root = _parse_xml(body) if body else None
    if root is None:
        return None
    for element in root.iter():
        if _strip_namespace(element.tag) == name and element.text:
            return element.text.strip()
    return None


def _iam_response_elements(body: bytes) -> dict[str, Any] | None:
    root = _parse_xml(body) if body else None
    if root is None:
        return None
    result = next((e for e in root if _strip_namespace(e.tag).endswith("Result")), None)
    if result is None or len(result) == 0:
        return None
    elements = _xml_value(result)
    return elements if isinstance(elements, dict) and elements else None


def _xml_value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(_strip_namespace(c.tag) == "member" for c in children):
        return [_xml_value(c) for c in children]
    value: dict[str, Any] = {}
    for child in children:
        key = _lower_first(_strip_namespace(child.tag))
        if key not in _REDACTED_RESPONSE_FIELDS and (len(child) or (child.text or "").strip()):
            value[key] = _xml_value(child)
    return value


def _iam_error(body: bytes, status: int) -> tuple[str, str]:
    return _xml_text(body, "Code") or f"Http{status}", _xml_text(body, "Message") or ""


# --- Views of a record -------------------------------------------------------------------------------


def event_time(record: dict[str, Any]) -> datetime:
    return datetime.strptime(record["eventTime"], TIME_FORMAT).replace(tzinfo=UTC)


def username(record: dict[str, Any]) -> str:
    """The user name LookupEvents shows: an IAM user's name, a role session's name, or `root`."""
    identity = record.get("userIdentity") or {}
    kind = identity.get("type")
    if kind == "IAMUser":
        return str(identity.get("userName", ""))
    if kind == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1]
    if kind == "Root":
        return "root"
    return str(identity.get("principalId", ""))


def resources(record: dict[str, Any]) -> list[dict[str, str]]:
    service = record["eventSource"].split(".", 1)[0]
    params = record.get("requestParameters") or {}
    return [
        {"ResourceType": resource_type, "ResourceName": params[key]}
        for source, key, resource_type in _RESOURCE_PARAMETERS
        if source == service and isinstance(params.get(key), str)
    ]


def lookup_summary(record: dict[str, Any]) -> dict[str, Any]:
    """The record as one of LookupEvents' Events (EventTime as a datetime)."""
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true" if record.get("readOnly") else "false",
        "AccessKeyId": (record.get("userIdentity") or {}).get("accessKeyId", ""),
        "EventTime": event_time(record),
        "EventSource": record["eventSource"],
        "Username": username(record),
        "Resources": resources(record),
        "CloudTrailEvent": json.dumps(record),
    }


def envelope(record: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event that carries `record` (AWS API Call via CloudTrail)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws." + record["eventSource"].split(".", 1)[0],
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    }
