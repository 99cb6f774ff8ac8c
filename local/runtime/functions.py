"""Lambda functions run locally: the context object, the registry, and how one invocation runs.

Two isolations (`FunctionRegistry(isolation=...)`):
- "process" (what `python -m local serve` runs): a function registered by its handler's import path
  ("package.module.handler") runs in worker processes, one invocation at a time each, as warm Lambda
  execution environments (local/runtime/worker.py). Invocations that overlap get more workers; different
  functions run at the same time. An invocation that outlives its timeout has its worker killed
  (SIGKILL: no `finally`, no cleanup, what it left half done stays half done) and answers
  Sandbox.Timedout; the next invocation starts a fresh worker (a cold start: its import is Lambda's init
  phase, not counted in the timeout). The context's get_remaining_time_in_millis() counts down to the
  real deadline. The worker's environment is the function's (and its role's keys), not this process's.
- "inline" (the default, for fast tests): handlers run in this process, in the caller's thread; a
  callable handler always runs so, whatever the isolation. A run past its timeout is not stopped (a
  thread cannot be): it finishes, and its result is then discarded as timed out. Overlapping invocations
  of one function share its module state (a Powertools batch processor, caches), which Lambda's separate
  environments never do: tests of concurrency belong in "process".

A function is a plain `handler(event, context)` callable with the settings Lambda gives it: a timeout,
environment variables, memory size, an execution role, and (for asynchronous invocations) a retry count
and a dead-letter queue. Every invocation gets a fresh `LambdaContext`.

Environment variables are applied to `os.environ` for the duration of a call, because handlers and the
libraries they use (boto3, Powertools) read `os.environ`. The environment is process-wide, so the
registry lets invocations that need the *same* environment run together and makes the others wait (see
`_EnvironmentGate`). What a process reads once is out of its reach: values read at import time (a
module-level `Logger()` reading POWERTOOLS_SERVICE_NAME) must be set before the handler's module is
imported, and boto3 clients a handler caches across calls keep the credentials and region they were made
with (boto3's default session itself is made afresh for each function's environment).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

log = logging.getLogger("local.runtime")

Handler = Callable[[Any, Any], Any]
Clock = Callable[[], float]
ISOLATIONS = ("inline", "process")
# Lambda's init phase has its own limit (10 s); a loaded 2-core machine imports boto3 and Powertools slowly.
INIT_TIMEOUT_SECONDS = 60.0
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
# What a worker inherits from this process: how to run Python, nothing of AWS's or the service's settings.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([^:]+)(?::[^:]+)?$")


@dataclass
class LambdaContext:
    """The context object of the Python runtime, with the attributes Powertools and handlers read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    deadline: float  # on `clock`: when the invocation times out
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    clock: Clock = field(default=time.monotonic, repr=False)
    identity: Any = None  # mobile-SDK callers only
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


class FunctionNotFound(LookupError):
    """No function of that name is registered (Lambda's ResourceNotFoundException)."""


class InvocationError(RuntimeError):
    """The function failed: its handler raised, or it ran past its timeout."""

    def __init__(self, function_name: str, request_id: str, error_type: str, message: str) -> None:
        super().__init__(f"{function_name} ({request_id}): {error_type}: {message}")
        self.function_name, self.request_id = function_name, request_id
        self.error_type, self.error_message = error_type, message


class FunctionTimeout(InvocationError):
    pass


@dataclass(frozen=True)
class Function:
    name: str
    handler: Handler | str  # a callable (runs inline), or its import path "module.attribute"
    region: str
    account_id: str
    timeout: float = 3.0  # seconds; Lambda's default
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = 128
    # Credentials the handler runs with, from AssumeRole on the local AWS (None: the process's own).
    role_arn: str | None = None
    # Asynchronous invocations (EventBridge Scheduler's): retries after a function error, then the DLQ.
    max_async_retries: int = 2
    dead_letter_queue_arn: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"

    @property
    def handler_path(self) -> str | None:
        return self.handler if isinstance(self.handler, str) else None


@dataclass(frozen=True)
class AsyncResult:
    """An asynchronous invocation's outcome: the attempts made, and the last error if all failed."""

    function_name: str
    attempts: int
    error: InvocationError | None = None
    dead_lettered: bool = False

    @property
    def succeeded(self) -> bool:
        return self.error is None


