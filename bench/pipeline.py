"""The event path's figures (issue 7), measured and printed, never asserted.

    python -m bench.pipeline [--skip SECTION ...]

- targeted: the EKS calls of a targeted remediation of a one-entry drift, on a 1-entry and a 1,000-entry
  cluster (target: the same number, at most 6);
- latency: event-to-restored in the local pipeline at 20 ms of emulated EKS latency, over 100 drifts, with
  no CloudTrail delivery delay (targets: p50 under 0.5 s, p99 under 1 s);
- burst: 1,000 events for one cluster (target: write calls equal to the drift, no errors, no duplicates);
- sweep: 50 clusters of 200 entries in one sweep at 20 ms (target: within one Lambda run, 15 minutes).

The local AWS runs in its own process (`python -m local serve --emulator-only`); the guard's pipeline runs
here, against it, with the same handlers as in AWS (local/runner.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from bench import prices, report
from bench import report as bench_report  # (bench_sweep's own `report` is the sweep's)
from bench.__main__ import ACCOUNT, ADMIN, EKS_OPERATIONS, REGION, VIEW, CallCounter, local_aws_process
from local.client import Emulator

TRUST = '{"Version":"2012-10-17","Statement":[]}'


def clients(endpoint: str) -> tuple[Any, Any, Any]:
    config = Config(max_pool_connections=32, retries={"mode": "standard", "total_max_attempts": 8})
    return tuple(  # type: ignore[return-value]
        boto3.client(s, region_name=REGION, endpoint_url=endpoint, config=config)
        for s in ("iam", "eks", "ssm")
    )


def make_cluster(endpoint: str, name: str, roles: list[str], *, admin: str) -> None:
    """A cluster whose entries are `roles` (viewers) plus `admin` (cluster admin), at its stored baseline."""
    from access_guard.adapters.baseline_store import BaselineStore

    iam, eks, ssm = clients(endpoint)
    eks.create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )

    def policy(arn: str) -> tuple[str, dict[str, Any]]:
        if arn == admin:
            return ADMIN, {"type": "cluster"}
        return VIEW, {"type": "namespace", "namespaces": ["apps"]}

    def one(arn: str) -> None:
        eks.create_access_entry(clusterName=name, principalArn=arn)
        arn_policy, scope = policy(arn)
        eks.associate_access_policy(
            clusterName=name, principalArn=arn, policyArn=arn_policy, accessScope=scope
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, [admin, *roles]))
    entries = [
        {
            "principalARN": arn,
            "accessPolicies": [{"policyARN": policy(arn)[0], "accessScope": policy(arn)[1]}],
        }
        for arn in [admin, *roles]
    ]
    doc = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": name, "region": REGION},
        "accessConfig": {"authenticationMode": "API", "accessEntries": entries},
        "accessGuard": {"prune": True, "maxDeletions": 10},
    }
    BaselineStore(ssm).put(json.dumps(doc))


def make_roles(endpoint: str, names: list[str]) -> list[str]:
    iam, _, _ = clients(endpoint)
    with ThreadPoolExecutor(8) as pool:
        return list(
            pool.map(
                lambda n: iam.create_role(RoleName=n, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"], names
            )
        )


def latency(endpoint: str, ms: float) -> None:
    emulator = Emulator(endpoint)
    for operation in EKS_OPERATIONS:
        emulator.set_fault(f"eks:{operation}", latency_ms=ms)


# --- targeted remediation ----------------------------------------------------------------------------------


def bench_targeted() -> None:
    from access_guard.services.reconcile import Reconciler

    print("\ntargeted remediation of a one-entry drift (EKS calls, reads and writes):")
    with local_aws_process() as (endpoint, _):
        make_roles(endpoint, ["eks-cluster"])
        roles = make_roles(endpoint, [f"team-{i:04d}" for i in range(1000)] + ["admins", "rogue"])
        admin, rogue, team = roles[-2], roles[-1], roles[:-2]
        make_cluster(endpoint, "small", [], admin=admin)
        make_cluster(endpoint, "large", team[:999], admin=admin)
        _, eks, ssm = clients(endpoint)
        iam = clients(endpoint)[0]
        from access_guard.adapters.baseline_store import BaselineStore

        store = BaselineStore(ssm)
        most = 0
        for cluster, size in (("small", 1), ("large", 1000)):
            desired = store.get(cluster, REGION)

            def rogue_admin(c: str) -> None:
                eks.create_access_entry(clusterName=c, principalArn=rogue)
                eks.associate_access_policy(
                    clusterName=c, principalArn=rogue, policyArn=ADMIN, accessScope={"type": "cluster"}
                )

            def disassociated(c: str) -> None:
                eks.disassociate_access_policy(clusterName=c, principalArn=admin, policyArn=ADMIN)

            cases = {
                "entry deleted": (
                    admin,
                    lambda c: eks.delete_access_entry(clusterName=c, principalArn=admin),
                ),
                "policy disassociated": (admin, disassociated),
                "rogue admin created": (rogue, rogue_admin),
            }
            for name, (principal, drift) in cases.items():
                drift(cluster)
                guard_eks = boto3.client("eks", region_name=REGION, endpoint_url=endpoint)
                counter = CallCounter(guard_eks)
                outcome = Reconciler(eks=guard_eks, iam=iam).apply(desired, only={principal})
                print(
                    f"  {name:<21} on a {size:>4}-entry cluster: {sum(counter.calls.values())} EKS calls "
                    f"({dict(counter.calls)}); baseline reached: {outcome.reached_baseline}"
                )
                most = max(most, sum(counter.calls.values()))
        report.figure(
            "targeted remediation, EKS calls (most, 1- and 1,000-entry clusters)",
            most,
            "calls",
            "<= 6",
            most <= 6,
        )


# --- event to restored -------------------------------------------------------------------------------------


def pipeline_over(endpoint: str) -> Any:
    from local.runner import Pipeline

    os.environ.update(AWS_ENDPOINT_URL=endpoint)
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    return Pipeline.create(endpoint, region=REGION, environment=quiet)


def bench_latency(drifts: int, ms: float) -> None:
    print(
        f"\nevent to restored, local pipeline, {ms:.0f} ms per EKS call, no delivery delay, {drifts} drifts:"
    )
    with local_aws_process() as (endpoint, _):
        make_roles(endpoint, ["eks-cluster"])
        admin, viewer = make_roles(endpoint, ["admins", "viewer"])
        make_cluster(endpoint, "payments", [viewer], admin=admin)
        user = boto3.client("iam", region_name=REGION, endpoint_url=endpoint)
        user.create_user(UserName="bob")
        key = user.create_access_key(UserName="bob")["AccessKey"]
        bob = boto3.client(
            "eks", region_name=REGION, endpoint_url=endpoint,
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        )  # fmt: skip
        pipeline = pipeline_over(endpoint)
        latency(endpoint, ms)
        pipeline.start()
        durations = lambda_durations(pipeline)
        try:
            pipeline.wait_quiet()
            pipeline.notifications()
            seconds = []
            durations.clear()
            counted = count_calls()
            for _ in range(drifts):
                start = time.perf_counter()
                bob.delete_access_entry(clusterName="payments", principalArn=viewer)
                while not pipeline.notifications(wait_seconds=0):
                    time.sleep(0.005)
                seconds.append(time.perf_counter() - start)
            pipeline.wait_quiet()
        finally:
            counted.stop()
            pipeline.stop()
        report.series("event_to_restored_seconds", [round(s, 4) for s in seconds])
        seconds.sort()
        p50, p99 = report.percentile(seconds, 50), report.percentile(seconds, 99)
        report.figure(f"event to restored at {ms:.0f} ms, p50", p50, "s", "< 0.5 s", p50 < 0.5)
        report.figure(f"event to restored at {ms:.0f} ms, p99", p99, "s", "< 1 s", p99 < 1)
        per_op = {k: round(v / drifts, 2) for k, v in sorted(counted.calls.items())}
        by_service = {
            "eks": sum(v for k, v in per_op.items() if k.startswith("eks.")),
            "dynamodb_writes": sum(
                v for k, v in per_op.items() if k.split(".")[1] in ("PutItem", "UpdateItem", "DeleteItem")
            ),
            "dynamodb_reads": sum(
                v for k, v in per_op.items() if k.startswith(("dynamodb.Get", "dynamodb.Query"))
            ),
            "sns": sum(v for k, v in per_op.items() if k.startswith("sns.")),
            "sqs": sum(v for k, v in per_op.items() if k.startswith("sqs.")),
            "ssm": sum(v for k, v in per_op.items() if k.startswith("ssm.")),
        }
        report.figure(
            prices.PER_EVENT, sum(per_op.values()), "requests", by_service=by_service, by_operation=per_op
        )
        gb_seconds = sum(durations.values()) * prices.LAMBDA_MEMORY_GB / drifts
        report.figure(
            prices.GB_SECONDS_PER_EVENT,
            gb_seconds,
            "GB-s",
            seconds_by_function={k: round(v / drifts, 4) for k, v in durations.items()},
        )
        print(f"  AWS requests per event by the handlers: {per_op}")
        print(f"  Lambda seconds per event: { {k: round(v / drifts, 3) for k, v in durations.items()} }")
        print(
            f"  p50 {statistics.median(seconds):.3f} s (target < 0.5), p99 {p99:.3f} s (target < 1), "
            f"max {seconds[-1]:.3f} s; from bob's DeleteAccessEntry returning to the guard's note after "
            "the entry and its policy were back"
        )


# --- a burst ---------------------------------------------------------------------------------------------


def remaining(pipeline: Any, emulator: Emulator) -> int:
    """Events and work items not yet handled: waiting for delivery, on the queues, or in flight."""
    sqs = pipeline._sqs()
    total = int(emulator.cloudtrail_delivery().get("waiting", 0))
    for name in ("intake", "work"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=pipeline.queues[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        total += sum(int(v) for v in attributes.values())
    return total


def bench_burst(events: int, ms: float) -> None:
    """A burst of UpdateAccessEntry calls on one cluster, made while the pipeline runs; how long until every
    event and work item is handled, and what the guard wrote."""
    print(f"\na burst of {events} events for one cluster at {ms:.0f} ms per EKS call:")
    with local_aws_process() as (endpoint, _):
        make_roles(endpoint, ["eks-cluster"])
        admin, viewer = make_roles(endpoint, ["admins", "viewer"])
        make_cluster(endpoint, "payments", [viewer], admin=admin)
        pipeline = pipeline_over(endpoint)
        emulator = Emulator(endpoint)
        _, eks, _ = clients(endpoint)
        latency(endpoint, ms)
        pipeline.start()
        try:
            pipeline.wait_quiet()
            writes_before = guard_writes(endpoint)
            counted = count_calls()
            start = time.perf_counter()

            def change(i: int) -> None:  # the same entry's groups again and again: a drift of 1 in the end
                eks.update_access_entry(
                    clusterName="payments", principalArn=viewer, kubernetesGroups=[f"g{i % 7}"]
                )

            made: list[float] = []

            def changed(i: int) -> None:
                change(i)
                made.append(time.perf_counter() - start)

            with ThreadPoolExecutor(8) as pool:
                burst = pool.map(changed, range(events))
                drain: list[tuple[float, int]] = []
                while True:  # sample while the burst is made and drained
                    left = remaining(pipeline, emulator)
                    drain.append((round(time.perf_counter() - start, 2), left))
                    if left == 0 and len(made) == events and all(p[1] == 0 for p in drain[-3:]):
                        break
                    time.sleep(0.25)
                list(burst)
            took = drain[-3][0]
            after = took - max(made)
        finally:
            counted.stop()
            pipeline.stop()
        writes = guard_writes(endpoint)[len(writes_before) :]
        runs = counted.calls.get("eks.DescribeCluster", 0)
        report.series(f"flood_drain_{events} events at {ms:.0f} ms", drain)
        report.figure(
            f"burst of {events} events on one cluster at {ms:.0f} ms: drained after its last event",
            after,
            "s",
            "< 20 s",
            after < 20,
            since_first_event=round(took, 1),
            burst_made_in=round(max(made), 1),
        )
        print(
            f"  the burst made in {max(made):.1f} s (the callers' own calls, at the emulated latency); "
            f"drained {after:.1f} s after its last event ({took:.1f} s after its first); "
            f"{runs} runs read the cluster; the guard's EKS "
            f"writes: {len(writes)} {sorted(set(writes))}; dead letters: {pipeline.dead_letters()}"
        )


def bench_flood(flood: int, ms: float) -> None:
    """A flood of harmless changes, then a rogue cluster admin: how long the rogue keeps access."""
    print(f"\na flood of {flood} UpdateAccessEntry calls, then a rogue admin, at {ms:.0f} ms per EKS call:")
    with local_aws_process() as (endpoint, _):
        make_roles(endpoint, ["eks-cluster"])
        admin, viewer, rogue = make_roles(endpoint, ["admins", "viewer", "rogue"])
        make_cluster(endpoint, "payments", [viewer], admin=admin)
        pipeline = pipeline_over(endpoint)
        emulator = Emulator(endpoint)
        _, eks, _ = clients(endpoint)
        latency(endpoint, ms)
        pipeline.start()
        try:
            pipeline.wait_quiet()
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda i: eks.update_access_entry(
                            clusterName="payments", principalArn=viewer, kubernetesGroups=[f"g{i % 7}"]
                        ),
                        range(flood),
                    )
                )
            eks.create_access_entry(clusterName="payments", principalArn=rogue)
            eks.associate_access_policy(
                clusterName="payments", principalArn=rogue, policyArn=ADMIN, accessScope={"type": "cluster"}
            )
            start = time.perf_counter()
            while rogue in emulator.admins("payments", region=REGION):
                if time.perf_counter() - start > 300:
                    break
                time.sleep(0.05)
            kept = time.perf_counter() - start
            pipeline.wait_quiet(timeout=300)
        finally:
            pipeline.stop()
        report.figure(
            f"rogue admin after a {flood}-event flood at {ms:.0f} ms: access kept",
            kept,
            "s",
            "<= 10 s",
            kept <= 10,
        )
        print(f"  the rogue admin kept cluster admin for {kept:.1f} s after its association returned")


class count_calls:  # noqa: N801 (used as a function)
    """Counts every AWS request the pipeline's handlers make (threads other than the caller's), by
    service.operation, leaving out the event source mappings' own polling (Lambda's side of SQS)."""

    POLLING = ("ReceiveMessage", "DeleteMessageBatch", "DeleteMessage", "GetQueueAttributes")

    def __init__(self) -> None:
        import threading
        from collections import Counter

        from botocore.client import BaseClient

        self.calls: Counter[str] = Counter()
        self._original = original = BaseClient._make_api_call
        main = threading.main_thread()
        counter = self.calls

        def counted(client: Any, operation: str, params: Any) -> Any:
            if threading.current_thread() is not main and operation not in count_calls.POLLING:
                counter[f"{client.meta.service_model.endpoint_prefix}.{operation}"] += 1
            return original(client, operation, params)

        BaseClient._make_api_call = counted  # type: ignore[method-assign]

    def stop(self) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def lambda_durations(pipeline: Any) -> dict[str, float]:
    """Seconds spent in each function (summed), from the local runtime's invocations."""
    durations: dict[str, float] = {}
    invoke = pipeline.registry.invoke

    def timed(name: str, event: Any) -> Any:
        start = time.perf_counter()
        try:
            return invoke(name, event)
        finally:
            durations[name] = durations.get(name, 0.0) + time.perf_counter() - start

    pipeline.registry.invoke = timed
    return durations


