"""The services' clock: `POST/GET /_emulator/clock` moves it and shows it; every function (in process or in a
worker), the locks and the scheduler read it; what is due fires when it moves."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

import pytest

from local.client import Emulator
from local.clock import SERVICE_CLOCK
from local.runtime import FunctionRegistry

from .conftest import ACCOUNT, REGION

WORKLOAD = "runtime.workload"


def post(aws: Emulator, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(f"{aws.endpoint_url}/_emulator/clock", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_clock_moves_ahead_and_shows_its_offset(aws: Emulator) -> None:
    assert aws.clock()["offsetSeconds"] == 0
    moved = aws.advance_clock(90)
    assert moved["offsetSeconds"] == 90
    shown = aws.clock()
    assert shown["offsetSeconds"] == 90
    ahead = datetime.fromisoformat(shown["now"]) - datetime.fromisoformat(shown["realNow"])
    assert 89.9 < ahead.total_seconds() < 90.1
    assert aws.advance_clock(10.5)["offsetSeconds"] == 100.5
    aws.reset()
    assert aws.clock()["offsetSeconds"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"advanceSeconds": -1}',
        b'{"advanceSeconds": "60"}',
        b'{"advanceSeconds": true}',
        b"{}",
        b'{"advanceSeconds": 1, "other": 2}',
        b"[60]",
        b"60x",
        b'{"advanceSeconds": 1e12}',
    ],
)
def test_a_bad_move_is_refused_with_one_line_and_moves_nothing(aws: Emulator, body: bytes) -> None:
    aws.advance_clock(5)
    status, answer = post(aws, body)
    assert status == 400
    assert answer["message"] and "\n" not in answer["message"]
    assert aws.clock()["offsetSeconds"] == 5


def test_a_warm_worker_and_an_inline_function_see_the_move(aws: Emulator) -> None:
    from access_guard.core.config import Env

    environment = {Env.LOCAL_CLOCK_FILE: SERVICE_CLOCK.file}
    for isolation in ("process", "inline"):
        registry = FunctionRegistry(
            region=REGION, account_id=ACCOUNT, endpoint_url=aws.endpoint_url, isolation=isolation
        )
        try:
            registry.register("clock", f"{WORKLOAD}.services_clock", timeout=30, environment=environment)
            before = registry.invoke("clock", {})
            assert abs(before["now"] - before["real"]) < 1 + SERVICE_CLOCK.offset
            aws.advance_clock(3600)
            after = registry.invoke("clock", {})  # the same warm worker
            assert 3599 < after["now"] - after["real"] - (before["now"] - before["real"]) < 3601, isolation
        finally:
            registry.close()


def test_a_lock_whose_lease_has_passed_on_the_moved_clock_can_be_taken(aws: Emulator) -> None:
    import boto3
    from access_guard.adapters.state_table import ClusterBusy
    from access_guard.core.config import STATE_TABLE_KEYS, Env
    from access_guard.handlers import wiring

    from local.breakglass_api import ensure_table

    ensure_table(
        boto3.client("dynamodb", region_name=REGION, endpoint_url=aws.endpoint_url), "state", STATE_TABLE_KEYS
    )
    env = {
        Env.STATE_TABLE: "state",
        Env.LOCAL_CLOCK_FILE: SERVICE_CLOCK.file,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": aws.endpoint_url,
    }
    wiring.reset()
    try:
        state = wiring.wired(env).state
        assert state is not None
        with state.lock("prod", REGION, holder="a", seconds=600):
            with pytest.raises(ClusterBusy), state.lock("prod", REGION, holder="b", seconds=60):
                pass
            aws.advance_clock(601)
            with state.lock("prod", REGION, holder="b", seconds=60):  # a's lease is over on the moved clock
                pass
    finally:
        wiring.reset()


def test_listeners_fire_after_the_move_and_a_failing_one_does_not_stop_the_others(aws: Emulator) -> None:
    heard: list[float] = []

    def broken() -> None:
        raise RuntimeError("boom")

    remove = [
        SERVICE_CLOCK.on_advance(broken),
        SERVICE_CLOCK.on_advance(lambda: heard.append(SERVICE_CLOCK.offset)),
    ]
    try:
        aws.advance_clock(30)
        assert heard == [30]
    finally:
        for unlisten in remove:
            unlisten()
    aws.advance_clock(30)
    assert heard == [30]
    assert time.time() + SERVICE_CLOCK.offset - SERVICE_CLOCK.time() < 0.01
