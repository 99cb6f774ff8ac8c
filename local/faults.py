"""Fault injection, set per operation at run time: latency, throttling, server errors, and failures after
the call has done its work.

A fault is keyed by operation name (`ListAccessEntries`), optionally qualified by service
(`eks:ListAccessEntries`), or `*` for every call. Throttles and errors are counted: the next N matching
calls fail, then the operation recovers, which is what retry logic has to survive. Or they come at a rate
(`throttleRate`, `errorRate`: that share of calls, drawn from a generator seeded with `seed`, so a run is
reproducible), as a busy AWS gives them.

Throttles and errors fail a call before it reaches the service: nothing changes. The commit-then faults
let the call run and change state (CloudTrail records it as the successful call it was), then answer a
server error (`commitThenError`) or close the connection without any answer (`commitThenDrop`): an SDK
retries a write that already happened, and sees what the service says to the second one (for a create,
409 ResourceInUseException).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from .operations import Operation

_EKS_STYLE = {429: "ThrottlingException", 500: "ServerException", 503: "ServiceUnavailableException"}
_QUERY_STYLE = {429: "Throttling", 500: "ServiceFailure", 503: "ServiceUnavailable"}
_JSON_STYLE = {429: "ThrottlingException", 500: "InternalServerError", 503: "ServiceUnavailable"}
_MESSAGES = {429: "Rate exceeded", 500: "Internal failure (injected)", 503: "Service unavailable (injected)"}


_FIELDS = (
    "latencyMs",
    "throttle",
    "errorStatus",
    "errorCount",
    "commitThenError",
    "commitThenDrop",
    "throttleRate",
    "errorRate",
    "seed",
)


@dataclass
class Fault:
    latency_ms: float = 0.0
    throttle: int = 0  # the next N calls get 429
    error_status: int = 0  # 500 or 503 (commitThenError uses it too; 500 if unset)
    error_count: int = 0  # the next N calls (after throttles) get error_status
    commit_then_error: int = 0  # the next N calls run, then get error_status instead of their answer
    commit_then_drop: int = 0  # the next N calls run, then the connection closes without an answer
    throttle_rate: float = 0.0  # after the counts: this share of calls gets 429, at random
    error_rate: float = 0.0  # and this share gets error_status (503 if unset), at random
    seed: int = 0  # the random draws are seeded, so a run is reproducible
    _random: random.Random | None = field(default=None, repr=False, compare=False)

    def draw(self) -> int:
        """The status a rate fault gives this call (0: none), one seeded draw per call."""
        if not (self.throttle_rate or self.error_rate):
            return 0
        if self._random is None:
            self._random = random.Random(self.seed)
        roll = self._random.random()
        if roll < self.throttle_rate:
            return 429
        if roll < self.throttle_rate + self.error_rate:
            return self.error_status or 503
        return 0

    @classmethod
    def from_json(cls, body: dict[str, object]) -> Fault:
        unknown = set(body) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        fault = cls(
            latency_ms=float(body.get("latencyMs", 0) or 0),  # type: ignore[arg-type]
            throttle=int(body.get("throttle", 0) or 0),  # type: ignore[call-overload]
            error_status=int(body.get("errorStatus", 0) or 0),  # type: ignore[call-overload]
            error_count=int(body.get("errorCount", 0) or 0),  # type: ignore[call-overload]
            commit_then_error=int(body.get("commitThenError", 0) or 0),  # type: ignore[call-overload]
            commit_then_drop=int(body.get("commitThenDrop", 0) or 0),  # type: ignore[call-overload]
            throttle_rate=float(body.get("throttleRate", 0) or 0),  # type: ignore[arg-type]
            error_rate=float(body.get("errorRate", 0) or 0),  # type: ignore[arg-type]
            seed=int(body.get("seed", 0) or 0),  # type: ignore[call-overload]
        )
        rates = (fault.throttle_rate, fault.error_rate)
        if min(rates) < 0 or sum(rates) > 1:
            raise ValueError("throttleRate and errorRate must be between 0 and 1, and sum to at most 1")
        if fault.error_rate and fault.error_status not in (0, 500, 503):
            raise ValueError("errorStatus must be 500 or 503 (or unset, for 503)")
        if fault.error_count and fault.error_status not in (500, 503):
            raise ValueError("errorStatus must be 500 or 503")
        if fault.commit_then_error and fault.error_status not in (0, 500, 503):
            raise ValueError("errorStatus must be 500 or 503 (or unset, for 500)")
        counts = (fault.throttle, fault.error_count, fault.commit_then_error, fault.commit_then_drop)
        if min(fault.latency_ms, *counts) < 0:
            raise ValueError("fault values must not be negative")
        return fault

    def to_json(self) -> dict[str, object]:
        return {
            "latencyMs": self.latency_ms,
            "throttle": self.throttle,
            "errorStatus": self.error_status,
            "errorCount": self.error_count,
            "commitThenError": self.commit_then_error,
            "commitThenDrop": self.commit_then_drop,
            "throttleRate": self.throttle_rate,
            "errorRate": self.error_rate,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Injection:
    """What to do to one call: answer instead of the service (`response`), or let the service answer and
    then replace the answer with a server error (`error_after_commit`) or with a dropped connection."""

    response: tuple[int, dict[str, str], bytes] | None = None
    error_after_commit: int = 0
    drop_after_commit: bool = False


NO_INJECTION = Injection()


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def set(self, key: str, fault: Fault) -> None:
        with self._lock:
            self._faults[key] = fault

    def clear(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._faults.clear()
            else:
                self._faults.pop(key, None)

    def snapshot(self) -> dict[str, dict[str, object]]:
        with self._lock:
            return {k: f.to_json() for k, f in self._faults.items()}

    def before_call(self, op: Operation, protocol: str) -> Injection:
        """Sleep the injected latency; say whether (and how) this call is to fail."""
        latency = 0.0
        status = 0
        after_commit = 0
        drop = False
        with self._lock:
            for key in (f"{op.service}:{op.name}", op.name, "*"):
                fault = self._faults.get(key)
                if fault is None:
                    continue
                latency = max(latency, fault.latency_ms)
                if status or after_commit or drop:
                    continue
                if fault.throttle > 0:
                    fault.throttle -= 1
                    status = 429
                elif fault.error_count > 0:
                    fault.error_count -= 1
                    status = fault.error_status
                elif fault.commit_then_error > 0:
                    fault.commit_then_error -= 1
                    after_commit = fault.error_status or 500
                elif fault.commit_then_drop > 0:
                    fault.commit_then_drop -= 1
                    drop = True
                else:
                    status = fault.draw()
        if latency:
            time.sleep(latency / 1000.0)
        if status:
            return Injection(response=error_response(status, protocol))
        if after_commit or drop:
            return Injection(error_after_commit=after_commit, drop_after_commit=drop)
        return NO_INJECTION


def error_response(status: int, protocol: str) -> tuple[int, dict[str, str], bytes]:
    message = _MESSAGES[status]
    request_id = str(uuid.uuid4())
    if protocol in ("query", "ec2", "rest-xml"):
        code = _QUERY_STYLE[status]
        kind = "Sender" if status == 429 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    if protocol == "json":
        code = _JSON_STYLE[status]
        body = json.dumps({"__type": code, "message": message})
        return (
            status,
            {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id},
            body.encode(),
        )
    code = _EKS_STYLE[status]
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
    return status, headers, json.dumps({"message": message}).encode()


FAULTS = FaultRegistry()


def _register_routes() -> None:
    from . import control

    @control.route("GET", "faults")
    def _list(params: dict[str, str], query: dict[str, str], body: object) -> tuple[int, object]:
        return 200, FAULTS.snapshot()

    @control.route("PUT", r"faults/(?P<key>[^/]+)")
    def _set(params: dict[str, str], query: dict[str, str], body: object) -> tuple[int, object]:
        if not isinstance(body, dict):
            raise ValueError("a fault is a JSON object: " + ", ".join(_FIELDS))
        fault = Fault.from_json(body)
        FAULTS.set(params["key"], fault)
        return 200, {params["key"]: fault.to_json()}

    @control.route("DELETE", r"faults(?:/(?P<key>[^/]+))?")
    def _clear(params: dict[str, str], query: dict[str, str], body: object) -> tuple[int, object]:
        FAULTS.clear(params.get("key"))
        return 200, FAULTS.snapshot()

    control.on_reset(FAULTS.clear)


_register_routes()
