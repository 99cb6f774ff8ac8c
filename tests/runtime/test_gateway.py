"""The local API gateway: SigV4 (IAM) authentication, the REST proxy event, routes, MFA, responses.

Every request is a real HTTP request signed with botocore's SigV4Auth, by an IAM user's access key or
by an STS session made on the local AWS; refused requests must never reach the handler.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from unittest import mock

import boto3
import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.runtime import FunctionRegistry, LocalApiGateway

from .conftest import ACCOUNT, REGION

ROUTES = [
    "GET /clusters/{cluster}/grants/{id}",
    "POST /clusters/{cluster}/grants",
    "GET /clusters/list",
    "/health",
]


class Handler:
    """Records events; answers 200 with a small JSON body unless told otherwise."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.respond: Callable[[dict[str, Any]], Any] = lambda event: {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"ok": True}),
        }

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return self.respond(event)


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def clock() -> Clock:  # type: ignore[override]
    return Clock()


@pytest.fixture
def gateway_factory(registry: FunctionRegistry, handler: Handler, clock: Clock) -> Iterator[Any]:
    started: list[LocalApiGateway] = []

    def make(**kwargs: Any) -> LocalApiGateway:
        registry.register("api", kwargs.pop("function", handler), timeout=30)
        gateway = LocalApiGateway(registry, "api", kwargs.pop("routes", ROUTES), clock=clock, **kwargs)
        gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(gateway_factory: Any) -> LocalApiGateway:
    return gateway_factory()  # type: ignore[no-any-return]


@pytest.fixture
def iam(aws: Any) -> Any:
    return boto3.client("iam", region_name=REGION)


