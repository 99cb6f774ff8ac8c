# ruff: noqa: F811  (the fixtures imported from test_pipeline are parameters here)
"""Faults, judged by the oracle: after each, the baseline is reached within the retries or one sweep, and
nobody is locked out at any point (oracle_watch checks every EKS write).

The local AWS injects the faults (counted: the next N matching calls fail), so the product's own retries
and SQS's redeliveries meet them as they would in AWS."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from access_guard.adapters import clients
from access_guard.adapters.eks_writer import EksWriter
from access_guard.adapters.state_table import StateTable
from access_guard.core.config import Env
from access_guard.core.deadline import LOCK_MARGIN_SECONDS
from access_guard.handlers import wiring

from bench.__main__ import EKS_OPERATIONS  # the EKS operations the guard calls: one list
from local import runner
from local.runner import Pipeline

from .oracle_watch import watching
from .scenario import ACCOUNT, ADMIN, REGION, VIEW, entry, role
from .test_pipeline import CLUSTER, guarded, make_cluster, manage, managed, person, pipeline, push  # noqa: F401 (fixtures)


def drift(managed: dict[str, Any]) -> str:
    """The on-call entry deleted and a rogue admin made, by bob; returns the rogue's ARN."""
    eks = managed["bob"].client("eks")
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    eks.create_access_entry(clusterName=CLUSTER, principalArn=bob)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=bob, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    return bob


def at_baseline(aws: Any, managed: dict[str, Any]) -> bool:
    access = {p["principalArn"]: p for p in aws.access(CLUSTER)["principals"]}
    oncall = access.get(managed["oncall"])
    return (
        aws.admins(CLUSTER) == [managed["platform"]]
        and oncall is not None
        and [a["policyArn"] for a in oncall["accessPolicies"]] == [VIEW]
        and set(access) == {managed["platform"], managed["oncall"]}
    )


def settle(pipeline: Any, aws: Any, managed: dict[str, Any]) -> str:
    """Drain; if not at the baseline, one sweep. Which of the two got there."""
    pipeline.drain(timeout=120)
    if at_baseline(aws, managed):
        return "retries"
    aws.clear_faults()
    pipeline.sweep()
    return "sweep"


def test_eks_throttling_and_server_errors_are_retried_to_the_baseline(managed, pipeline, aws):
    pipeline.drain()
    with watching(CLUSTER, [managed["platform"]]) as watch:
        drift(managed)
        # throttling and 5xx on the reads and the writes the remediation needs
        aws.set_fault("eks:DescribeCluster", throttle=2)
        aws.set_fault("eks:DescribeAccessEntry", throttle=3)
        aws.set_fault("eks:ListAssociatedAccessPolicies", error_status=500, error_count=1)
        aws.set_fault("eks:CreateAccessEntry", error_status=500, error_count=2)
        aws.set_fault("eks:DeleteAccessEntry", throttle=2)
        aws.set_fault("eks:AssociateAccessPolicy", error_status=503, error_count=1)
        how = settle(pipeline, aws, managed)
    assert watch.violations == []
    assert at_baseline(aws, managed), how
    assert how == "retries"  # the SDK's retries and SQS's redeliveries were enough
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


def test_cloudtrail_deliveries_duplicated_out_of_order_and_lost(managed, pipeline, aws):
    pipeline.drain()
    aws.set_cloudtrail_delivery(twice_next=2, reverse_next=3)
    with watching(CLUSTER, [managed["platform"]]) as watch:
        drift(managed)
        pipeline.drain()
        assert at_baseline(aws, managed)
        # then an event lost: the sweep's list check finds it
        aws.set_cloudtrail_delivery(drop_next=1)
        managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
        pipeline.drain()
        assert not at_baseline(aws, managed)
        pipeline.sweep()
    assert watch.violations == []
    assert at_baseline(aws, managed)
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


def test_eks_at_20_percent_throttling_and_5_percent_errors_reaches_the_baseline(managed, pipeline, aws):
    pipeline.drain()
    with watching(CLUSTER, [managed["platform"]]) as watch:
        drift(managed)
        for seed, name in enumerate(EKS_OPERATIONS):
            aws.set_fault(f"eks:{name}", throttle_rate=0.20, error_rate=0.05, seed=seed)
        assert aws.faults()["eks:CreateAccessEntry"]["throttleRate"] == 0.20
        how = settle(pipeline, aws, managed)
        aws.clear_faults()
    assert watch.violations == []
    assert at_baseline(aws, managed), how
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0} or how == "sweep"


