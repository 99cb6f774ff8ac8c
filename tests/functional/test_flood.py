# ruff: noqa: F811  (the fixtures imported from test_pipeline are parameters here)
"""Flood resistance through the local pipeline: a flood of changes costs a few runs, work a later run already
verified costs no EKS call, a batch is one run per cluster, and a rogue admin after a flood is removed;
judged by the emulator's oracle and its CloudTrail (the guard's own EKS calls)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from access_guard.adapters.state_table import StateTable
from access_guard.adapters.work_queue import WorkQueue
from access_guard.core.work import WorkItem, iso_utc
from botocore.client import BaseClient

from .scenario import ACCOUNT, ADMIN, REGION
from .test_pipeline import CLUSTER, managed, pipeline  # noqa: F401 (fixtures)

CALLS: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def count_eks_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every EKS call made in this process (the handlers', and none of the tests' own here), by operation."""
    CALLS.clear()
    original = BaseClient._make_api_call

    def counted(client: Any, operation: str, params: Any) -> Any:
        if client.meta.service_model.endpoint_prefix == "eks":
            CALLS[operation] += 1
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)


def guard_calls(aws: Any, name: str) -> int:
    """The guard's calls: each run reads the cluster (DescribeCluster) once; the tests never do (the intake
    does for an IAM change: drain the fixture's own IAM events before counting)."""
    return CALLS[name]


def work(principal: str | None, *, at: datetime, event_id: str) -> WorkItem:
    return WorkItem(
        cluster=CLUSTER,
        region=REGION,
        principals=(principal,) if principal else None,
        trigger="event",
        event_id=event_id,
        event_name="UpdateAccessEntry",
        event_time=iso_utc(at),
        actor=None,
        reason="a test change",
    )


def queue(pipeline: Any) -> WorkQueue:
    return WorkQueue(boto3.client("sqs", region_name=REGION), pipeline.queues["work"])


def test_a_flood_on_one_entry_costs_a_few_runs_and_a_rogue_admin_after_it_is_removed(managed, pipeline, aws):
    # given bob changes the on-call entry's groups 60 times, then makes himself cluster admin
    eks = managed["bob"].client("eks")
    pipeline.drain()  # the fixture's own events (bob's CreateUser)
    runs_before = guard_calls(aws, "DescribeCluster")
    for i in range(60):
        eks.update_access_entry(
            clusterName=CLUSTER, principalArn=managed["oncall"], kubernetesGroups=[f"g{i}"]
        )
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    eks.create_access_entry(clusterName=CLUSTER, principalArn=bob)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=bob, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    # when the pipeline handles it all
    pipeline.drain(timeout=120)
    # then the oracle shows the baseline again, after far fewer runs than events
    access = {p["principalArn"]: p for p in aws.access(CLUSTER)["principals"]}
    assert bob not in access and aws.admins(CLUSTER) == [managed["platform"]]
    assert access[managed["oncall"]]["kubernetesGroups"] == ["oncall"]
    runs = guard_calls(aws, "DescribeCluster") - runs_before
    assert 1 <= runs <= 12, runs
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


def test_work_about_a_change_a_later_run_verified_costs_no_eks_call(managed, pipeline, aws):
    # given the on-call entry verified at its desired state now
    pipeline.drain()  # the fixture's own events (bob's CreateUser)
    state = StateTable(boto3.client("dynamodb", region_name=REGION), pipeline.tables["state"])
    # (the fixture's runs verified the whole cluster a moment ago: changes from now on are newer than that)
    now = datetime.now(UTC) + timedelta(seconds=5)
    state.record_verified(CLUSTER, REGION, at=now.timestamp() + 10, principals=[managed["oncall"]])
    before = guard_calls(aws, "DescribeCluster")
    # when work arrives about a change of the on-call entry made before that verification
    queue(pipeline).send([work(managed["oncall"], at=now, event_id="old-change")])
    pipeline.drain()
    # then it is settled without a call to EKS
    assert guard_calls(aws, "DescribeCluster") == before
    # and work about a later change, or about another principal, still runs
    queue(pipeline).send([work(managed["oncall"], at=now + timedelta(seconds=20), event_id="new-change")])
    pipeline.drain()
    assert guard_calls(aws, "DescribeCluster") == before + 1
    never = f"arn:aws:iam::{ACCOUNT}:role/never-verified"
    queue(pipeline).send([work(never, at=now, event_id="other")])
    pipeline.drain()
    assert guard_calls(aws, "DescribeCluster") == before + 2


def test_a_run_that_reaches_the_baseline_records_its_verification(managed, pipeline, aws):
    state = StateTable(boto3.client("dynamodb", region_name=REGION), pipeline.tables["state"])
    start = time.time()
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    pipeline.drain()
    verified = state.verified(CLUSTER, REGION, [managed["oncall"], managed["platform"]])
    assert verified.get(managed["oncall"], 0) >= start
    assert managed["platform"] not in verified  # a targeted run verifies only its principals


def test_a_batch_of_work_for_one_cluster_is_one_run(managed, pipeline, aws):
    # given ten work items about different principals of one cluster, queued together
    eks = boto3.client("eks", region_name=REGION)
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    pipeline.drain()  # the guard puts it back (one run)
    before = guard_calls(aws, "DescribeCluster")
    now = datetime.now(UTC) + timedelta(seconds=5)  # after any verification: none settles them
    principals = [managed["oncall"], managed["platform"]] + [
        f"arn:aws:iam::{ACCOUNT}:role/nobody-{i}" for i in range(8)
    ]
    queue(pipeline).send([work(p, at=now, event_id=f"batch-{i}") for i, p in enumerate(principals)])
    # when the remediate function takes them in one batch
    pipeline.drain()
    # then one run did them all
    assert guard_calls(aws, "DescribeCluster") == before + 1


def test_a_verification_only_ever_moves_forward(pipeline):
    state = StateTable(boto3.client("dynamodb", region_name=REGION), pipeline.tables["state"])
    a, b = f"arn:aws:iam::{ACCOUNT}:role/a", f"arn:aws:iam::{ACCOUNT}:role/b"
    state.record_verified(CLUSTER, REGION, at=2000.0, principals=[a])
    state.record_verified(CLUSTER, REGION, at=1000.0, principals=[a, b])  # an older run finishing late
    state.record_verified(CLUSTER, REGION, at=1500.0)
    assert state.verified(CLUSTER, REGION, [a, b]) == {a: 2000.0, b: 1000.0, None: 1500.0}
    assert state.verified("orders", REGION, [a]) == {}