def guard_writes(endpoint: str) -> list[str]:
    return [
        r["eventName"]
        for r in Emulator(endpoint).cloudtrail_records()
        if r["eventSource"] == "eks.amazonaws.com" and "eks-access-guard" in r["userIdentity"].get("arn", "")
    ]


# --- the sweep ---------------------------------------------------------------------------------------------


def bench_sweep(clusters: int, entries: int, ms: float) -> None:
    from access_guard.adapters.baseline_store import BaselineStore
    from access_guard.core.config import Config
    from access_guard.services.enforce import Enforcer
    from access_guard.services.reconcile import Reconciler
    from access_guard.services.sweep import sweep

    print(f"\nthe sweep: {clusters} clusters of {entries} entries at {ms:.0f} ms per EKS call:")
    with local_aws_process() as (endpoint, _):
        start = time.perf_counter()
        make_roles(endpoint, ["eks-cluster"])
        roles = make_roles(endpoint, [f"team-{i:04d}" for i in range(entries - 1)] + ["admins"])
        for c in range(clusters):
            make_cluster(endpoint, f"c{c:02d}", roles[:-1], admin=roles[-1])
        print(f"  (set-up: {clusters * entries} entries in {time.perf_counter() - start:.0f} s)")
        latency(endpoint, ms)
        iam, eks, ssm = clients(endpoint)
        counter = CallCounter(eks)
        enforcer = Enforcer(
            store=BaselineStore(ssm), reconciler=Reconciler(eks=eks, iam=iam), config=Config()
        )
        start = time.perf_counter()
        report = sweep(enforcer, REGION)
        took = time.perf_counter() - start
        writes = sum(len(r.outcome.written) for r in report.runs if r.outcome is not None)
        bench_report.figure(
            f"sweep of {clusters} x {entries} entries, full read in one Lambda at {ms:.0f} ms",
            took,
            "s",
            "within one Lambda run (900 s), nothing written",
            took < 900 and not report.errors and writes == 0,
            eks_calls=sum(counter.calls.values()),
            writes=writes,
        )
        print(
            f"  {len(report.runs)} clusters reconciled in {took:.1f} s (target: within one Lambda run, "
            f"900 s); {sum(counter.calls.values())} EKS calls; busy {len(report.busy)}, "
            f"errors {len(report.errors)}"
        )