def test_rate_faults_are_seeded_and_near_their_rates():
    from local.faults import Fault

    def draws(seed: int) -> list[int]:
        fault = Fault.from_json({"throttleRate": 0.2, "errorRate": 0.05, "seed": seed})
        return [fault.draw() for _ in range(4000)]

    first = draws(7)
    assert first == draws(7)  # reproducible
    assert first != draws(8)
    assert 0.17 < first.count(429) / 4000 < 0.23
    assert 0.03 < first.count(503) / 4000 < 0.07
    for bad in ({"throttleRate": 1.5}, {"errorRate": -0.1}, {"throttleRate": 0.6, "errorRate": 0.6}):
        try:
            Fault.from_json(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")


class Killed(Exception):
    """The function died here (its process killed between two EKS writes)."""


def guard_writes(aws: Any, *, succeeded: bool = False) -> list[str]:
    """The guard's EKS calls CloudTrail recorded (`succeeded`: only those that did not answer an error)."""
    return [
        r["eventName"]
        for r in aws.cloudtrail_records()
        if r["eventSource"] == "eks.amazonaws.com"
        and "eks-access-guard" in r["userIdentity"].get("arn", "")
        and not (succeeded and r.get("errorCode"))
    ]


def test_a_run_killed_after_any_write_is_finished_by_the_next(managed, pipeline, aws, monkeypatch):
    """The drift needs three writes (delete the rogue, create and associate the on-call entry): the first
    run is killed right after write k, for every k; SQS's redelivery (or one sweep) finishes the job."""
    write = EksWriter.write
    for k in (1, 2, 3):
        pipeline.drain()
        left = [k]

        def killed_after(
            self: EksWriter, cluster: str, action: Any, left: list[int] = left, k: int = k
        ) -> Any:
            result = write(self, cluster, action)
            if left:
                left[0] -= 1
                if left[0] == 0:
                    left.clear()
                    raise Killed(f"after write {k}")
            return result

        monkeypatch.setattr(EksWriter, "write", killed_after)
        before = len(guard_writes(aws))
        with watching(CLUSTER, [managed["platform"]]) as watch:
            drift(managed)
            how = settle(pipeline, aws, managed)
        assert not left, f"the run never reached write {k}"
        assert watch.violations == [], k
        assert at_baseline(aws, managed), (k, how)
        # nothing outside the drift: the rogue's entry deleted, the on-call's entry made and associated
        assert sorted(set(guard_writes(aws)[before:])) == [
            "AssociateAccessPolicy",
            "CreateAccessEntry",
            "DeleteAccessEntry",
        ], k
        monkeypatch.setattr(EksWriter, "write", write)
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


def unavailable(aws: Any, operations: tuple[str, ...]) -> None:
    for name in operations:
        aws.set_fault(name, error_status=503, error_count=10_000)


def after_outage(
    pipeline: Any, aws: Any, managed: dict[str, Any], operations: tuple[str, ...], monkeypatch: Any
) -> tuple[list[str], dict[str, int]]:
    """Drift during an outage of `operations` that outlasts the retries: botocore gives up after 2 attempts
    (8 as deployed, so a test need not wait out their backoff), every delivery fails, and SQS moves the work
    to its dead-letter queue after its 5 receives. Then the outage ends, the queues drain and one sweep runs.
    Returns the guard's EKS writes during the outage and the dead letters it left."""
    pipeline.drain()
    before = len(guard_writes(aws))
    with watching(CLUSTER, [managed["platform"]]) as watch:
        monkeypatch.setattr(clients, "MAX_ATTEMPTS", 2)
        wiring.reset()  # the functions make their clients again, with that retry budget
        unavailable(aws, operations)
        drift(managed)
        with contextlib.suppress(TimeoutError):
            pipeline.drain(timeout=30)
        during = guard_writes(aws)[before:]
        dead = pipeline.dead_letters()
        aws.clear_faults()
        monkeypatch.setattr(clients, "MAX_ATTEMPTS", 8)
        wiring.reset()
        pipeline.drain(timeout=120)
        pipeline.sweep()
    assert watch.violations == []
    assert at_baseline(aws, managed)
    return during, dead


SSM = ("ssm:GetParameter", "ssm:GetParameters")
DYNAMODB = tuple(f"dynamodb:{op}" for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"))


def test_ssm_unavailable_writes_nothing_and_is_visible_then_one_sweep_restores(
    managed, pipeline, aws, monkeypatch
):
    during, dead = after_outage(pipeline, aws, managed, SSM, monkeypatch)
    assert during == []  # no baseline read, nothing written
    # visible: the events the intake could not place (it reads from Parameter Store which clusters are
    # managed) are its dead letters, which an alarm watches (as it watches the work queue's)
    assert dead["intake-dlq"] >= 1, dead


def test_dynamodb_unavailable_writes_nothing_and_is_visible_then_one_sweep_restores(
    managed, pipeline, aws, monkeypatch
):
    during, dead = after_outage(pipeline, aws, managed, DYNAMODB, monkeypatch)
    assert during == []  # no lock, no idempotency record, no grants: nothing written
    # visible: what could not be recorded or locked is in a dead-letter queue, each watched by an alarm: the
    # intake's (its idempotency table) or the work queue's (the cluster's lock, the grants), as the failed
    # call comes first
    assert dead["intake-dlq"] + dead["work-dlq"] >= 1, dead


def test_a_cluster_deleted_mid_run_is_settled_as_gone_once_and_told(managed, pipeline, aws, monkeypatch):
    """The cluster is deleted right after the guard's first write: the work is settled as gone (no retry
    loop, no dead letter), one alert says so, and the sweeps after it stay quiet."""
    pipeline.drain()
    pipeline.notifications()  # what the set-up told
    write = EksWriter.write
    deleted: list[bool] = []

    def delete_cluster_after_first(self: EksWriter, cluster: str, action: Any) -> Any:
        result = write(self, cluster, action)
        if not deleted:
            deleted.append(True)
            managed["bob"].client("eks").delete_cluster(name=CLUSTER)
        return result

    monkeypatch.setattr(EksWriter, "write", delete_cluster_after_first)
    drift(managed)  # (not watched: the oracle has no cluster to judge once it is gone)
    pipeline.drain(timeout=60)
    assert deleted
    assert CLUSTER not in managed["bob"].client("eks").list_clusters()["clusters"]
    pipeline.sweep()
    pipeline.sweep()  # the sweeps with the cluster gone run to their end, and say nothing new
    pipeline.drain()
    gone = [
        n
        for n in pipeline.notifications(wait_seconds=1)
        if n["document"]["kind"] == "alert" and "cluster deleted" in n["subject"]
    ]
    assert len(gone) == 1, gone
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


def test_cloudtrail_deliveries_15_minutes_late_change_nothing_after_the_sweep(managed, pipeline, aws):
    """The drift's three events arrive 15 minutes late: the sweep restores the baseline first; the late
    events, when they come, find it in place and write nothing."""
    pipeline.drain()
    aws.set_cloudtrail_delivery(late_next=3, late_seconds=900)
    with watching(CLUSTER, [managed["platform"]]) as watch:
        drift(managed)
        assert aws.cloudtrail_delivery()["waiting"] == 3
        pipeline.drain()
        assert not at_baseline(aws, managed)  # nothing reported the drift yet
        pipeline.sweep()
        assert at_baseline(aws, managed)
        before = len(guard_writes(aws))
        aws.advance_clock(900)
        assert aws.flush_cloudtrail_delivery() == 3  # 15 minutes on: the late events arrive
        pipeline.drain()
    assert watch.violations == []
    assert at_baseline(aws, managed)
    assert guard_writes(aws)[before:] == []  # nothing written for events already settled
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


@pytest.fixture
def waits_a_second(aws: Any, endpoint: str, template: dict[str, Any]) -> Iterator[Pipeline]:
    """The pipeline, its runs waiting at most 1 s (120 s as deployed) for a mode update before they hand
    their continuation on."""
    yield from guarded(aws, endpoint, template, environment={Env.MODE_UPDATE_WAIT_SECONDS: "1"})


def test_a_mode_update_of_minutes_is_started_once_and_followed_by_continuations(waits_a_second, aws):
    """A CONFIG_MAP cluster whose baseline needs access entries, and a mode update of ten minutes: the run
    starts the update once and hands on; each continuation waits its bounded time and hands on again (no
    run holds the cluster, nothing is dead-lettered); when the update lands, the next one gives the
    baseline's admin its entry. The cluster's creator keeps access all along."""
    pipeline = waits_a_second
    aws.set_eks_settings(mode_update_seconds=600)
    make_cluster(person("alice"), mode="CONFIG_MAP")
    platform = role("platform", "/platform/")
    with watching(CLUSTER, [platform]) as watch:
        push(pipeline, entry(platform, (ADMIN, None)), auth="API_AND_CONFIG_MAP")
        with contextlib.suppress(TimeoutError):  # continuations come one after the other while it runs
            pipeline.drain(timeout=5)
        assert aws.access(CLUSTER)["authenticationMode"] == "CONFIG_MAP"
        # started once: each continuation finds it running (ResourceInUseException) and waits on it
        assert guard_writes(aws, succeeded=True) == ["UpdateClusterConfig"]
        assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}
        aws.advance_clock(600)  # ten minutes on: the update has landed
        pipeline.drain(timeout=60)
    assert watch.violations == []
    assert aws.access(CLUSTER)["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert platform in aws.admins(CLUSTER)
    made = sorted(guard_writes(aws, succeeded=True))
    assert made == ["AssociateAccessPolicy", "CreateAccessEntry", "UpdateClusterConfig"]
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


REMEDIATE_TIMEOUT = 6.0  # seconds (300 as deployed): short enough for a test to outlive


@pytest.fixture
def in_processes(
    aws: Any, endpoint: str, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    """The pipeline with every function in its own worker process, killed at its timeout as Lambda kills
    it; the remediation's timeout is 6 s."""
    monkeypatch.setitem(runner.TIMEOUTS, "remediate", REMEDIATE_TIMEOUT)
    aws.set_eks_settings(mode_update_seconds=0.05)
    yield from guarded(aws, endpoint, template, isolation="process")


class KillWatch(logging.Handler):
    """Counts the functions the local Lambda killed at their timeout, and ends a fault at the first kill."""

    def __init__(self, on_kill: Any) -> None:
        super().__init__(logging.INFO)
        self.killed: list[str] = []
        self.on_kill = on_kill

    def emit(self, record: logging.LogRecord) -> None:
        if "killed at its timeout" in record.getMessage():
            self.killed.append(record.getMessage())
            if len(self.killed) == 1:
                self.on_kill()


@pytest.mark.slow  # worker processes, a 6 s timeout to outlive and the dead run's lease: about 25 s
def test_a_function_stopped_at_its_deadline_mid_write_is_finished_and_locks_nobody_out(in_processes, aws):
    """The remediation's write of the on-call entry hangs past the function's timeout: the local Lambda
    kills the worker process mid-call (the write lands later, as a request in flight does). The redelivered
    work finds the dead run's lock and leaves a mark; the lock expires on its own at the end of its lease,
    and one sweep after it finishes the work. Nobody is locked out on the way."""
    pipeline = in_processes
    managed = manage(pipeline, timeout=120)
    platform = managed["platform"]
    assert at_baseline(aws, managed)
    before = len(guard_writes(aws))
    watch_kills = KillWatch(aws.clear_faults)  # the slow write is slow once: the first kill ends it
    runtime = logging.getLogger("local.runtime")
    runtime.addHandler(watch_kills)
    level = runtime.level
    runtime.setLevel(logging.INFO)
    try:
        aws.set_fault("eks:CreateAccessEntry", latency_ms=(REMEDIATE_TIMEOUT + 3) * 1000)
        with watching(CLUSTER, [platform]) as watch:
            drift(managed)
            with contextlib.suppress(TimeoutError):
                pipeline.drain(timeout=60)
            # the dead run's lock outlives it by its lease only (time left plus the margin), then frees
            held = StateTable(boto3.client("dynamodb", region_name=REGION), pipeline.tables["state"])
            lease = held.lock_expiry(CLUSTER, REGION)
            if lease is not None:
                assert lease[1] - time.time() <= REMEDIATE_TIMEOUT + LOCK_MARGIN_SECONDS, lease
                time.sleep(max(0.0, lease[1] - time.time()) + 0.1)
            how = settle(pipeline, aws, managed)
            time.sleep(3)  # the hung write lands (or has landed) on the emulator: it changes nothing
            pipeline.drain(timeout=60)
    finally:
        runtime.removeHandler(watch_kills)
        runtime.setLevel(level)
        aws.clear_faults()
    assert watch_kills.killed and watch_kills.killed[0].startswith("remediate"), watch_kills.killed
    assert watch.violations == []
    assert at_baseline(aws, managed), (how, aws.access(CLUSTER))
    assert set(guard_writes(aws)[before:]) <= {
        "AssociateAccessPolicy",
        "CreateAccessEntry",
        "DeleteAccessEntry",
    }
    assert pipeline.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}