@pytest.fixture
def user(iam: Any) -> tuple[dict[str, Any], Credentials]:
    created = iam.create_user(UserName="alice", Path="/people/")["User"]
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    return created, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def assume(iam: Any, mfa: bool = False, duration: int = 3600) -> tuple[dict[str, Any], Credentials]:
    role = iam.create_role(RoleName="oncall", Path="/ops/", AssumeRolePolicyDocument="{}")["Role"]
    extra = {"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/bob", "TokenCode": "123456"} if mfa else {}
    response = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role["Arn"], RoleSessionName="bob", DurationSeconds=duration, **extra
    )
    c = response["Credentials"]
    return role, Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def sign(
    url: str,
    credentials: Credentials,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = REGION,
    service: str = "execute-api",
    at: datetime | None = None,
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    if at is None:
        SigV4Auth(credentials, service, region).add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
            SigV4Auth(credentials, service, region).add_auth(request)
    return request


def send(request: AWSRequest) -> tuple[int, Message, bytes]:
    prepared = urllib.request.Request(
        request.url, data=request.body or None, headers=dict(request.headers.items()), method=request.method
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def call(url: str, credentials: Credentials, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    status, _, body = send(sign(url, credentials, **kwargs))
    return status, json.loads(body)


# --- accepted requests and the event ---------------------------------------------------------------


def test_an_iam_user_request_reaches_the_handler_with_its_identity(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    created, credentials = user
    url = f"{gateway.endpoint}/clusters/prod-eu/grants/g-1?reason=incident&tag=a&tag=b"

    status, body = call(url, credentials, headers={"User-Agent": "guard-cli/1.0"})

    assert (status, body) == (200, {"ok": True})
    (event,) = handler.events
    APIGatewayProxyEventModel.model_validate(event)  # Powertools' model of the REST proxy event
    assert event["resource"] == "/clusters/{cluster}/grants/{id}"
    assert event["path"] == "/clusters/prod-eu/grants/g-1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"cluster": "prod-eu", "id": "g-1"}
    assert event["queryStringParameters"] == {"reason": "incident", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"reason": ["incident"], "tag": ["a", "b"]}
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert event["headers"]["User-Agent"] == "guard-cli/1.0"
    assert event["multiValueHeaders"]["X-Amz-Date"] == [event["headers"]["X-Amz-Date"]]
    context = event["requestContext"]
    assert (context["stage"], context["path"], context["resourcePath"]) == (
        "prod",
        "/prod/clusters/prod-eu/grants/g-1",
        "/clusters/{cluster}/grants/{id}",
    )
    assert context["accountId"] == ACCOUNT
    assert context["identity"] == {
        "cognitoIdentityPoolId": None,
        "accountId": ACCOUNT,
        "cognitoIdentityId": None,
        "caller": created["UserId"],
        "sourceIp": "127.0.0.1",
        "principalOrgId": None,
        "accessKey": credentials.access_key,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": f"arn:aws:iam::{ACCOUNT}:user/people/alice",
        "userAgent": "guard-cli/1.0",
        "user": created["UserId"],
        "apiKey": None,
        "apiKeyId": None,
        "clientCert": None,
    }


def test_an_assumed_role_arrives_as_its_session_without_the_roles_path(
    gateway: LocalApiGateway, handler: Handler, iam: Any
) -> None:
    role, credentials = assume(iam)

    status, _ = call(f"{gateway.endpoint}/health", credentials)

    assert status == 200
    identity = handler.events[0]["requestContext"]["identity"]
    assert identity["userArn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/bob"
    assert identity["caller"] == identity["user"] == f"{role['RoleId']}:bob"
    assert identity["accessKey"] == credentials.access_key


def test_a_post_body_and_a_percent_encoded_path_are_verified_and_passed_on(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    _, credentials = user
    body = json.dumps({"principal": "arn:aws:iam::123456789012:role/dev", "minutes": 30}).encode()
    url = f"{gateway.endpoint}/clusters/team%20a/grants"

    status, _ = call(url, credentials, method="POST", body=body, headers={"Content-Type": "application/json"})

    assert status == 200
    (event,) = handler.events
    assert event["pathParameters"] == {"cluster": "team a"}
    assert event["path"] == "/clusters/team a/grants"
    assert json.loads(event["body"]) == {"principal": "arn:aws:iam::123456789012:role/dev", "minutes": 30}


def test_a_binary_body_arrives_base64_encoded(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    _, credentials = user
    status, _ = call(
        f"{gateway.endpoint}/clusters/c/grants", credentials, method="POST", body=b"\xff\x00\xfe"
    )
    assert status == 200
    event = handler.events[0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00\xfe"


def test_a_powertools_resolver_sees_the_caller_and_its_response_is_written_back(
    gateway_factory: Any, user: tuple[dict[str, Any], Credentials]
) -> None:
    app = APIGatewayRestResolver()

    @app.get("/clusters/<cluster>/grants/<grant>")
    def get_grant(cluster: str, grant: str) -> tuple[dict[str, Any], int]:
        identity = app.current_event.request_context.identity
        return {"cluster": cluster, "grant": grant, "by": identity.user_arn}, 201

    gateway = gateway_factory(function=lambda event, context: app.resolve(event, context))
    _, credentials = user

    status, headers, body = send(sign(f"{gateway.endpoint}/clusters/c1/grants/g1", credentials))

    assert status == 201
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "cluster": "c1",
        "grant": "g1",
        "by": f"arn:aws:iam::{ACCOUNT}:user/people/alice",
    }


def test_response_headers_and_a_base64_body_are_written_back(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    handler.respond = lambda event: {
        "statusCode": 202,
        "headers": {"X-Single": "one"},
        "multiValueHeaders": {"X-Multi": ["a", "b"]},
        "body": base64.b64encode(b"\x00\x01").decode(),
        "isBase64Encoded": True,
    }
    status, headers, body = send(sign(f"{gateway.endpoint}/health", user[1]))
    assert (status, body) == (202, b"\x00\x01")
    assert headers["X-Single"] == "one"
    assert headers.get_all("X-Multi") == ["a", "b"]


@pytest.mark.parametrize(
    "respond",
    [
        lambda event: (_ for _ in ()).throw(RuntimeError("boom")),
        lambda event: {"body": "no status code"},
        lambda event: "not a dict",
    ],
    ids=["raises", "no-status-code", "not-a-dict"],
)
def test_a_failing_or_malformed_integration_is_a_502(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials], respond: Any
) -> None:
    handler.respond = respond
    assert call(f"{gateway.endpoint}/health", user[1]) == (502, {"message": "Internal server error"})


def test_past_the_integration_timeout_the_caller_gets_504_while_the_function_runs_on(
    gateway_factory: Any, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    finished = threading.Event()

    def slow(event: dict[str, Any]) -> Any:
        time.sleep(1.5)
        finished.set()
        return {"statusCode": 200, "body": "{}"}

    handler.respond = slow
    gateway = gateway_factory(integration_timeout=0.5)
    started = time.monotonic()
    answer = call(f"{gateway.endpoint}/health", user[1])
    assert answer == (504, {"message": "Endpoint request timed out"})
    assert time.monotonic() - started < 1.4
    assert finished.wait(5)  # API Gateway gave up; the function did not


# --- routes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("DELETE", "/clusters/c/grants/g"), ("GET", "/clusters/c/grants/g/extra")],
)
def test_an_unknown_route_is_missing_authentication_token_even_when_signed(
    gateway: LocalApiGateway,
    handler: Handler,
    user: tuple[dict[str, Any], Credentials],
    method: str,
    path: str,
) -> None:
    status, headers, body = send(sign(f"{gateway.endpoint}{path}", user[1], method=method))
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert handler.events == []


def test_a_path_outside_the_stage_is_missing_authentication_token(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    url = gateway.endpoint.rsplit("/", 1)[0] + "/other-stage/health"
    assert call(url, user[1]) == (403, {"message": "Missing Authentication Token"})


def test_literal_segments_win_over_parameters_and_greedy_paths_take_the_rest(
    gateway_factory: Any, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    gateway = gateway_factory(routes=["GET /clusters/{cluster}", "GET /clusters/list", "GET /files/{proxy+}"])
    call(f"{gateway.endpoint}/clusters/list", user[1])
    call(f"{gateway.endpoint}/clusters/prod", user[1])
    call(f"{gateway.endpoint}/files/a/b/c", user[1])
    assert [(e["resource"], e["pathParameters"]) for e in handler.events] == [
        ("/clusters/list", None),
        ("/clusters/{cluster}", {"cluster": "prod"}),
        ("/files/{proxy+}", {"proxy": "a/b/c"}),
    ]


# --- refused requests ----------------------------------------------------------------------------------


def refused(gateway: LocalApiGateway, handler: Handler, request: AWSRequest) -> tuple[str, str]:
    """Send; it must be a 403 that never reached the handler. (error type, message)."""
    status, headers, body = send(request)
    assert status == 403, body
    assert handler.events == []
    payload = json.loads(body)
    return headers["x-amzn-ErrorType"], payload.get("message") or payload.get("Message")


def tampered(request: AWSRequest, **changes: Any) -> AWSRequest:
    for name, value in changes.items():
        if name == "headers":
            for header, header_value in value.items():
                request.headers.replace_header(header, header_value)
        else:
            setattr(request, name, value)
    return request


MISMATCH = "The request signature we calculated does not match the signature you provided."


def test_an_unsigned_request_is_refused(gateway: LocalApiGateway, handler: Handler) -> None:
    request = AWSRequest(method="GET", url=f"{gateway.endpoint}/health")
    assert refused(gateway, handler, request) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: tampered(r, data=b'{"minutes": 600}'),
        lambda r: tampered(r, url=r.url.replace("/clusters/c1/", "/clusters/c2/")),
        lambda r: tampered(r, url=r.url + "&extra=1"),
        lambda r: tampered(r, headers={"X-Reason": "changed"}),
        lambda r: tampered(r, method="PUT"),
    ],
    ids=["body", "path", "query", "signed-header", "method"],
)
def test_a_tampered_request_is_refused(
    gateway_factory: Any, handler: Handler, user: tuple[dict[str, Any], Credentials], tamper: Any
) -> None:
    gateway = gateway_factory(routes=["POST /clusters/{cluster}/grants", "PUT /clusters/{cluster}/grants"])
    request = sign(
        f"{gateway.endpoint}/clusters/c1/grants?reason=incident",
        user[1],
        method="POST",
        body=b'{"minutes": 30}',
        headers={"X-Reason": "incident"},
    )
    error_type, message = refused(gateway, handler, tamper(request))
    assert error_type == "InvalidSignatureException"
    assert message.startswith(MISMATCH)


def test_a_signature_made_with_the_wrong_secret_is_refused(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    wrong = Credentials(user[1].access_key, "not-the-secret")
    error_type, message = refused(gateway, handler, sign(f"{gateway.endpoint}/health", wrong))
    assert (error_type, message[: len(MISMATCH)]) == ("InvalidSignatureException", MISMATCH)


def test_an_unknown_access_key_is_refused(gateway: LocalApiGateway, handler: Handler) -> None:
    request = sign(f"{gateway.endpoint}/health", Credentials("AKIAIOSFODNN7EXAMPLE", "secret"))
    assert refused(gateway, handler, request) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_the_moto_default_test_key_is_unknown_too(gateway: LocalApiGateway, handler: Handler) -> None:
    request = sign(f"{gateway.endpoint}/health", Credentials("testing", "testing"))
    assert refused(gateway, handler, request)[0] == "UnrecognizedClientException"


def test_a_deleted_or_inactive_user_key_is_refused(
    gateway: LocalApiGateway, handler: Handler, iam: Any, user: tuple[dict[str, Any], Credentials]
) -> None:
    iam.update_access_key(UserName="alice", AccessKeyId=user[1].access_key, Status="Inactive")
    assert (
        refused(gateway, handler, sign(f"{gateway.endpoint}/health", user[1]))[0]
        == "UnrecognizedClientException"
    )
    iam.delete_access_key(UserName="alice", AccessKeyId=user[1].access_key)
    assert (
        refused(gateway, handler, sign(f"{gateway.endpoint}/health", user[1]))[0]
        == "UnrecognizedClientException"
    )


def test_session_credentials_need_their_own_session_token(
    gateway: LocalApiGateway, handler: Handler, iam: Any
) -> None:
    _, credentials = assume(iam)
    without = Credentials(credentials.access_key, credentials.secret_key)
    other = Credentials(credentials.access_key, credentials.secret_key, "another-token")
    for attempt in (without, other):
        assert refused(gateway, handler, sign(f"{gateway.endpoint}/health", attempt)) == (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )


def test_an_expired_session_is_refused(
    gateway: LocalApiGateway, handler: Handler, iam: Any, clock: Clock
) -> None:
    _, credentials = assume(iam, duration=900)
    clock.offset = timedelta(minutes=16)
    request = sign(f"{gateway.endpoint}/health", credentials, at=clock())
    assert refused(gateway, handler, request) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )


def test_a_request_signed_more_than_five_minutes_ago_is_refused_as_a_replay(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials], clock: Clock
) -> None:
    request = sign(f"{gateway.endpoint}/health", user[1])
    clock.offset = timedelta(minutes=4)
    assert send(request)[0] == 200  # replayed within the window: accepted, as by API Gateway
    handler.events.clear()
    clock.offset = timedelta(minutes=5, seconds=2)
    error_type, message = refused(gateway, handler, request)
    assert error_type == "InvalidSignatureException"
    assert message.startswith("Signature expired: ")


def test_a_request_dated_in_the_future_is_refused(
    gateway: LocalApiGateway, handler: Handler, user: tuple[dict[str, Any], Credentials], clock: Clock
) -> None:
    request = sign(f"{gateway.endpoint}/health", user[1])
    clock.offset = -timedelta(minutes=6)
    assert refused(gateway, handler, request)[1].startswith("Signature not yet current: ")


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ({"region": "eu-west-1"}, "Credential should be scoped to a valid region."),
        ({"service": "eks"}, "Credential should be scoped to correct service: 'execute-api'."),
    ],
)
def test_a_signature_for_another_region_or_service_is_refused(
    gateway: LocalApiGateway,
    handler: Handler,
    user: tuple[dict[str, Any], Credentials],
    scope: dict[str, str],
    message: str,
) -> None:
    request = sign(f"{gateway.endpoint}/health", user[1], **scope)
    assert refused(gateway, handler, request) == ("InvalidSignatureException", message)


# --- MFA -------------------------------------------------------------------------------------------------


def test_with_mfa_required_only_sessions_assumed_with_mfa_get_in(
    gateway_factory: Any, handler: Handler, iam: Any, user: tuple[dict[str, Any], Credentials]
) -> None:
    gateway = gateway_factory(require_mfa=True)
    _, plain = assume(iam)
    iam.delete_role(RoleName="oncall")
    _, with_mfa = assume(iam, mfa=True)

    for credentials, arn in [
        (user[1], f"arn:aws:iam::{ACCOUNT}:user/people/alice"),
        (plain, f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/bob"),
    ]:
        error_type, message = refused(gateway, handler, sign(f"{gateway.endpoint}/health", credentials))
        assert error_type == "AccessDeniedException"
        assert message.startswith(
            f"User: {arn} is not authorized to perform: execute-api:Invoke on resource: "
        )
        assert message.endswith("/prod/GET/health with an explicit deny")

    assert call(f"{gateway.endpoint}/health", with_mfa)[0] == 200


def test_without_mfa_required_every_valid_caller_gets_in(
    gateway: LocalApiGateway, handler: Handler, iam: Any, user: tuple[dict[str, Any], Credentials]
) -> None:
    _, plain = assume(iam)
    assert call(f"{gateway.endpoint}/health", user[1])[0] == 200
    assert call(f"{gateway.endpoint}/health", plain)[0] == 200


# --- size ------------------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413(
    gateway_factory: Any, handler: Handler, user: tuple[dict[str, Any], Credentials]
) -> None:
    gateway = gateway_factory(max_body_bytes=1024)
    url = f"{gateway.endpoint}/clusters/c/grants"
    status, _, _ = send(sign(url, user[1], method="POST", body=b"x" * 1025))
    assert status == 413
    assert handler.events == []
    assert call(url, user[1], method="POST", body=b"x" * 1024)[0] == 200
