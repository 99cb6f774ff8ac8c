"""A cached boto3 client factory: warm Lambdas reuse clients, tests and the local runner redirect them.

boto3 itself honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) when no endpoint is given, which
is how the local AWS is reached. Retries are botocore's "standard" mode: exponential backoff with jitter on
throttling and 5xx errors, so no code in this package hand-writes a retry loop for those. Every client
carries the service's app id in its user agent (`app/eks-access-guard`), so its calls are labelled as the
guard's in CloudTrail (a label, not proof: the intake trusts only the service's own roles).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from ..core.config import APP_ID

MAX_ATTEMPTS = 8  # in all, the first attempt included
# The CLI's bound on an unreachable endpoint: 2 tries of at most 3 s each, and botocore's backoff (<= 1 s)
# between them, so the operator hears "cannot connect to URL" within FAIL_FAST_SECONDS.
CONNECT_TIMEOUT_SECONDS = 3
CONNECT_ATTEMPTS = 2
FAIL_FAST_SECONDS = 10

_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Any] = {}
_sessions: dict[tuple[str | None, str | None], boto3.Session] = {}
# botocore's service models, read from disk once per process and shared by every session made here: a
# session per access key (the local runner runs each function under its role's keys) would read them again.
# (made with the first session, not at import: a Lambda's cold start pays for it only when it makes a client)
_models: Any = None


def _session(profile: str | None) -> boto3.Session:
    global _models
    core = botocore.session.Session()
    if _models is None:
        _models = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _models)
    return boto3.Session(botocore_session=core, profile_name=profile)


def client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_pool_connections: int = 10,
    fail_fast: bool = False,
) -> Any:
    """The (cached) boto3 client for `service`; same arguments and environment -> same client object.

    `fail_fast` (the CLI): an endpoint that cannot be connected to is reported within FAIL_FAST_SECONDS
    (a short connect timeout, CONNECT_ATTEMPTS tries) instead of after a minute of retries; throttling and
    5xx answers are still retried MAX_ATTEMPTS times."""
    key = (
        service,
        region,
        endpoint_url,
        profile,
        max_pool_connections,
        fail_fast,
        MAX_ATTEMPTS,  # every input of the client's config: a client made under another retry budget differs
        # boto3 reads these at creation time: a client made under another endpoint or other credentials
        # (the local runner runs each handler under its role's session) must not be reused.
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
    )
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        # A session keeps the credentials it first resolves: one per profile and access key.
        session_key = (profile, os.environ.get("AWS_ACCESS_KEY_ID"))
        session = _sessions.get(session_key)
        if session is None:
            session = _session(profile)
            _sessions[session_key] = session
        config = Config(
            retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
            max_pool_connections=max_pool_connections,
            user_agent_appid=APP_ID,
            **({"connect_timeout": CONNECT_TIMEOUT_SECONDS} if fail_fast else {}),
        )
        made = session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
        if fail_fast:
            # Runs before botocore's retry handler: after CONNECT_ATTEMPTS failed connections, give up.
            prefix = made.meta.service_model.endpoint_prefix
            made.meta.events.register_first(f"needs-retry.{prefix}", _give_up)
        _cache[key] = made
        return made


def _give_up(attempts: int = 0, caught_exception: Exception | None = None, **_: Any) -> None:
    connecting = isinstance(caught_exception, EndpointConnectionError | ConnectTimeoutError)
    if connecting and caught_exception is not None and attempts >= CONNECT_ATTEMPTS:
        raise caught_exception


def clear_cache() -> None:
    """Forget every client and session (tests; credential or endpoint changes)."""
    with _lock:
        _cache.clear()
        _sessions.clear()


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call ("" when the response carries none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))
