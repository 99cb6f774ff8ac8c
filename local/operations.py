"""Which AWS operation an HTTP request is, read off botocore's own service models.

REST services (EKS) are matched on method and `requestUri`; query services (IAM, STS, SNS, SQS query)
on the `Action` form field; JSON services (CloudTrail, SSM, DynamoDB, EventBridge) on `X-Amz-Target`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qs

import botocore.session


@dataclass(frozen=True)
class Operation:
    service: str  # botocore service name, e.g. "eks", "iam"
    name: str  # e.g. "CreateAccessEntry"
    # REST path parameters exactly as they travelled (still URL-encoded).
    path_params: dict[str, str] = field(default_factory=dict)
    readonly: bool = False


_READ_PREFIXES = ("Describe", "List", "Get", "Lookup", "Head", "Search", "Query", "Scan", "BatchGet")


def is_read_only(name: str) -> bool:
    return name.startswith(_READ_PREFIXES)


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _service_model(service: str) -> Any:
    return _session().get_service_model(service)


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str, int]]:
    routes = []
    model = _service_model(service)
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        pattern = re.sub(
            r"\{([A-Za-z0-9_]+)(\+?)\}",
            lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})",
            uri,
        )
        routes.append((http["method"], re.compile(f"^{pattern}/?$"), name, literal))
    # The most literal template wins: /clusters/{name}/update-config before /clusters/{name}/{x}.
    routes.sort(key=lambda r: -r[3])
    return routes


# botocore names some services differently from their SigV4 signing names.
_SIGNING_TO_SERVICE = {"events": "events", "monitoring": "cloudwatch", "email": "ses"}


def resolve(
    signing_service: str, method: str, path: str, headers: dict[str, str], body: bytes
) -> Operation | None:
    service = _SIGNING_TO_SERVICE.get(signing_service, signing_service)
    try:
        model = _service_model(service)
    except Exception:
        return None
    protocol = model.metadata.get("protocol")
    if protocol in ("rest-json", "rest-xml"):
        for route_method, pattern, name, _ in _rest_routes(service):
            if route_method == method:
                match = pattern.match(path)
                if match:
                    return Operation(service, name, match.groupdict(), is_read_only(name))
        return None
    if protocol == "json":
        target = headers.get("x-amz-target", "")
        name = target.rsplit(".", 1)[-1] if target else ""
        return Operation(service, name, {}, is_read_only(name)) if name else None
    if protocol in ("query", "ec2"):
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        name = (form.get("Action") or [""])[0]
        return Operation(service, name, {}, is_read_only(name)) if name else None
    return None
