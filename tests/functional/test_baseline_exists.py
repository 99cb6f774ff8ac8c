"""BaselineStore.exists: one GetParameter on the manifest, whatever the baseline's size."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from access_guard.adapters.baseline_store import BaselineStore

from .test_store import baseline_text

REGION = "us-east-1"


@pytest.fixture
def ssm(aws: Any) -> Any:
    return boto3.client("ssm", region_name=REGION)


def test_a_stored_baseline_exists(ssm: Any) -> None:
    store = BaselineStore(ssm)
    store.put(baseline_text("payments"))
    assert store.exists("payments", REGION)


def test_no_baseline_does_not_exist(ssm: Any) -> None:
    assert not BaselineStore(ssm).exists("payments", REGION)


def test_a_deleted_baseline_no_longer_exists(ssm: Any) -> None:
    store = BaselineStore(ssm)
    store.put(baseline_text("payments"))
    store.delete("payments", REGION)
    assert not store.exists("payments", REGION)


def test_existence_is_one_call_for_a_large_baseline(ssm: Any) -> None:
    # given: a baseline of many chunks
    store = BaselineStore(ssm)
    store.put(baseline_text("payments", n=300))
    calls: list[str] = []
    ssm.meta.events.register("before-send.ssm", lambda **kw: calls.append(kw["event_name"]))
    # when
    assert store.exists("payments", REGION)
    # then
    assert calls == ["before-send.ssm.GetParameter"]
