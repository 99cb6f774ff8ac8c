"""Functions in worker processes, as Lambda runs them: stopped at their timeout with what they left half done
left so, a context that counts down to the real deadline, warm reuse, their own environment, concurrency.

The handlers live in tests/runtime/workload.py and are registered by their import path.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from local.runtime import FunctionRegistry, FunctionTimeout, InvocationError

from .conftest import ACCOUNT, REGION

WORKLOAD = "runtime.workload"


@pytest.fixture
def workers(aws: Any) -> Any:
    registry = FunctionRegistry(
        region=REGION, account_id=ACCOUNT, endpoint_url=aws.endpoint_url, isolation="process"
    )
    yield registry
    registry.close()


def test_a_run_past_its_timeout_is_killed_and_what_it_left_half_done_stays_half_done(
    workers: FunctionRegistry, tmp_path: Path
) -> None:
    # Given a handler that writes "started", sleeps 3 s, writes "finished", and cleans up in a finally
    workers.register("half", f"{WORKLOAD}.half_done", timeout=1)
    trace = tmp_path / "trace"
    # When it runs with a 1 s timeout
    started = time.monotonic()
    with pytest.raises(FunctionTimeout) as raised:
        workers.invoke("half", {"path": str(trace), "sleep": 3})
    # Then it is stopped at 1 s (not when it would have finished), as Lambda's Sandbox.Timedout
    assert 1.0 <= time.monotonic() - started < 2.5
    assert raised.value.error_type == "Sandbox.Timedout"
    assert raised.value.error_message == "Task timed out after 1.00 seconds"
    # and nothing of it runs afterwards: no "finished", no finally block
    time.sleep(2.5)
    assert trace.read_text() == "started\n"
    assert workers.workers("half") == 0


def test_the_next_invocation_after_a_timeout_gets_a_fresh_environment(
    workers: FunctionRegistry, tmp_path: Path
) -> None:
    workers.register("remaining", f"{WORKLOAD}.remaining", timeout=1)
    first = workers.invoke("remaining", {})
    with pytest.raises(FunctionTimeout):
        workers.invoke("remaining", {"sleep": 5})
    after = workers.invoke("remaining", {})
    assert after["pid"] != first["pid"]
    assert workers.cold_starts == 2


def test_the_context_counts_down_to_the_real_deadline(workers: FunctionRegistry) -> None:
    workers.register("remaining", f"{WORKLOAD}.remaining", timeout=5)
    answer = workers.invoke("remaining", {"sleep": 1.0})
    assert 4_500 <= answer["before"] <= 5_000
    assert 900 <= answer["before"] - answer["after"] <= 1_400


def test_a_warm_environment_is_reused_and_overlapping_calls_get_their_own(
    workers: FunctionRegistry,
) -> None:
    workers.register("remaining", f"{WORKLOAD}.remaining", timeout=10)
    one, two = workers.invoke("remaining", {}), workers.invoke("remaining", {})
    assert one["pid"] == two["pid"]  # warm
    runs: list[dict[str, Any]] = []

    def call() -> None:
        runs.append(workers.invoke("remaining", {"sleep": 1.0}))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({run["pid"] for run in runs}) == 2  # two environments at once
    assert overlap(runs)  # in parallel, not one after the other


def test_different_functions_run_at_the_same_time(workers: FunctionRegistry) -> None:
    for name in ("a", "b"):
        workers.register(name, f"{WORKLOAD}.remaining", timeout=10, environment={"WHO": name})
    runs: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda n=n: runs.append(workers.invoke(n, {"sleep": 1.0})))
        for n in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 2 and overlap(runs)


def overlap(runs: list[dict[str, Any]]) -> bool:
    """Whether the handlers' runs (their own start and end times) overlapped."""
    return max(r["started"] for r in runs) < min(r["ended"] for r in runs)


def test_a_worker_sees_its_functions_environment_not_this_process(
    workers: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONLY_IN_THE_TEST_PROCESS", "1")
    workers.register("env", f"{WORKLOAD}.environment", timeout=10, environment={"SETTING": "x"})
    seen = workers.invoke(
        "env", {"names": ["SETTING", "ONLY_IN_THE_TEST_PROCESS", "AWS_LAMBDA_FUNCTION_NAME"]}
    )
    assert seen == {"SETTING": "x", "ONLY_IN_THE_TEST_PROCESS": None, "AWS_LAMBDA_FUNCTION_NAME": "env"}
    assert "ONLY_IN_THE_TEST_PROCESS" in os.environ


def test_a_handler_error_is_the_invocations_error_and_the_environment_stays_warm(
    workers: FunctionRegistry,
) -> None:
    workers.register("fail", f"{WORKLOAD}.fail", timeout=10)
    with pytest.raises(InvocationError) as raised:
        workers.invoke("fail", {"message": "bad input"})
    assert (raised.value.error_type, raised.value.error_message) == ("ValueError", "bad input")
    assert workers.workers("fail") == 1


def test_a_handler_that_cannot_be_imported_is_an_init_error(workers: FunctionRegistry) -> None:
    workers.register("missing", f"{WORKLOAD}.no_such_handler", timeout=10)
    with pytest.raises(InvocationError) as raised:
        workers.invoke("missing", {})
    assert raised.value.error_type == "Runtime.ImportModuleError"
    assert workers.workers("missing") == 0