class _EnvironmentGate:
    """Applies one function's environment to os.environ at a time.

    Invocations with an identical environment share it (concurrent batches of one function run together);
    an invocation needing a different one waits until the current holders finish, then the original values
    come back. A handler that invokes a function with another environment from its own thread would wait
    for itself, so that is refused.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._current: tuple[tuple[str, str], ...] | None = None
        self._holders = 0
        self._saved: dict[str, str | None] = {}
        self._saved_session: boto3.Session | None = None
        self._local = threading.local()

    @contextmanager
    def applied(self, environment: Mapping[str, str]) -> Iterator[None]:
        key = tuple(sorted(environment.items()))
        held = getattr(self._local, "key", None)
        if held is not None and held != key:
            raise RuntimeError("in-process invocation of a function with another environment, from a handler")
        with self._cond:
            self._cond.wait_for(lambda: self._holders == 0 or self._current == key)
            if self._holders == 0:
                self._current = key
                self._saved = {name: os.environ.get(name) for name in environment}
                os.environ.update(environment)
                # boto3's default session caches the credentials it first resolved; the handler must get
                # one made from its own environment (its role's keys), as in its own Lambda process.
                self._saved_session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, None
            self._holders += 1
        self._local.key = key
        try:
            yield
        finally:
            self._local.key = held
            with self._cond:
                self._holders -= 1
                if self._holders == 0:
                    for name, value in self._saved.items():
                        if value is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = value
                    boto3.DEFAULT_SESSION = self._saved_session
                    self._current = None
                    self._cond.notify_all()


_GATE = _EnvironmentGate()


def _environ_copy(self: Any) -> dict[str, str]:
    """os.environ.copy() that tolerates a variable removed while it copies. The gate above gives in-process
    functions their environments by changing os.environ (in Lambda, each process's own); botocore copies
    os.environ whenever it makes a client, and the stock copy (its keys, then each value) raised KeyError
    when a function's environment ended between the two in another thread."""
    copied = {}
    for key in list(self._data):
        value = self._data.get(key)
        if value is not None:
            copied[self.decodekey(key)] = self.decodevalue(value)
    return copied


os._Environ.copy = _environ_copy  # type: ignore[attr-defined,method-assign]


class _Worker:
    """One execution environment: a worker process, its request pipe (stdin) and its answer pipe."""

    def __init__(self, function: Function, environment: dict[str, str], expires: float | None) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(  # noqa: S603 (our own worker script, our own interpreter)
                [sys.executable, _WORKER, str(function.handler_path), str(write_fd)],
                stdin=subprocess.PIPE,
                env=environment,
                pass_fds=(write_fd,),
                close_fds=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.function = function
        self.key = tuple(sorted(environment.items()))
        self.expires = expires  # its role session's expiry (epoch seconds): retired before then
        self._fd = read_fd
        self._buffer = b""

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, timeout: float) -> dict[str, Any] | None:
        """The next answer line; None if none came within `timeout` s; EOFError if the worker died."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._fd, 65536)
            if not chunk:
                raise EOFError(f"exited with status {self.process.wait()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)  # type: ignore[no-any-return]

    def kill(self) -> None:
        """Stop it now: SIGKILL, as Lambda stops an environment whose invocation timed out."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)


class FunctionRegistry:
    """Function name or ARN -> Function; runs invocations the way Lambda does, in this process.

    `endpoint_url` (default: boto3's resolution, so AWS_ENDPOINT_URL) is the local AWS the registry uses
    for its own calls: AssumeRole for execution roles, SendMessage to dead-letter queues.
    `clock` times inline invocations (timeouts, get_remaining_time_in_millis); tests pass a fake one.
    Worker processes ("process" isolation, see the module's docstring) are timed on real time; `close()`
    stops them.
    """

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT,
        endpoint_url: str | None = None,
        clock: Clock = time.monotonic,
        isolation: str = "inline",
    ) -> None:
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation is one of {', '.join(ISOLATIONS)}, not {isolation!r}")
        self.region, self.account_id, self.clock = region, account_id, clock
        self.isolation = isolation
        self._endpoint_url = endpoint_url
        self._functions: dict[str, Function] = {}
        self._credentials: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._idle: dict[str, list[_Worker]] = {}
        self._busy: set[_Worker] = set()
        self._resolved: dict[str, Handler] = {}
        self.cold_starts = 0  # workers started (each a cold start)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self._endpoint_url)

    # --- registration ------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        handler: Handler | str,
        *,
        timeout: float = 3.0,
        environment: Mapping[str, str] | None = None,
        memory_mb: int = 128,
        role_arn: str | None = None,
        max_async_retries: int = 2,
        dead_letter_queue_arn: str | None = None,
    ) -> Function:
        if not 0 <= max_async_retries <= 2:
            raise ValueError("max_async_retries is 0, 1 or 2 (Lambda's MaximumRetryAttempts)")
        function = Function(
            name=name,
            handler=handler,
            region=self.region,
            account_id=self.account_id,
            timeout=timeout,
            environment=dict(environment or {}),
            memory_mb=memory_mb,
            role_arn=role_arn,
            max_async_retries=max_async_retries,
            dead_letter_queue_arn=dead_letter_queue_arn,
        )
        with self._lock:
            self._functions[name] = function
            retired = self._idle.pop(name, [])
        for worker in retired:  # a new version: new environments
            worker.kill()
        return function

    def get(self, name_or_arn: str) -> Function:
        """By name, or by ARN (a version or alias qualifier is ignored: there is one version, $LATEST)."""
        name = name_or_arn
        match = _FUNCTION_ARN.match(name_or_arn)
        if match:
            region, account, name = match.groups()
            if (region, account) != (self.region, self.account_id):
                raise FunctionNotFound(f"Function not found: {name_or_arn}")
        try:
            return self._functions[name]
        except KeyError:
            raise FunctionNotFound(f"Function not found: {name_or_arn}") from None

    # --- invocation --------------------------------------------------------------------------------
    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """A synchronous invocation (RequestResponse): the handler's result, or InvocationError."""
        function = self.get(name_or_arn)
        request_id = str(uuid.uuid4())
        start = self.clock()
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=name_or_arn if name_or_arn.startswith("arn:") else function.arn,
            aws_request_id=request_id,
            deadline=start + function.timeout,
            memory_limit_in_mb=function.memory_mb,
            log_group_name=f"/aws/lambda/{function.name}",
            log_stream_name=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            clock=self.clock,
        )
        # The event crosses a JSON boundary in Lambda: the handler gets its own copy, never our objects.
        event = json.loads(json.dumps(event))
        if function.handler_path is not None and self.isolation == "process":
            return self._invoke_in_worker(function, context, event)
        with _GATE.applied(self._environment(function)):
            try:
                result = self._callable(function)(event, context)
            except Exception as exc:
                log.info("%s failed: %s", function.name, "".join(traceback.format_exception_only(exc)))
                raise InvocationError(function.name, request_id, type(exc).__name__, str(exc)) from exc
        # Lambda would have stopped the handler at its deadline; a thread cannot be stopped, so the run
        # finishes and is then treated as Lambda treats it: timed out, its result lost.
        elapsed = self.clock() - start
        if elapsed > function.timeout:
            message = f"Task timed out after {function.timeout:.2f} seconds"
            raise FunctionTimeout(function.name, request_id, "Sandbox.Timedout", message)
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            raise InvocationError(function.name, request_id, "Runtime.MarshalError", str(exc)) from exc

    def _callable(self, function: Function) -> Handler:
        if not isinstance(function.handler, str):
            return function.handler
        resolved = self._resolved.get(function.handler)
        if resolved is None:  # imported at its first invocation, under its environment, as Lambda's init
            import importlib

            module, _, attribute = function.handler.rpartition(".")
            resolved = self._resolved[function.handler] = getattr(importlib.import_module(module), attribute)
        return resolved

    def _invoke_in_worker(self, function: Function, context: LambdaContext, event: Any) -> Any:
        worker = self._worker(function, context.aws_request_id)
        deadline = time.time() + function.timeout
        try:
            worker.send(
                {
                    "event": event,
                    "requestId": context.aws_request_id,
                    "functionName": function.name,
                    "invokedFunctionArn": context.invoked_function_arn,
                    "deadline": deadline,
                    "memoryLimitInMB": function.memory_mb,
                    "logGroupName": context.log_group_name,
                    "logStreamName": context.log_stream_name,
                }
            )
            answer = worker.answer(function.timeout)
        except (EOFError, OSError, ValueError) as exc:  # died mid-run (killed, crashed, garbled its answer)
            self._retire(worker)
            error = InvocationError(function.name, context.aws_request_id, "Runtime.ExitError", str(exc))
            raise error from exc
        if answer is None:
            self._retire(worker)
            log.info("%s (%s): killed at its timeout", function.name, context.aws_request_id)
            message = f"Task timed out after {function.timeout:.2f} seconds"
            raise FunctionTimeout(function.name, context.aws_request_id, "Sandbox.Timedout", message)
        self._release(worker)
        if "ok" in answer:
            return answer["ok"]
        log.info("%s failed: %s: %s", function.name, answer.get("errorType"), answer.get("errorMessage"))
        raise InvocationError(
            function.name,
            context.aws_request_id,
            str(answer.get("errorType")),
            str(answer.get("errorMessage")),
        )

    def _worker(self, function: Function, request_id: str) -> _Worker:
        """An idle warm worker of this function, or a new one (its init run, not counted in the timeout)."""
        environment = self._worker_environment(function)
        key = tuple(sorted(environment.items()))
        with self._lock:
            idle = self._idle.get(function.name, [])
            while idle:
                worker = idle.pop()
                if worker.key == key and worker.process.poll() is None:
                    self._busy.add(worker)
                    return worker
                worker.kill()  # another environment (new role keys, new settings): retired
        expires = None
        if function.role_arn:
            expires = self._credentials[function.name]["Expiration"].timestamp()
        worker = _Worker(function, environment, expires)
        with self._lock:
            self._busy.add(worker)
            self.cold_starts += 1
        try:
            ready = worker.answer(INIT_TIMEOUT_SECONDS)
        except (EOFError, ValueError) as exc:
            ready = {"errorType": "Runtime.ExitError", "errorMessage": str(exc)}
        if ready is None or not ready.get("ready"):
            self._retire(worker)
            ready = ready or {"errorType": "Runtime.InitTimeout", "errorMessage": "init timed out"}
            error_type, message = str(ready["errorType"]), str(ready["errorMessage"])
            raise InvocationError(function.name, request_id, error_type, message)
        return worker

    def _worker_environment(self, function: Function) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if k in _INHERITED}
        # The worker imports what this process imports (the product from its source, the venv's packages).
        environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        environment["PYTHONUNBUFFERED"] = "1"
        if not function.role_arn:  # no role: the process's own credentials, as inline
            environment.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
        if self._endpoint_url and "AWS_ENDPOINT_URL" not in function.environment:
            environment["AWS_ENDPOINT_URL"] = self._endpoint_url
        environment.update(self._environment(function))
        return environment

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            current = self._functions.get(worker.function.name)
            if current is worker.function and (worker.expires is None or worker.expires - time.time() > 300):
                self._idle.setdefault(worker.function.name, []).append(worker)
                return
        worker.kill()

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()

    def workers(self, name: str | None = None) -> int:
        """Worker processes alive (of function `name`, or of all)."""
        with self._lock:
            every = [w for ws in self._idle.values() for w in ws] + list(self._busy)
        return sum(1 for w in every if (name is None or w.function.name == name) and w.process.poll() is None)

    def close(self) -> None:
        """Stop every worker process (idle ones, and those still running an invocation)."""
        with self._lock:
            every = [w for ws in self._idle.values() for w in ws] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for worker in every:
            worker.kill()

    def invoke_async(self, name_or_arn: str, event: Any) -> AsyncResult:
        """An asynchronous invocation (Event), as EventBridge Scheduler makes.

        Raises FunctionNotFound if there is no such function: that is the caller's delivery failure. A
        function error is Lambda's to handle: it retries `max_async_retries` times (at once here; Lambda
        waits one, then two minutes), then sends the event to the function's dead-letter queue, if any.
        """
        function = self.get(name_or_arn)
        error: InvocationError | None = None
        attempts = 0
        for _ in range(1 + function.max_async_retries):
            attempts += 1
            try:
                self.invoke(name_or_arn, event)
                return AsyncResult(function.name, attempts)
            except InvocationError as exc:
                error = exc
        assert error is not None
        dead_lettered = False
        if function.dead_letter_queue_arn:
            self._dead_letter(function.dead_letter_queue_arn, event, error)
            dead_lettered = True
        else:
            log.warning("%s: event dropped after %d attempts: %s", function.name, attempts, error)
        return AsyncResult(function.name, attempts, error, dead_lettered)

    def _dead_letter(self, queue_arn: str, event: Any, error: InvocationError) -> None:
        # Lambda's DLQ message: the event as the body, the failure in message attributes.
        sqs = self.client("sqs")
        sqs.send_message(
            QueueUrl=queue_url(sqs, queue_arn),
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": error.request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": error.error_message[:1024] or "-"},
            },
        )

    def _environment(self, function: Function) -> dict[str, str]:
        environment = {
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
        }
        if function.role_arn:
            environment.update(self._role_credentials(function))
        environment.update(function.environment)
        return environment

    def _role_credentials(self, function: Function) -> dict[str, str]:
        # Lambda gives the handler its execution role's session, named after the function; one session is
        # reused until shortly before it expires, as Lambda reuses one per execution environment.
        assert function.role_arn is not None
        with self._lock:
            cached = self._credentials.get(function.name)
            if cached is None or cached["Expiration"].timestamp() - time.time() < 300:
                cached = self.client("sts").assume_role(
                    RoleArn=function.role_arn, RoleSessionName=function.name
                )["Credentials"]
                self._credentials[function.name] = cached
        return {
            "AWS_ACCESS_KEY_ID": cached["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": cached["SecretAccessKey"],
            "AWS_SESSION_TOKEN": cached["SessionToken"],
        }


def queue_url(sqs: Any, queue_arn: str) -> str:
    """The URL of the queue with this ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
