"""An API Gateway REST API with AWS_IAM authorization on every method, fronting one Lambda function.

Served on 127.0.0.1 at `endpoint` (`http://127.0.0.1:PORT/STAGE`), it does what API Gateway does before
and after a Lambda proxy integration:
- a path under no route template (or a method the route lacks) gets 403 "Missing Authentication Token",
  signed or not, as API Gateway answers for resources that do not exist;
- every request must carry a SigV4 signature for service `execute-api` in the gateway's region, made with
  an access key the local AWS knows (an IAM user's active key, or an STS AssumeRole session's key with its
  session token), dated within 5 minutes of the gateway's clock; the signature is recomputed with
  botocore's SigV4Auth from the request as received. Failures get API Gateway's 403 bodies;
- `require_mfa` stands in for the resource policy that denies execute-api:Invoke under
  BoolIfExists {"aws:MultiFactorAuthPresent": "false"}: IAM user keys (long-term, no MFA key) and sessions
  without MFA are refused. moto's AssumeRole ignores SerialNumber and TokenCode, so this module watches
  the local AWS's calls and counts a session as MFA-authenticated when AssumeRole was called with both (moto
  checks no code, so any 6 digits do);
- the request becomes the REST proxy event (payload 1.0) with requestContext.identity filled as for an
  IAM caller, and the function's response becomes the HTTP response (502 if it fails or is malformed);
- bodies over `max_body_bytes` (API Gateway's 10 MB) get 413;
- `resource_policy` (the deployed policy document, as JSON): evaluated after the signature and before the
  integration (local/runtime/resource_policy.py); a request it denies gets 403 AccessDeniedException and
  never reaches the function. It takes over from `require_mfa` (the policy's own MFA deny applies);
- `validate_bodies`: the request validator with a JSON-object model on POST methods: a POST body that is
  not a JSON object gets 400 "Invalid request body" and never reaches the function;
- `access_log_group` with `access_log_format` ({"field": "$context.variable"}): one JSON line per request,
  refused ones included, written to that CloudWatch Logs group on the local AWS, as a stage's access logs;
- `integration_timeout` (seconds; the caller passes API Gateway's 29 s from the product's limits module,
  None: no limit) bounds the wait for the function: past it the client gets 504 "Endpoint request timed
  out" while the function runs on until it ends or its own timeout stops it, as in AWS.
Header names reach the handler in Title-Case (WSGI does not keep the client's case); Powertools looks
headers up case-insensitively.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.models import sts_backends

from .. import control
from ..calls import Call, add_listener
from ..identity import Caller, resolve_caller
from ..serving import stop_waitress
from . import resource_policy as policies
from .functions import FunctionRegistry, InvocationError

log = logging.getLogger("local.runtime.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024
SKEW = timedelta(minutes=5)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9\-;]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


# --- sessions assumed with MFA (moto does not record it) --------------------------------------------
_MFA_SESSIONS: set[str] = set()
_ACCESS_KEY_ID = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>|\"AccessKeyId\"\s*:\s*\"([^\"]+)\"")


def _record_mfa_session(call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
    if (call.operation.service, call.operation.name, status) != ("sts", "AssumeRole", 200):
        return
    form = dict(parse_qsl(call.body.decode("utf-8", "replace")))
    if form.get("SerialNumber") and form.get("TokenCode"):
        match = _ACCESS_KEY_ID.search(body)
        if match:
            _MFA_SESSIONS.add((match.group(1) or match.group(2)).decode())


add_listener(_record_mfa_session)
control.on_reset(_MFA_SESSIONS.clear)


@dataclass(frozen=True)
class _Key:
    """What the local AWS knows of an access key: its secret, and for a session its token and expiry."""

    secret: str
    caller: Caller
    token: str | None = None
    expiration: datetime | None = None
    mfa: bool = False


def _lookup(access_key_id: str) -> _Key | None:
    with control.STATE_LOCK:  # moto's state is read by its own request threads too
        account = get_account_id_from(access_key_id)
        iam = iam_backends[account]["aws"]
        key = iam.access_keys.get(access_key_id)
        if key is None:
            return None
        if key.role_arn:
            session = sts_backends[account]["global"].get_assumed_role_from_access_key(access_key_id)
            if session is None:
                return None
            return _Key(
                secret=session.secret_access_key,
                caller=resolve_caller(access_key_id),
                token=session.session_token,
                expiration=session.expiration.replace(tzinfo=UTC),
                mfa=access_key_id in _MFA_SESSIONS,
            )
        user = iam.users.get(key.user_name) if key.user_name else None
        if user is None or key.status != "Active" or key not in user.access_keys:
            return None
        return _Key(secret=key.secret_access_key, caller=resolve_caller(access_key_id))


# --- routes --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """`/clusters/{cluster}/grants/{id}`, optionally with a method (`GET /...`); `{name+}` is greedy."""

    method: str | None
    template: str

    @classmethod
    def parse(cls, spec: str) -> Route:
        method, _, template = spec.strip().rpartition(" ")
        return cls(method.strip().upper() or None, template)

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        if self.method not in (None, "ANY", method):
            return None
        parts = [p for p in self.template.split("/") if p]
        params: dict[str, str] = {}
        for i, part in enumerate(parts):
            if part.startswith("{") and part.endswith("+}"):
                if i >= len(segments):
                    return None
                params[part[1:-2]] = "/".join(segments[i:])
                return params
            if i >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segments[i]
            elif part != segments[i]:
                return None
        return params if len(parts) == len(segments) else None

    def specificity(self) -> tuple[int, ...]:
        # API Gateway prefers literal segments over {param}, and {param} over {proxy+}.
        return tuple(
            0 if p.endswith("+}") else 1 if p.startswith("{") else 2 for p in self.template.split("/")
        )


_TIMED_OUT = object()


class _Refused(Exception):
    def __init__(self, status: int, error_type: str, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.status, self.error_type, self.message, self.key = status, error_type, message, key


class _Verifier(SigV4Auth):
    """SigV4Auth that signs exactly the headers the client said it signed."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, "execute-api", region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed:
            if name not in request.headers:
                raise _Refused(403, "InvalidSignatureException", _MISMATCH)
            headers[name] = request.headers[name]
        return headers