def bench_scale(clusters: int, entries: int, ms: float, sizes: tuple[int, ...]) -> None:
    """The sweep's list check on `clusters` clusters of `entries` entries (no drift), against its full read;
    EKS calls per cluster per day, and wall time extrapolated to 100 clusters."""
    from access_guard.adapters.baseline_store import BaselineStore
    from access_guard.core.config import Config
    from access_guard.core.report import Trigger
    from access_guard.services.enforce import Enforcer
    from access_guard.services.reconcile import Reconciler
    from access_guard.services.sweep import check_cluster

    print(f"\nthe sweep at scale: {clusters} clusters of {entries} entries at {ms:.0f} ms per EKS call:")
    with local_aws_process() as (endpoint, _):
        start = time.perf_counter()
        make_roles(endpoint, ["eks-cluster"])
        roles = make_roles(endpoint, [f"team-{i:04d}" for i in range(entries - 1)] + ["admins"])
        names = [f"s{c:02d}" for c in range(clusters)]
        for name in names:
            make_cluster(endpoint, name, roles[:-1], admin=roles[-1])
        for size in sizes:
            make_cluster(endpoint, f"size-{size}", roles[: size - 1], admin=roles[-1])
        print(f"  (set-up: {clusters * entries + sum(sizes)} entries in {time.perf_counter() - start:.0f} s)")
        latency(endpoint, ms)
        iam, eks, ssm = clients(endpoint)
        counter = CallCounter(eks)
        enforcer = Enforcer(
            store=BaselineStore(ssm), reconciler=Reconciler(eks=eks, iam=iam), config=Config()
        )
        trigger = Trigger("sweep", "bench")

        def check(name: str) -> tuple[int, float, bool]:
            began = time.perf_counter()
            run, seen = check_cluster(enforcer, eks, name, REGION, trigger=trigger)
            assert seen is not None
            return seen.calls, time.perf_counter() - began, run.outcome is None and not seen.differ

        def full(name: str) -> tuple[int, float]:
            counter.reset()
            began = time.perf_counter()
            run = enforcer.run(name, REGION, trigger=trigger)
            assert run.outcome is not None and run.outcome.reached_baseline
            return sum(counter.calls.values()), time.perf_counter() - began

        one_by_one = [check(name) for name in names]
        calls = statistics.mean(c for c, _, _ in one_by_one)
        per_cluster = statistics.mean(t for _, t, _ in one_by_one)
        clean = all(ok for _, _, ok in one_by_one)
        start = time.perf_counter()
        with ThreadPoolExecutor(len(names)) as pool:  # every cluster its own run at once, as the fan-out
            list(pool.map(check, names))
        together = time.perf_counter() - start
        full_calls, full_seconds = full(names[0])
        per_100 = calls / entries * 100
        sweeps_a_day, full_reads_a_day = 24 * 60 / 15, 1
        a_day = calls * sweeps_a_day + full_calls * full_reads_a_day
        report.figure(
            f"sweep list check, no drift: EKS calls per 100 entries ({entries}-entry clusters)",
            per_100,
            "calls",
            "<= 3",
            per_100 <= 3 and clean,
        )
        report.figure(
            "sweep: EKS calls per cluster per day (list check every 15 min, full read daily)",
            a_day,
            "calls",
            f"full read every sweep: {full_calls * sweeps_a_day:.0f}",
            a_day < full_calls * sweeps_a_day,
        )
        report.figure(
            prices.SWEEP_SECONDS_PER_CLUSTER.replace("3,000", f"{entries:,}"), per_cluster, "s", None, None
        )
        report.figure(
            f"sweep list check of {clusters} x {entries} entries, clusters at once (the fan-out)",
            together,
            "s",
            None,
            None,
        )
        report.figure(
            "sweep list check, 100 clusters x 3,000 (extrapolated): fanned out",
            max(t for _, t, _ in one_by_one),
            "s",
            "within one Lambda run (900 s)",
            max(t for _, t, _ in one_by_one) < 900,
            one_at_a_time=round(per_cluster * 100, 1),
        )
        report.figure(
            f"sweep full read of one {entries}-entry cluster", full_seconds, "s", None, None, calls=full_calls
        )
        slowest = max(t for _, t, _ in one_by_one)
        print(
            f"  list check, no drift: {calls:.0f} EKS calls a cluster ({per_100:.2f} per 100 entries, "
            f"target <= 3), {per_cluster:.2f} s a cluster; all {clusters} at once {together:.1f} s; "
            f"full read of one: {full_calls} calls, {full_seconds:.1f} s"
        )
        print(
            f"  a day, a cluster (list check every 15 min, full read daily): {a_day:.0f} EKS calls "
            f"(full read every sweep: {full_calls * sweeps_a_day:.0f}); 100 clusters: "
            f"{per_cluster * 100:.0f} s one at a time, about {slowest:.1f} s fanned out (each its own run)"
        )
        points = []
        for size, name in [*((s, f"size-{s}") for s in sizes), (entries, names[0])]:
            cheap_calls, cheap_seconds, _ = check(name)
            full_calls, full_seconds = full(name)
            points.append(
                {
                    "entries": size,
                    "cheap_calls": cheap_calls,
                    "cheap_seconds": round(cheap_seconds, 3),
                    "full_calls": full_calls,
                    "full_seconds": round(full_seconds, 3),
                }
            )
        report.series("sweep_by_size", points)
        print(f"  by cluster size: {points}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=("targeted", "latency", "flood", "burst", "sweep", "scale"),
    )
    parser.add_argument("--drifts", type=int, default=100)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--flood", type=int, default=500)
    parser.add_argument("--flood-latencies-ms", type=float, nargs="*", default=[20.0, 100.0])
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--cluster-entries", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--scale-clusters", type=int, default=10)
    parser.add_argument("--scale-entries", type=int, default=3000)
    parser.add_argument("--scale-sizes", type=int, nargs="*", default=[100, 300, 1000])
    args = parser.parse_args(argv)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    # The figures only: the handlers' metrics (EMF lines on stdout in Lambda) would bury them.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    if "targeted" not in args.skip:
        bench_targeted()
    if "latency" not in args.skip:
        bench_latency(args.drifts, args.latency_ms)
    if "flood" not in args.skip:
        for ms in args.flood_latencies_ms:
            bench_flood(args.flood, ms)
    if "burst" not in args.skip:
        for ms in args.flood_latencies_ms:
            bench_burst(args.burst, ms)
    if "scale" not in args.skip:
        bench_scale(args.scale_clusters, args.scale_entries, args.latency_ms, tuple(args.scale_sizes))
    if "sweep" not in args.skip:
        bench_sweep(args.clusters, args.cluster_entries, args.latency_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
