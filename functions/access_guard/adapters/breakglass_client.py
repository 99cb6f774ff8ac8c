"""The break-glass API as a client sees it: requests signed with SigV4 (service execute-api) from the caller's
AWS credentials, JSON in and out; and where the API is (the deployed stack's ApiUrl output)."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from ..core.breakglass import API_URL_OUTPUT, SERVICE_STACK_NAME
from .clients import error_code

_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
TIMEOUT_SECONDS = 60  # API Gateway gives up on the handler after 29 s
CONNECT_TIMEOUT_SECONDS = 5  # an API that cannot be connected to is reported at once, not after a minute


class Unreachable(RuntimeError):
    """The API could not be reached (no answer at all)."""


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: Any  # the JSON document (a dict for every answer of the API and the gateway)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("message") or self.body.get("Message") or "")
        return str(self.body or "")


def region_of(url: str) -> str | None:
    """The region of an execute-api invoke URL (https://ID.execute-api.REGION.amazonaws.com/STAGE)."""
    found = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
    return found["region"] if found else None


def path(*segments: str) -> str:
    """`/a/b/c` with each segment percent-encoded (a cluster name never needs it; anything else is kept)."""
    return "".join("/" + quote(s, safe="") for s in segments)


class BreakGlassClient:
    def __init__(self, url: str, *, credentials: Any, region: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials  # botocore credentials (frozen or refreshable)
        self.region = region
        self.timeout = timeout
        self._connected = False

    def call(
        self, method: str, resource: str, *, body: Any = None, query: dict[str, str] | None = None
    ) -> ApiResult:
        url = self.url + resource
        if query:
            url += "?" + urlencode(sorted((k, v) for k, v in query.items() if v is not None))
        data = b"" if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "User-Agent": "access-guard-cli"}
        if data:
            headers["Content-Type"] = "application/json"
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        prepared = urllib.request.Request(
            url, data=data or None, headers=dict(request.headers.items()), method=method
        )
        self._check_connect()
        try:
            with urllib.request.urlopen(prepared, timeout=self.timeout) as response:  # noqa: S310 - http(s)
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach the break-glass API at {self.url}: {reason}") from None
        try:
            document = json.loads(raw) if raw else {}
        except ValueError:
            document = {"message": raw.decode("utf-8", "replace")[:500]}
        return ApiResult(status, document)

    def _check_connect(self) -> None:
        """urllib has one timeout for connecting and for the answer (which may take API Gateway's 29 s):
        connect once first with a short one, so an API that is down is reported within seconds."""
        if self._connected:
            return
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), timeout=CONNECT_TIMEOUT_SECONDS).close()
        except OSError as exc:
            raise Unreachable(f"cannot reach the break-glass API at {self.url}: {exc}") from None
        self._connected = True


def api_url_from_stack(cloudformation: Any, region: str) -> str | None:
    """The ApiUrl output of the region's deployed service stack, or None when there is none."""
    name = SERVICE_STACK_NAME.format(region=region)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":  # "Stack with id ... does not exist"
            return None
        raise
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == API_URL_OUTPUT:
            return str(output["OutputValue"])
    return None
