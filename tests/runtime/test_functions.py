"""The function registry: context, invocation, timeouts, environment, execution role, async retries."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger

from local.runtime import FunctionNotFound, FunctionRegistry, FunctionTimeout, InvocationError, LambdaContext

from .conftest import ACCOUNT, REGION, FakeClock, drain_queue, queue_arn


def test_context_counts_down_to_the_deadline_on_its_clock(clock: FakeClock) -> None:
    context = LambdaContext(
        "f", "arn:aws:lambda:us-east-1:123456789012:function:f", "id", deadline=clock() + 3, clock=clock
    )
    assert context.get_remaining_time_in_millis() == 3000
    clock.advance(2.5)
    assert context.get_remaining_time_in_millis() == 500
    clock.advance(10)
    assert context.get_remaining_time_in_millis() == 0


def test_invoke_passes_the_event_and_a_fresh_context_and_returns_the_result(
    registry: FunctionRegistry,
) -> None:
    seen: list[tuple[Any, LambdaContext]] = []

    def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
        seen.append((event, context))
        return {"echo": event}

    function = registry.register("echo", handler, timeout=30, memory_mb=256)
    assert registry.invoke("echo", {"a": 1}) == {"echo": {"a": 1}}
    assert registry.invoke(function.arn, [1]) == {"echo": [1]}

    (first_event, first), (_, second) = seen
    assert first_event == {"a": 1}
    assert first.function_name == "echo"
    assert first.invoked_function_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:echo"
    assert first.memory_limit_in_mb == 256
    assert first.function_version == "$LATEST"
    assert first.log_group_name == "/aws/lambda/echo"
    assert 0 < first.get_remaining_time_in_millis() <= 30_000
    assert first.aws_request_id != second.aws_request_id


def test_powertools_logger_reads_the_context(
    registry: FunctionRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = Logger(service="svc")

    @logger.inject_lambda_context
    def handler(event: Any, context: Any) -> None:
        logger.info("hello")

    registry.register("logged", handler)
    registry.invoke("logged", {})
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["function_name"] == "logged"
    assert line["function_arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:logged"
    assert line["function_request_id"]


def test_unknown_function_is_not_found(registry: FunctionRegistry) -> None:
    with pytest.raises(FunctionNotFound):
        registry.invoke("nope", {})
    registry.register("f", lambda e, c: None)
    with pytest.raises(FunctionNotFound):  # right name, another account's ARN
        registry.invoke("arn:aws:lambda:us-east-1:999999999999:function:f", {})


def test_a_handler_exception_is_an_invocation_error(registry: FunctionRegistry) -> None:
    def handler(event: Any, context: Any) -> None:
        raise ValueError("bad input")

    registry.register("boom", handler)
    with pytest.raises(InvocationError) as err:
        registry.invoke("boom", {})
    assert (err.value.error_type, err.value.error_message) == ("ValueError", "bad input")


def test_a_run_past_the_timeout_fails_and_its_result_is_lost(aws: Any, clock: FakeClock) -> None:
    registry = FunctionRegistry(endpoint_url=aws.endpoint_url, clock=clock)

    def slow(event: Any, context: LambdaContext) -> str:
        clock.advance(event["seconds"])
        return "done"

    registry.register("slow", slow, timeout=10)
    assert registry.invoke("slow", {"seconds": 9}) == "done"
    with pytest.raises(FunctionTimeout, match="Task timed out after 10.00 seconds"):
        registry.invoke("slow", {"seconds": 11})


def test_a_result_that_is_not_json_is_an_error(registry: FunctionRegistry) -> None:
    registry.register("odd", lambda e, c: {1, 2})
    with pytest.raises(InvocationError) as err:
        registry.invoke("odd", {})
    assert err.value.error_type == "Runtime.MarshalError"


def test_the_event_is_a_copy(registry: FunctionRegistry) -> None:
    registry.register("mutate", lambda e, c: e.update(x=2))
    event = {"x": 1}
    registry.invoke("mutate", event)
    assert event == {"x": 1}


def test_environment_applies_for_the_call_only(
    registry: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARED", "outside")
    monkeypatch.delenv("ONLY_INSIDE", raising=False)
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> None:
        seen.update({k: os.environ.get(k) for k in ("SHARED", "ONLY_INSIDE", "AWS_LAMBDA_FUNCTION_NAME")})

    registry.register("env", handler, environment={"SHARED": "inside", "ONLY_INSIDE": "yes"})
    registry.invoke("env", {})
    assert seen == {"SHARED": "inside", "ONLY_INSIDE": "yes", "AWS_LAMBDA_FUNCTION_NAME": "env"}
    assert os.environ["SHARED"] == "outside"
    assert "ONLY_INSIDE" not in os.environ


def test_functions_with_different_environments_never_run_at_once(registry: FunctionRegistry) -> None:
    # Two handlers that wait for each other at a barrier: only possible if both run at the same time.
    barrier = threading.Barrier(2, timeout=0.5)
    seen: dict[str, list[str | None]] = {"a": [], "b": []}

    def handler(event: Any, context: Any) -> None:
        name = event["name"]
        seen[name].append(os.environ.get("WHO"))
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        seen[name].append(os.environ.get("WHO"))

    registry.register("a", handler, environment={"WHO": "a"})
    registry.register("b", handler, environment={"WHO": "b"})
    threads = [threading.Thread(target=registry.invoke, args=(n, {"name": n})) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert barrier.broken  # they never met
    assert seen == {"a": ["a", "a"], "b": ["b", "b"]}


def test_invocations_of_one_function_do_run_at_once(registry: FunctionRegistry) -> None:
    barrier = threading.Barrier(2, timeout=10)
    registry.register("same", lambda e, c: barrier.wait(), environment={"WHO": "same"})
    threads = [threading.Thread(target=registry.invoke, args=("same", {})) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not barrier.broken


def test_a_function_with_a_role_runs_with_that_roles_session(registry: FunctionRegistry) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="guard-fn", Path="/service/", AssumeRolePolicyDocument="{}")["Role"]

    def whoami(event: Any, context: Any) -> str:
        return str(boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"])

    registry.register("reconciler", whoami, role_arn=role["Arn"])
    assert registry.invoke("reconciler", {}) == f"arn:aws:sts::{ACCOUNT}:assumed-role/guard-fn/reconciler"
    assert "AWS_SESSION_TOKEN" not in os.environ


def test_async_invocation_retries_twice_then_dead_letters(registry: FunctionRegistry, sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="fn-dlq")["QueueUrl"]
    calls: list[Any] = []

    def failing(event: Any, context: Any) -> None:
        calls.append(event)
        raise RuntimeError("always")

    registry.register("failing", failing, dead_letter_queue_arn=queue_arn(sqs, dlq))
    result = registry.invoke_async("failing", {"n": 1})
    assert (result.attempts, result.succeeded, result.dead_lettered) == (3, False, True)
    assert calls == [{"n": 1}] * 3
    (message,) = drain_queue(sqs, dlq)
    assert json.loads(message["Body"]) == {"n": 1}
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "always"
    assert message["MessageAttributes"]["RequestID"]["StringValue"] == result.error.request_id  # type: ignore[union-attr]


def test_async_invocation_stops_retrying_once_it_succeeds(registry: FunctionRegistry) -> None:
    calls: list[int] = []

    def flaky(event: Any, context: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("once")

    registry.register("flaky", flaky, max_async_retries=1)
    result = registry.invoke_async("flaky", {})
    assert (result.attempts, result.succeeded) == (2, True)


def test_async_invocation_of_an_unknown_function_is_the_callers_failure(registry: FunctionRegistry) -> None:
    with pytest.raises(FunctionNotFound):
        registry.invoke_async("missing", {})
