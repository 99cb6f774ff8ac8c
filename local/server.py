"""The local AWS server: moto's services behind a middleware that adds what moto lacks.

The middleware (1) serves the control API under `/_emulator/`, (2) names each AWS call with botocore's
models, (3) injects faults, and (4) tells listeners (the CloudTrail recorder) about every call and its
outcome. `install()` swaps our EKS and CloudTrail backends into moto before the first request.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.channel import ClientDisconnected

from . import control
from .calls import Call, notify
from .faults import FAULTS, NO_INJECTION, error_response
from .iam_policies import IAM_POLICIES
from .identity import parse_authorization, resolve_caller
from .operations import _service_model, resolve
from .serving import stop_waitress
from .strict import STRICT, NotYet


class ConnectionDropped(ClientDisconnected):
    """Raised by the middleware to close the connection without writing a response (commitThenDrop).

    waitress handles ClientDisconnected raised before any byte of the response is written by closing the
    connection, so the client sees the server hang up (botocore: ConnectionClosedError) and may retry.
    """


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Put the emulator's backends into moto (idempotent). Call before serving."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from . import (  # noqa: F401  (each installs itself)
            clock,
            cloudtrail,
            eks,
            event_rules,
            iam_policies,
            identity_center,
            ssm_events,
            ssm_writers,
            strict,
        )

        _installed = True


class Middleware:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        # moto resolves REST operations on the raw, still URL-encoded path, which it reads from werkzeug's
        # RAW_URI; waitress calls it REQUEST_URI.
        if "RAW_URI" not in environ and "REQUEST_URI" in environ:
            environ["RAW_URI"] = environ["REQUEST_URI"]
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return _respond(start_response, *control.dispatch(environ, body))

        call = self._describe(environ, path, body)
        injection, protocol = NO_INJECTION, ""
        if call is not None:
            protocol = _service_model(call.operation.service).metadata.get("protocol", "rest-json")
            # IAM for the roles whose policies are enforced, then throughput limits, a principal not yet known
            refusal = IAM_POLICIES.before_call(call, protocol) or STRICT.before_call(call)
            if refusal is not None:
                notify(call, *refusal)
                return _respond(start_response, *refusal)
            injection = FAULTS.before_call(call.operation, protocol)
            if injection.response is not None:
                notify(call, *injection.response)
                return _respond(start_response, *injection.response)

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers
            return lambda data: None

        # moto's backends are plain dicts and lists, not thread-safe (concurrent CreateRole calls can fail
        # with "dictionary changed size during iteration"), so calls into moto run one at a time. Injected
        # latency is slept above, outside the lock, so concurrent clients still overlap their waits.
        with control.STATE_LOCK:
            chunks = self.app(environ, capture)
            try:
                response_body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()
        status, headers = captured["status"], captured["headers"]
        if call is not None:
            # Listeners (CloudTrail) hear what the service did, also when the client is told otherwise below.
            notify(call, status, dict(headers), response_body)
        if injection.drop_after_commit:
            raise ConnectionDropped(f"{call.operation.name if call else path}: dropped after it committed")
        if injection.error_after_commit:
            return _respond(start_response, *error_response(injection.error_after_commit, protocol))
        if call is not None:
            try:  # eventual consistency: what was just written may not be read yet
                response_body = STRICT.after_call(call, status, response_body)
            except NotYet as not_yet:
                return _respond(start_response, *not_yet.response)
        return _respond(start_response, status, dict(headers), response_body)

    @staticmethod
    def _describe(environ: dict[str, Any], path: str, body: bytes) -> Call | None:
        auth = parse_authorization(environ.get("HTTP_AUTHORIZATION"))
        if auth is None:
            return None
        access_key, region, signing_service = auth
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        method = environ["REQUEST_METHOD"]
        # PATH_INFO arrives decoded; CloudTrail shows path parameters as sent, so use the raw URI.
        raw_path = environ.get("RAW_URI", path).split("?", 1)[0] or path
        operation = resolve(signing_service, method, raw_path, headers, body)
        if operation is None:
            return None
        return Call(
            operation=operation,
            region=region,
            caller=resolve_caller(access_key),
            method=method,
            path=raw_path,
            query_string=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
            user_agent=headers.get("user-agent", ""),
        )


def _respond(
    start_response: Callable[..., Any], status: int, headers: dict[str, str], body: bytes
) -> Iterable[bytes]:
    from http import HTTPStatus

    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
    headers["Content-Length"] = str(len(body))
    start_response(f"{status} {reason}", list(headers.items()))
    return [body]


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, with its host -> backend lookup cached.

    moto answers it by listing its own package directory on disk for every request; the answer for a host
    never changes while the server runs.
    """

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backend_for_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_for_host[host]
        except KeyError:
            backend = self._backend_for_host[host] = super().get_backend_for_host(host)
            return backend


def make_app() -> Middleware:
    install()
    return Middleware(_Dispatcher())


# Worker threads: every in-flight call holds one, also while it sleeps an injected latency, so this bounds
# how many concurrent clients see latency overlap (benchmarks run 10-32 at once).
THREADS = 48


class LocalAWS:
    """The local AWS on 127.0.0.1, in a background thread. `port=0` picks a free port.

    Served by waitress, which keeps HTTP/1.1 connections alive as AWS endpoints do: SDK connection pools
    reuse them instead of paying a TCP connect and a thread start per call.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", threads: int = THREADS) -> None:
        self._host, self._port, self._threads = host, port, threads
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{self._host}:{self._server.effective_port}"

    def _create(self) -> Any:
        from waitress.server import create_server

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under bench load
        return create_server(
            make_app(),
            host=self._host,
            port=self._port,
            threads=self._threads,
            ident="local-aws",
            connection_limit=512,
            channel_timeout=60,
        )

    def start(self) -> str:
        self._server = self._create()
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="local-aws")
        self._thread.start()
        return self.endpoint

    def serve_forever(self) -> None:
        self._server = self._create()
        try:
            self._server.run()
        finally:
            self._server.close()

    def stop(self) -> None:
        if self._server is not None:
            stop_waitress(self._server, self._thread)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalAWS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