_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
_INVALID_TOKEN = "The security token included in the request is invalid."


class LocalApiGateway:
    def __init__(
        self,
        registry: FunctionRegistry,
        function: str,
        routes: Sequence[str],
        *,
        stage: str = "prod",
        api_id: str = "localapi01",
        require_mfa: bool = False,
        max_body_bytes: int = MAX_BODY_BYTES,
        port: int = 0,
        host: str = "127.0.0.1",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        integration_timeout: float | None = None,
        resource_policy: Mapping[str, Any] | None = None,
        validate_bodies: bool = False,
        access_log_group: str | None = None,
        access_log_format: Mapping[str, str] | None = None,
    ) -> None:
        registry.get(function)
        self.integration_timeout = integration_timeout
        if resource_policy is not None:
            policies.check(resource_policy)
        self.resource_policy, self.validate_bodies = resource_policy, validate_bodies
        self.access_log_group, self.access_log_format = access_log_group, dict(access_log_format or {})
        self._logs: Any = None
        self._log_lock = threading.Lock()
        self.registry, self.function = registry, function
        self.routes = sorted((Route.parse(r) for r in routes), key=Route.specificity, reverse=True)
        self.region, self.account_id = registry.region, registry.account_id
        self.stage, self.api_id, self.require_mfa = stage, api_id, require_mfa
        self.max_body_bytes, self.clock = max_body_bytes, clock
        self._host, self._port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # --- serving -----------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """The stage's invoke URL, as API Gateway gives it (append the resource path)."""
        assert self._server is not None, "start() first"
        return f"http://{self._host}:{self._server.effective_port}/{self.stage}"

    def start(self) -> str:
        from waitress.server import create_server

        self._server = create_server(
            self, host=self._host, port=self._port, threads=8, ident="local-apigateway", channel_timeout=60
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="local-apigateway")
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        if self._server is None:
            return
        stop_waitress(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> LocalApiGateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- one request -------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        started = datetime.now(UTC)
        seen: dict[str, Any] = {}
        try:
            status, headers, body = self._handle(environ, request_id, seen)
            seen.setdefault("error", None)
        except _Refused as refused:
            status, body = refused.status, json.dumps({refused.key: refused.message}).encode()
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", refused.error_type)]
            seen["error"] = refused.message
        self._access_log(environ, request_id, started, status, len(body), seen)
        headers.append(("x-amzn-RequestId", request_id))
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_reason(status)}", headers)
        return [body]

    def _handle(
        self, environ: dict[str, Any], request_id: str, seen: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > self.max_body_bytes:
            raise _Refused(413, "RequestEntityTooLargeException", "Request Too Long")
        body = environ["wsgi.input"].read(length) if length else b""
        method = environ["REQUEST_METHOD"]
        # The path as sent (still percent-encoded): what the client signed.
        raw_path = environ.get("REQUEST_URI", environ.get("PATH_INFO", "/")).split("?", 1)[0]
        raw_query = environ.get("QUERY_STRING", "")
        headers = _headers(environ)

        route, path, params = self._route(method, raw_path)
        seen.update(resource=route.template, path=f"/{self.stage}{path}")
        key = self._authenticate(method, raw_path, raw_query, headers, body)
        identity = self._identity(key.caller, environ)
        seen["identity"] = identity
        if self.resource_policy is not None:
            self._authorize(key, method, path)
        elif self.require_mfa and not key.mfa:
            arn = (
                f"arn:aws:execute-api:{self.region}:********{self.account_id[-4:]}:{self.api_id}/{self.stage}"
                f"/{method}{path}"
            )
            message = (
                f"User: {key.caller.arn} is not authorized to perform: execute-api:Invoke on resource: {arn} "
                "with an explicit deny"
            )
            raise _Refused(403, "AccessDeniedException", message, key="Message")

        if self.validate_bodies and method == "POST" and not _json_object(body):
            raise _Refused(400, "BadRequestException", "Invalid request body")
        event = self._event(
            environ, request_id, method, route, path, params, raw_query, headers, body, identity
        )
        try:
            response = self._invoke(event)
            if response is _TIMED_OUT:
                log.info("%s %s: no answer within %s s", method, path, self.integration_timeout)
                headers = [("Content-Type", "application/json")]
                headers.append(("x-amzn-ErrorType", "InternalServerErrorException"))
                return 504, headers, b'{"message": "Endpoint request timed out"}'

            return _http_response(response, request_id)
        except (InvocationError, ValueError, TypeError, KeyError) as exc:
            log.info("%s %s: integration failed: %s", method, path, exc)
            return (
                502,
                [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InternalServerErrorException")],
                b'{"message": "Internal server error"}',
            )

    def _authorize(self, key: _Key, method: str, path: str) -> None:
        """The resource policy's decision for this caller; _Refused(403) unless it allows."""
        assert self.resource_policy is not None
        caller = key.caller
        context = {"aws:PrincipalArn": caller.principal_arn, "aws:PrincipalAccount": caller.account_id}
        if caller.type == "IAMUser":
            context["aws:username"] = caller.arn.rsplit("/", 1)[-1]
        elif "/aws-reserved/sso.amazonaws.com/" not in caller.principal_arn:
            # A role session carries the MFA key (true or false); long-term user keys and IAM Identity
            # Center sessions do not.
            context["aws:MultiFactorAuthPresent"] = "true" if key.mfa else "false"
        api = f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}"
        resource = f"{api}/{self.stage}/{method}{path}"
        decision = policies.evaluate(
            self.resource_policy, resource_arn=resource, api_arn_prefix=api, context=context
        )
        if decision.allowed:
            return
        masked = (
            f"arn:aws:execute-api:{self.region}:********{self.account_id[-4:]}:{self.api_id}/{self.stage}"
        )
        message = (
            f"User: {caller.arn} is not authorized to perform: execute-api:Invoke on resource: "
            f"{masked}/{method}{path}" + (" with an explicit deny" if decision.explicit_deny else "")
        )
        raise _Refused(403, "AccessDeniedException", message, key="Message")

    def _access_log(
        self,
        environ: dict[str, Any],
        request_id: str,
        started: datetime,
        status: int,
        length: int,
        seen: dict[str, Any],
    ) -> None:
        """One access-log line, as the stage's $context variables render it ("-" for what is unknown)."""
        if not self.access_log_group or not self.access_log_format:
            return
        identity = seen.get("identity") or {}
        values = {
            "$context.requestId": request_id,
            "$context.extendedRequestId": request_id,
            "$context.requestTime": started.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "$context.identity.sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
            "$context.identity.caller": identity.get("caller"),
            "$context.identity.userArn": identity.get("userArn"),
            "$context.identity.accountId": identity.get("accountId"),
            "$context.identity.user": identity.get("user"),
            "$context.identity.userAgent": environ.get("HTTP_USER_AGENT"),
            "$context.httpMethod": environ.get("REQUEST_METHOD"),
            "$context.resourcePath": seen.get("resource"),
            "$context.path": seen.get("path"),
            "$context.status": str(status),
            "$context.responseLength": str(length),
            "$context.responseLatency": str(int((datetime.now(UTC) - started).total_seconds() * 1000)),
            "$context.error.message": seen.get("error"),
            "$context.authorize.error": seen.get("error") if status == 403 else None,
        }
        line = {field: values.get(variable) or "-" for field, variable in self.access_log_format.items()}
        try:
            with self._log_lock:
                if self._logs is None:
                    self._logs = self.registry.client("logs")
                    with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                        self._logs.create_log_group(logGroupName=self.access_log_group)
                    with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                        self._logs.create_log_stream(
                            logGroupName=self.access_log_group, logStreamName=self.stage
                        )
                self._logs.put_log_events(
                    logGroupName=self.access_log_group,
                    logStreamName=self.stage,
                    logEvents=[{"timestamp": int(started.timestamp() * 1000), "message": json.dumps(line)}],
                )
        except Exception:  # a log that cannot be written never fails the request
            log.exception("access log not written")

    def _invoke(self, event: dict[str, Any]) -> Any:
        """The function's answer, or _TIMED_OUT past the integration timeout (the invocation runs on)."""
        if self.integration_timeout is None:
            return self.registry.invoke(self.function, event)
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(self.registry.invoke(self.function, event))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=run, daemon=True, name="apigateway-integration").start()
        try:
            return future.result(timeout=self.integration_timeout)
        except FutureTimeout:
            return _TIMED_OUT

    def _route(self, method: str, raw_path: str) -> tuple[Route, str, dict[str, str]]:
        prefix = f"/{self.stage}"
        if raw_path != prefix and not raw_path.startswith(prefix + "/"):
            raise _Refused(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        raw_segments = [s for s in raw_path[len(prefix) :].split("/") if s]
        segments = [unquote(s) for s in raw_segments]
        for route in self.routes:
            params = route.match(method, segments)
            if params is not None:
                return route, "/" + "/".join(segments), params
        raise _Refused(403, "MissingAuthenticationTokenException", "Missing Authentication Token")

    def _authenticate(
        self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes
    ) -> _Key:
        authorization = headers.get("authorization")
        if not authorization:
            raise _Refused(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        auth = _AUTH.match(authorization.strip())
        if auth is None:
            raise _Refused(
                403,
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. "
                f"Authorization={authorization}",
            )
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise _Refused(
                403,
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ) from None
        now = self.clock()
        stamp = "%Y%m%dT%H%M%SZ"
        if signed_at < now - SKEW:
            raise _Refused(
                403,
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {(now - SKEW):{stamp}} "
                f"({now:{stamp}} - 5 min.)",
            )
        if signed_at > now + SKEW:
            raise _Refused(
                403,
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {(now + SKEW):{stamp}} "
                f"({now:{stamp}} + 5 min.)",
            )
        if auth["service"] != "execute-api":
            raise _Refused(
                403,
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'execute-api'.",
            )
        if auth["region"] != self.region:
            raise _Refused(403, "InvalidSignatureException", "Credential should be scoped to a valid region.")
        if auth["date"] != amz_date[:8]:
            raise _Refused(
                403,
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{auth['date']}' != '{amz_date[:8]}', from '{amz_date}'.",
            )

        key = _lookup(auth["key"])
        token = headers.get("x-amz-security-token")
        if key is None or token != key.token:
            raise _Refused(403, "UnrecognizedClientException", _INVALID_TOKEN)
        if key.expiration is not None and key.expiration <= now:
            raise _Refused(
                403, "ExpiredTokenException", "The security token included in the request is expired"
            )

        # The payload hash is always the body's own: a client-supplied X-Amz-Content-SHA256 must agree.
        declared = headers.get("x-amz-content-sha256")
        if declared is not None and declared != sha256(body).hexdigest():
            raise _Refused(403, "InvalidSignatureException", _MISMATCH)
        signed = auth["signed"].split(";")
        if "host" not in signed:
            raise _Refused(403, "InvalidSignatureException", _MISMATCH)
        url = f"http://{headers.get('host', '')}{raw_path}" + (f"?{raw_query}" if raw_query else "")
        request = AWSRequest(
            method=method, url=url, headers={n: headers[n] for n in signed if n in headers}, data=body
        )
        request.context["timestamp"] = amz_date
        verifier = _Verifier(Credentials(auth["key"], key.secret, key.token), self.region, signed)
        canonical = verifier.canonical_request(request)
        expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, auth["signature"]):
            raise _Refused(403, "InvalidSignatureException", _MISMATCH)
        return key

    @staticmethod
    def _identity(caller: Caller, environ: dict[str, Any]) -> dict[str, Any]:
        return {
            "cognitoIdentityPoolId": None,
            "accountId": caller.account_id,
            "cognitoIdentityId": None,
            # IAM user: its unique id (AIDA...); assumed role: ROLEID:SESSION (AROA...:name).
            "caller": caller.principal_id,
            "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
            "principalOrgId": None,
            "accessKey": caller.access_key_id,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            # Assumed role: arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION, without the role's path.
            "userArn": caller.arn,
            "userAgent": environ.get("HTTP_USER_AGENT"),
            "user": caller.principal_id,
            "apiKey": None,
            "apiKeyId": None,
            "clientCert": None,
        }

    def _event(
        self,
        environ: dict[str, Any],
        request_id: str,
        method: str,
        route: Route,
        path: str,
        params: dict[str, str],
        raw_query: str,
        headers: dict[str, str],
        body: bytes,
        identity: dict[str, Any],
    ) -> dict[str, Any]:
        query = parse_qsl(raw_query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        titled = {_title(name): value for name, value in headers.items()}
        now = self.clock()
        try:
            text, encoded = (body.decode("utf-8"), False) if body else (None, False)
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        host = headers.get("host", "")
        return {
            "resource": route.template,
            "path": path,
            "httpMethod": method,
            "headers": titled,
            "multiValueHeaders": {name: [value] for name, value in titled.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": route.template,
                "resourcePath": route.template,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.stage}{path}",
                "accountId": self.account_id,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": self.stage,
                "domainPrefix": host.split(".", 1)[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": identity,
                "domainName": host,
                "apiId": self.api_id,
            },
            "body": text,
            "isBase64Encoded": encoded,
        }


def _json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return headers


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _http_response(response: Any, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy response as HTTP; anything else is the integration's failure (ValueError...)."""
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        raise ValueError(f"malformed Lambda proxy response: {response!r:.200}")
    headers: list[tuple[str, str]] = []
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers += [(name, str(v)) for v in values]
    for name, value in (response.get("headers") or {}).items():
        if name.lower() not in {n.lower() for n, _ in headers}:
            headers.append((name, str(value)))
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amz-apigw-id", request_id[:16]))
    body = response.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("the response body must be a string")
    data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return response["statusCode"], headers, data


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
