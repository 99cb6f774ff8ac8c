"""Bad requests, one test each: a clear JSON error with the right status, and nothing changed (the cluster's
access by the oracle, the grants table, the schedules). Refusals by the gateway never reach the handler
(no audit record); everything that reaches it is audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import ACCOUNT, CLUSTER, DEV, MAX_MINUTES, World, send

GRANTS = f"/clusters/{CLUSTER}/grants"
RESTORE = f"/clusters/{CLUSTER}/restore"
GOOD = {"accessPolicy": "AmazonEKSClusterAdminPolicy", "durationMinutes": 15, "reason": "INC-42"}
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/sre-oncall/bob"
UNKNOWN_GRANT = "0123456789abcdef0123456789abcdef"


def grant(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, **changes}
    return {k: v for k, v in body.items() if v is not None}


def signed(method: str, path: str, body: Any = None, **kwargs: Any) -> Callable[[World], AWSRequest]:
    return lambda world: world.sign(method, path, body, **kwargs)


def unsigned(world: World) -> AWSRequest:
    return AWSRequest(method="POST", url=world.url + GRANTS, data=json.dumps(GOOD).encode())


def wrong_secret(world: World) -> AWSRequest:
    key = world.credentials["oncall"]
    return world.sign(
        "POST", GRANTS, GOOD, credentials=Credentials(key.access_key, "not-the-secret", key.token)
    )


def tampered(world: World) -> AWSRequest:
    request = world.sign("POST", GRANTS, GOOD)
    request.data = json.dumps({**GOOD, "durationMinutes": 30}).encode()  # after signing
    return request


def expired_signature(world: World) -> AWSRequest:
    return world.sign("POST", GRANTS, GOOD, at=datetime.now(UTC) - timedelta(minutes=6))


def replayed(world: World) -> AWSRequest:
    # signed now, sent again after the gateway's 5-minute window: it moves the gateway's clock ahead
    request = world.sign("GET", f"/clusters/{CLUSTER}/drift")
    assert send(request).status == 200
    world.gateway.clock = lambda: datetime.now(UTC) + timedelta(minutes=5, seconds=5)
    return request


def no_session_token(world: World) -> AWSRequest:
    key = world.credentials["oncall"]
    return world.sign("POST", GRANTS, GOOD, credentials=Credentials(key.access_key, key.secret_key))


def unknown_key(world: World) -> AWSRequest:
    return world.sign("POST", GRANTS, GOOD, credentials=Credentials("AKIAIOSFODNN7EXAMPLE", "secret"))


@dataclass(frozen=True)
class Case:
    id: str
    request: Callable[[World], AWSRequest]
    status: int
    message: str  # in the JSON error
    reaches_handler: bool = True


CASES = [
    # --- the gateway: 403, the handler never runs ---
    Case("unsigned", unsigned, 403, "Missing Authentication Token", False),
    Case("wrong secret", wrong_secret, 403, "signature we calculated does not match", False),
    Case("body changed after signing", tampered, 403, "signature we calculated does not match", False),
    Case("expired signature", expired_signature, 403, "Signature expired", False),
    Case("replayed outside the clock skew", replayed, 403, "Signature expired", False),
    Case("session key without its token", no_session_token, 403, "security token included", False),
    Case("unknown access key", unknown_key, 403, "security token included", False),
    Case("no such route", signed("PUT", GRANTS, GOOD), 403, "Missing Authentication Token", False),
    # --- signed, but not on call: 403 from the handler ---
    Case("an IAM user not on call", signed("POST", GRANTS, GOOD, who="mallory"), 403, "is not an on-call"),
    Case(
        "a role session not on call",
        signed("POST", RESTORE, {"reason": "x"}, who="dev"),
        403,
        "not an on-call",
    ),
    Case(
        "a look-alike role name",
        signed("GET", f"/clusters/{CLUSTER}/drift", who="impostor"),
        403,
        "not an on-call",
    ),
    Case(
        "naming a principal not on call",
        signed("POST", GRANTS, grant(principalArn=DEV)),
        403,
        "only an on-call",
    ),
    # --- bodies: 400 (413) with the reason ---
    Case("malformed JSON", signed("POST", GRANTS, raw=b'{"reason": "INC-42",'), 400, "is not valid JSON"),
    Case("not an object", signed("POST", GRANTS, ["INC-42"]), 400, "must be a JSON object"),
    Case("no body", signed("POST", GRANTS), 400, "a JSON body is required"),
    Case("unknown field", signed("POST", GRANTS, grant(approver="me")), 400, "unknown field 'approver'"),
    Case("missing reason", signed("POST", GRANTS, grant(reason=None)), 400, "reason is required"),
    Case("blank reason", signed("POST", GRANTS, grant(reason="   ")), 400, "reason must not be empty"),
    Case("duration zero", signed("POST", GRANTS, grant(durationMinutes=0)), 400, "between 1 and 60, got 0"),
    Case(
        "duration over the maximum",
        signed("POST", GRANTS, grant(durationMinutes=61)),
        400,
        "between 1 and 60",
    ),
    Case(
        "duration over the cluster's maximum",
        signed("POST", GRANTS, grant(durationMinutes=MAX_MINUTES + 1)),
        400,
        f"between 1 and {MAX_MINUTES} on {CLUSTER}",
    ),
    Case("duration as text", signed("POST", GRANTS, grant(durationMinutes="15")), 400, "a whole number"),
    Case(
        "invalid principal ARN",
        signed("POST", GRANTS, grant(principalArn="arn:aws:iam::12:role/x")),
        400,
        "the account must be 12 digits",
    ),
    Case(
        "session ARN as principal",
        signed("POST", GRANTS, grant(principalArn=SESSION)),
        400,
        "STS session ARN",
    ),
    Case(
        "unknown policy",
        signed("POST", GRANTS, grant(accessPolicy="AmazonEKSGodPolicy")),
        400,
        "unknown access",
    ),
    Case(
        "a policy the deployment does not grant",
        signed("POST", GRANTS, grant(accessPolicy="AmazonEKSSecretReaderPolicy")),
        400,
        "not a policy this deployment grants",
    ),
    Case(
        "namespaces on a cluster-only policy",
        signed("POST", GRANTS, grant(namespaces=["payments"])),
        400,
        "cluster scope only",
    ),
    Case(
        "an invalid namespace",
        signed("POST", GRANTS, grant(accessPolicy="AmazonEKSViewPolicy", namespaces=["Payments!"])),
        400,
        "not a Kubernetes namespace name",
    ),
    Case("oversized body", signed("POST", GRANTS, grant(reason="x" * 20_000)), 413, "at most 16384"),
    Case("restore without a reason", signed("POST", RESTORE, {"dryRun": False}), 400, "reason is required"),
    Case(
        "restore dryRun not a boolean",
        signed("POST", RESTORE, {"reason": "x", "dryRun": "yes"}),
        400,
        "dryRun",
    ),
    # --- paths and queries ---
    Case(
        "unknown cluster", signed("POST", "/clusters/orders/grants", GOOD), 404, "no managed cluster orders"
    ),
    Case("unknown cluster drift", signed("GET", "/clusters/orders/drift"), 404, "no managed cluster orders"),
    Case(
        "invalid cluster name",
        signed("POST", "/clusters/pay.ments!/grants", GOOD),
        400,
        "not an EKS cluster name",
    ),
    Case("unknown grant", signed("DELETE", f"{GRANTS}/{UNKNOWN_GRANT}"), 404, f"no grant {UNKNOWN_GRANT}"),
    Case("malformed grant id", signed("DELETE", f"{GRANTS}/g-1"), 400, "is not a grant id"),
    Case("audit page size zero", signed("GET", "/audit?limit=0"), 400, "limit must be a whole number"),
    Case("audit page token forged", signed("GET", "/audit?next=eyJhIjogMX0"), 400, "not a page token"),
    # --- rules: 409 ---
    Case(
        "a grant that would narrow a baseline path",
        signed("POST", GRANTS, grant(accessPolicy="AmazonEKSEditPolicy", namespaces=["payments"]), who="sre"),
        409,
        "a grant never narrows a baseline path",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_request_is_answered_with_its_reason_and_changes_nothing(world: World, case: Case) -> None:
    request = case.request(world)
    before = world.snapshot()
    audited = len(world.audit())

    answer = send(request)

    assert answer.status == case.status, answer.body
    assert isinstance(answer.body, dict), answer.body
    message = answer.body.get("message") or answer.body.get("Message") or ""
    assert case.message in message, message
    assert world.snapshot() == before
    assert len(world.audit()) == audited + (1 if case.reaches_handler else 0)
    if case.reaches_handler:
        record = world.audit()[-1]
        assert record["status"] == case.status and record["detail"]


def test_there_are_at_least_thirty_of_them() -> None:
    assert len(CASES) >= 30
