"""Lambda entry point of the break-glass API (API Gateway REST, AWS_IAM on every method).

Routes to the break-glass service; bodies and queries are parsed into models here, at the edge (a bad one
is answered by the service, which authorizes the caller first and audits every call). Errors are JSON
{"message"} with 400, 403, 404, 409, 413, 429 or 500. The correlation id is API Gateway's request id.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from ..core import breakglass as bg
from ..core.config import METRICS_NAMESPACE, SERVICE_NAME, TRACED_MODULES
from ..core.deadline import Deadline
from ..services.breakglass import API_SECONDS, BreakGlass, Call
from . import wiring

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME, patch_modules=TRACED_MODULES)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
app = APIGatewayRestResolver()
# A refused or bad call counts no metric, by design: not worth a warning on every one.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


def service() -> BreakGlass:
    """The service of this function's environment (built once per environment by the composition root)."""
    return wiring.breakglass(
        holder="break-glass-api", metric=wiring.powertools_metric(metrics), logger=logger
    )


def _serve(
    action: str, act: Callable[..., Any], *, cluster: str | None = None, parse: Any = None
) -> Response:
    breakglass = service()
    event = app.current_event
    request: object = None
    if parse is not None:
        try:
            request = parse(breakglass)
        except bg.ApiError as exc:
            request = exc
    identity = event.request_context.identity
    call = Call(
        action=action,
        method=event.http_method,
        path=event.path,
        identity=bg.Identity(
            user_arn=identity.user_arn,
            account_id=identity.account_id,
            caller_id=identity.caller,
            access_key=identity.access_key,
            source_ip=identity.source_ip,
            user_agent=identity.user_agent,
        ),
        request_id=event.request_context.request_id,
        cluster=cluster,
        query=dict(event.query_string_parameters or {}),
        body=event.body,
        write=event.http_method in ("POST", "DELETE"),
    )
    answer = breakglass.serve(call, request, act)
    return Response(answer.status, "application/json", json.dumps(answer.body, default=str))


def _body() -> object:
    event = app.current_event
    return bg.decode_body(event.body, base64_encoded=bool(event.is_base64_encoded))


@app.get("/clusters")
def clusters() -> Response:
    return _serve("clusters", lambda caller, _: service().clusters(caller))


@app.get("/clusters/<cluster>/drift")
def drift(cluster: str) -> Response:
    return _serve("drift", lambda caller, _: service().drift(caller, cluster), cluster=cluster)


def _deadline() -> Deadline:
    """The call's deadline: the function's remaining time, within API Gateway's 29 s."""
    return wiring.deadline(app.lambda_context, cap=API_SECONDS)


@app.post("/clusters/<cluster>/restore")
def restore(cluster: str) -> Response:
    return _serve(
        "restore",
        lambda caller, request: service().restore(caller, cluster, request, deadline=_deadline()),
        cluster=cluster,
        parse=lambda _: bg.parse_restore(_body()),
    )


@app.get("/clusters/<cluster>/grants")
def grants(cluster: str) -> Response:
    return _serve("grants", lambda caller, _: service().grants_of(caller, cluster), cluster=cluster)


@app.post("/clusters/<cluster>/grants")
def grant(cluster: str) -> Response:
    return _serve(
        "grant",
        lambda caller, request: service().grant(caller, cluster, request, deadline=_deadline()),
        cluster=cluster,
        parse=lambda it: bg.parse_grant(
            _body(), allowed_policies=it.config.grant_policies, max_minutes=it.config.max_grant_minutes
        ),
    )


@app.delete("/clusters/<cluster>/grants/<grant_id>")
def revoke(cluster: str, grant_id: str) -> Response:
    event = app.current_event
    return _serve(
        "revoke",
        lambda caller, request: service().revoke(
            caller, cluster, grant_id, deadline=_deadline(), reason=request.reason
        ),
        cluster=cluster,
        parse=lambda _: bg.parse_revoke(event.body, base64_encoded=bool(event.is_base64_encoded)),
    )


@app.post("/clusters/<cluster>/held-admins/release")
def release_held(cluster: str) -> Response:
    return _serve(
        "release-admin",
        lambda caller, request: service().release_held(caller, cluster, request),
        cluster=cluster,
        parse=lambda _: bg.parse_release(_body()),
    )


@app.get("/audit")
def audit() -> Response:
    return _serve(
        "audit",
        lambda caller, query: service().audit_page(caller, query),
        parse=lambda _: bg.parse_audit_query(app.current_event.query_string_parameters),
    )


@app.not_found
def not_found(_: Exception) -> Response:
    event = app.current_event
    message = f"no route {event.http_method} {event.path}"
    return Response(404, "application/json", json.dumps({"message": message}))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
