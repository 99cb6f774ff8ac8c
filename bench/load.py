"""Load (issue 16): nothing lost, nothing written twice, p50 and p99 reported.

    python -m bench.load [--skip events breakglass]

- events: 1,000 UpdateAccessEntry calls across 10 managed clusters (100 each, made from 10 threads) while the
  local pipeline runs; then every cluster at its baseline by the oracle, no dead letters, and the guard's EKS
  writes no more than its runs (nothing written twice); p50/p99 of each cluster's last change to restored.
- breakglass: 100 concurrent break-glass requests through the local API (SigV4 HTTP, the local API Gateway,
  the handler): lists, drift, restores and grants, from 20 threads; every answer a 2xx or a clear 409 (the
  cluster held by another run), every request audited, every grant given recorded once (a grant refused
  with 409 is recorded ended and taken back, and its end audited); p50/p99 latency of each kind.

(The sweep of 50 clusters x 200 entries is in bench/pipeline.py.)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3

from bench import report
from bench.__main__ import ACCOUNT, REGION, local_aws_process
from bench.pipeline import clients, guard_writes, latency, make_cluster, make_roles, pipeline_over
from local.client import Emulator


def bench_events(clusters: int, events: int, ms: float) -> None:
    print(f"\nload: {events} events across {clusters} clusters at {ms:.0f} ms per EKS call:")
    with local_aws_process() as (endpoint, _):
        make_roles(endpoint, ["eks-cluster"])
        admin, viewer = make_roles(endpoint, ["admins", "viewer"])
        names = [f"load-{c:02d}" for c in range(clusters)]
        for name in names:
            make_cluster(endpoint, name, [viewer], admin=admin)
        pipeline = pipeline_over(endpoint)
        emulator = Emulator(endpoint)
        _, eks, _ = clients(endpoint)
        latency(endpoint, ms)
        pipeline.start()
        last: dict[str, float] = {}
        try:
            pipeline.wait_quiet(timeout=120)
            before = len(guard_writes(endpoint))

            def change(i: int) -> None:
                name = names[i % clusters]
                eks.update_access_entry(clusterName=name, principalArn=viewer, kubernetesGroups=[f"g{i % 7}"])
                last[name] = time.perf_counter()

            start = time.perf_counter()
            with ThreadPoolExecutor(10) as pool:
                list(pool.map(change, range(events)))
            restored: dict[str, float] = {}
            deadline = time.perf_counter() + 600
            while len(restored) < clusters and time.perf_counter() < deadline:
                for name in names:
                    if name in restored:
                        continue
                    groups = {
                        p["principalArn"]: p["kubernetesGroups"] for p in emulator.access(name)["principals"]
                    }
                    if groups.get(viewer) == []:
                        restored[name] = time.perf_counter() - last[name]
                time.sleep(0.1)
            pipeline.wait_quiet(timeout=300)
            took = time.perf_counter() - start
        finally:
            pipeline.stop()
        writes = guard_writes(endpoint)[before:]
        at_baseline = sum(
            1
            for name in names
            if emulator.admins(name, region=REGION) == [admin]
            and {p["principalArn"]: p["kubernetesGroups"] for p in emulator.access(name)["principals"]}.get(
                viewer
            )
            == []
        )
        dead = sum(pipeline.dead_letters().values())
        seconds = sorted(restored.values())
        p50, p99 = report.percentile(seconds, 50), report.percentile(seconds, 99)
        ok = at_baseline == clusters and dead == 0
        report.figure(
            f"load: {events} events across {clusters} clusters, clusters at baseline after",
            at_baseline,
            "clusters",
            f"{clusters} (nothing lost), no dead letters",
            ok,
            dead_letters=dead,
            guard_writes=len(writes),
            seconds=round(took, 1),
        )
        report.figure(f"load: last change to restored, p50 ({clusters} clusters)", p50, "s", None, None)
        report.figure(f"load: last change to restored, p99 ({clusters} clusters)", p99, "s", None, None)
        print(
            f"  {at_baseline}/{clusters} clusters at their baseline, dead letters {dead}, the guard's EKS "
            f"writes {len(writes)} ({dict(Counter(writes))}), {took:.1f} s in all; last change to restored "
            f"p50 {p50:.2f} s, p99 {p99:.2f} s"
        )


def bench_breakglass(requests: int, ms: float) -> None:
    from access_guard.adapters import clients as guard_clients
    from access_guard.adapters.baseline_store import BaselineStore
    from access_guard.adapters.breakglass_client import BreakGlassClient
    from access_guard.core.config import Env
    from botocore.credentials import Credentials

    from bench.__main__ import ONCALL_ROLE, make_baseline, populate
    from local.breakglass_api import serve_api
    from local.runtime import FunctionRegistry
    from local.server import LocalAWS

    print(f"\nload: {requests} concurrent break-glass requests at {ms:.0f} ms per EKS call:")
    server = LocalAWS(port=0)
    endpoint = server.start()
    try:
        guard_clients.clear_cache()
        populate(endpoint, 100)
        boto3.client("iam", region_name=REGION, endpoint_url=endpoint).create_role(
            RoleName="oncall", Path="/aws-reserved/identity-center/", AssumeRolePolicyDocument="{}"
        )
        ssm = boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)
        from access_guard.core.baseline import dump

        BaselineStore(ssm).put(dump(make_baseline(100, prune=True, max_deletions=10), "json"))
        registry = FunctionRegistry(region=REGION, account_id=ACCOUNT, endpoint_url=endpoint)
        gateway = serve_api(
            registry,
            oncall_principals=[ONCALL_ROLE],
            settings={Env.RATE_LIMIT_PER_MINUTE: "1000"},
            log_level="ERROR",
        )
        sts = boto3.client("sts", region_name=REGION, endpoint_url=endpoint)
        c = sts.assume_role(RoleArn=ONCALL_ROLE, RoleSessionName="bench")["Credentials"]
        api = BreakGlassClient(
            gateway.endpoint,
            credentials=Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
            region=REGION,
        )
        emulator = Emulator(endpoint)
        for op in (
            "DescribeCluster",
            "ListAccessEntries",
            "DescribeAccessEntry",
            "ListAssociatedAccessPolicies",
        ):
            emulator.set_fault(f"eks:{op}", latency_ms=ms)
        api.call("GET", "/clusters")  # cold start
        dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        tables = {t for t in dynamodb.list_tables()["TableNames"]}
        audit_table = next(t for t in tables if "audit" in t)
        grants_table = next(t for t in tables if "grants" in t)
        audited_before = dynamodb.scan(TableName=audit_table, Select="COUNT")["Count"]
        kinds = ["list", "restore", "grant", "list", "drift"]

        def one(i: int) -> tuple[str, int, float, str | None]:
            kind = kinds[i % len(kinds)]
            start = time.perf_counter()
            if kind == "list":
                answer = api.call("GET", "/clusters/bench/grants")
            elif kind == "drift":
                answer = api.call("GET", "/clusters/bench/drift")
            elif kind == "restore":
                answer = api.call("POST", "/clusters/bench/restore", body={"reason": f"load {i}"})
            else:
                answer = api.call(
                    "POST",
                    "/clusters/bench/grants",
                    body={
                        "accessPolicy": "AmazonEKSViewPolicy",
                        "durationMinutes": 30,
                        "reason": f"load {i}",
                    },
                )
            grant = answer.body.get("grant", {}).get("grantId") if isinstance(answer.body, dict) else None
            return kind, answer.status, time.perf_counter() - start, grant

        start = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(one, range(requests)))
        took = time.perf_counter() - start
        audited = dynamodb.scan(TableName=audit_table, Select="COUNT")["Count"] - audited_before
        granted = [g for _, status, _, g in answers if status == 201 and g]
        stored = [i["grantId"]["S"] for i in dynamodb.scan(TableName=grants_table)["Items"] if "grantId" in i]
        statuses = Counter(status for _, status, _, _ in answers)
        bad = {s: n for s, n in statuses.items() if not (200 <= s < 300 or s == 409)}
        twice = len(stored) != len(set(stored))
        lost = sorted(set(granted) - set(stored))
        # every call is audited (a grant refused and taken back adds the record of its end)
        ok = not bad and not lost and not twice and audited >= requests
        report.figure(
            f"load: {requests} concurrent break-glass requests, answered 2xx or 409",
            requests - sum(bad.values()),
            "requests",
            f"{requests}, each audited once, each grant recorded once",
            ok,
            statuses={str(k): v for k, v in statuses.items()},
            audited=audited,
            grants_recorded=len(set(stored)),
            seconds=round(took, 1),
        )
        for kind in sorted(set(kinds)):
            times = sorted(t for k, _, t, _ in answers if k == kind)
            report.figure(f"load: break glass {kind}, p50", report.percentile(times, 50), "s", None, None)
            report.figure(f"load: break glass {kind}, p99", report.percentile(times, 99), "s", None, None)
            print(
                f"  {kind:<8} {len(times):3} requests: p50 {report.percentile(times, 50):.2f} s, "
                f"p99 {report.percentile(times, 99):.2f} s"
            )
        print(
            f"  statuses {dict(statuses)}; audited {audited} of {requests}; grants given {len(granted)}, "
            f"recorded {len(set(stored))} (twice: {twice}, lost: {lost}); {took:.1f} s in all"
        )
        gateway.stop()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], choices=("events", "breakglass"))
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    if "events" not in args.skip:
        bench_events(args.clusters, args.events, args.latency_ms)
    if "breakglass" not in args.skip:
        bench_breakglass(args.requests, args.latency_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
