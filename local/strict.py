"""Where the local AWS is as strict as AWS on request: throughput limits and eventual consistency.

Each is a setting of the local AWS, off by default (0), changed through the control API:

    PUT /_emulator/strict {"ssmGetTps": 40, "newPrincipalSeconds": 5, "parameterVisibleAfterSeconds": 2}
    GET /_emulator/strict

- `ssmGetTps`: Parameter Store's default throughput for GetParameter, GetParameters and
  GetParametersByPath, shared by the three, per account and region (40 in AWS: core.limits.SSM_GET_TPS).
  A token bucket refilled `ssmGetTps` times a second, holding at most one second's worth; a call finding
  it empty is answered ThrottlingException ("Rate exceeded", HTTP 400) and changes nothing (botocore
  retries it as a throttle).
- `newPrincipalSeconds`: IAM is eventually consistent: a role or user just created is not yet known to
  EKS. CreateAccessEntry for a principal that CreateRole/CreateUser made less than this many seconds ago
  is refused with InvalidParameterException, as EKS refuses an invalid principal.
- `parameterVisibleAfterSeconds`: a parameter just written (PutParameter) reads as missing for this many
  seconds: GetParameter answers ParameterNotFound, GetParameters lists it under InvalidParameters,
  GetParametersByPath leaves it out.

The eventual-consistency windows are timed on the services' clock (local/clock.py): moving it ahead ends
them. Throughput is timed on real time. This module imports nothing of the product.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any

from . import control
from .calls import Call, add_listener
from .clock import SERVICE_CLOCK

_FIELDS = {"ssmGetTps", "newPrincipalSeconds", "parameterVisibleAfterSeconds"}
_SSM_READS = {"GetParameter", "GetParameters", "GetParametersByPath"}
_ARN = re.compile(rb"<Arn>(arn:aws[^<]*:iam::\d{12}:(?:role|user)/[^<]+)</Arn>")


class Strictness:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings: dict[str, float] = dict.fromkeys(_FIELDS, 0.0)
        self._buckets: dict[str, tuple[float, float]] = {}  # account/region -> (tokens, at)
        self._principals: dict[str, float] = {}  # ARN -> created at (services' clock, monotonic)
        self._parameters: dict[tuple[str, str], float] = {}  # (region, name) -> written at

    # --- settings ----------------------------------------------------------------------------------
    def configure(self, body: Any) -> dict[str, float]:
        if not isinstance(body, dict) or not body or set(body) - _FIELDS:
            raise ValueError(f"the body sets one or more of {', '.join(sorted(_FIELDS))}")
        for name, value in body.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 3600:
                raise ValueError(f"{name} must be a number from 0 to 3600 (0: off)")
        with self._lock:
            self.settings.update({k: float(v) for k, v in body.items()})
            self._buckets.clear()
            return dict(self.settings)

    def reset(self) -> None:
        with self._lock:
            self.settings = dict.fromkeys(_FIELDS, 0.0)
            self._buckets.clear()
            self._principals.clear()
            self._parameters.clear()

    # --- before a call -----------------------------------------------------------------------------
    def before_call(self, call: Call) -> tuple[int, dict[str, str], bytes] | None:
        """The refusal to answer instead of running the call, or None."""
        service, name = call.operation.service, call.operation.name
        throttled = service == "ssm" and name in _SSM_READS and self.settings["ssmGetTps"] > 0
        if throttled and not self._take(f"{call.caller.account_id}/{call.region}"):
            return _json_error(400, "ThrottlingException", "Rate exceeded")
        if service == "eks" and name == "CreateAccessEntry" and self.settings["newPrincipalSeconds"] > 0:
            principal = _json(call.body).get("principalArn")
            with self._lock:
                created = self._principals.get(str(principal))
            if (
                created is not None
                and SERVICE_CLOCK.monotonic() - created < self.settings["newPrincipalSeconds"]
            ):
                # EKS's own answer for a principal it does not know (local/eks/rules.py has the same words)
                message = "The specified principalArn is invalid: invalid principal."
                return _json_error(400, "InvalidParameterException", message)
        return None

    def _take(self, key: str) -> bool:
        rate = self.settings["ssmGetTps"]
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (rate, now))
            tokens = min(rate, tokens + (now - at) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            return True

    # --- after a call ------------------------------------------------------------------------------
    def after_call(self, call: Call, status: int, body: bytes) -> bytes:
        """The response body as the caller sees it: a parameter just written left out."""
        window = self.settings["parameterVisibleAfterSeconds"]
        if (
            status != 200
            or call.operation.service != "ssm"
            or call.operation.name not in _SSM_READS
            or not window
        ):
            return body
        now = SERVICE_CLOCK.monotonic()
        with self._lock:
            fresh = {n for (r, n), at in self._parameters.items() if r == call.region and now - at < window}
        if not fresh:
            return body
        document = _json(body)
        if call.operation.name == "GetParameter":
            if document.get("Parameter", {}).get("Name") in fresh:
                raise _NotYet(document["Parameter"]["Name"])
            return body
        kept = [p for p in document.get("Parameters", []) if p.get("Name") not in fresh]
        if call.operation.name == "GetParameters":
            hidden = [p["Name"] for p in document.get("Parameters", []) if p.get("Name") in fresh]
            document["InvalidParameters"] = [*document.get("InvalidParameters", []), *hidden]
        document["Parameters"] = kept
        return json.dumps(document).encode()

    def heard(self, call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
        """Listener: when principals and parameters were made."""
        if status != 200:
            return
        operation = (call.operation.service, call.operation.name)
        if operation in {("iam", "CreateRole"), ("iam", "CreateUser")}:
            match = _ARN.search(body)
            if match:
                with self._lock:
                    self._principals[match.group(1).decode()] = SERVICE_CLOCK.monotonic()
        elif operation == ("ssm", "PutParameter"):
            name = _json(call.body).get("Name")
            if isinstance(name, str):
                with self._lock:
                    self._parameters[(call.region, name)] = SERVICE_CLOCK.monotonic()


class _NotYet(Exception):
    """GetParameter of a parameter not yet visible: answered ParameterNotFound."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.response = _json_error(400, "ParameterNotFound", f"Parameter {name} not found.")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _json_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    request_id = str(uuid.uuid4())
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
    headers["x-amzn-ErrorType"] = code
    return status, headers, body


STRICT = Strictness()
NotYet = _NotYet
add_listener(STRICT.heard)
control.on_reset(STRICT.reset)


@control.route("GET", "strict")
def _get(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, STRICT.settings


@control.route("PUT", "strict")
def _put(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, STRICT.configure(body)
