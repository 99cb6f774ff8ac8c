"""`make bench`: the performance figures of issue 3, measured and printed (never asserted in tests).

- planning a 1,000-entry cluster (target: under 50 ms);
- reading a 1,000-entry cluster with 20 ms of emulated latency on every EKS call (targets: at most 2N + 3 EKS
  calls; wall time within 1.3 x calls x latency / concurrency at the default concurrency);
- applying a drift of k changes (target: k write calls);
- break glass (issue 8): the restore round trip through the local API (SigV4 HTTP, the local API Gateway, the
  handler) for a 100-entry cluster at 20 ms per EKS call (target: under 1 s), and the delay between a grant's
  end and its revocation under the local scheduler (with its tick interval).

The local AWS runs in a separate process (`python -m local serve`) so that the server's work does not share
this process's GIL with the client being measured.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import boto3
from access_guard.core import planner
from access_guard.core.model import (
    AccessScope,
    Baseline,
    EntrySpec,
    GuardSettings,
    LiveEntry,
    LiveState,
    PolicyAssociation,
)
from access_guard.core.policies import POLICY_ARN_PREFIX
from access_guard.core.principals import default_username

from bench import report
from local.client import Emulator

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "bench"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
EDIT = POLICY_ARN_PREFIX + "AmazonEKSEditPolicy"
ADMIN = POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"
EKS_READS = ("DescribeCluster", "ListAccessEntries", "DescribeAccessEntry", "ListAssociatedAccessPolicies")


def role_arn(i: int) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/team-{i:04d}"


def spec(i: int) -> EntrySpec:
    policy = ADMIN if i == 0 else (VIEW if i % 2 else EDIT)
    scope = AccessScope() if i == 0 else AccessScope.of("namespace", [f"team-{i:04d}", "shared"])
    return EntrySpec(
        principal_arn=role_arn(i),
        kubernetes_groups=(f"team-{i % 7}",),
        policies=(PolicyAssociation(policy, scope),),
    )


def make_baseline(n: int, **settings: object) -> Baseline:
    return Baseline(
        cluster=CLUSTER,
        region=REGION,
        authentication_mode="API_AND_CONFIG_MAP",
        entries=tuple(spec(i) for i in range(n)),
        settings=GuardSettings(**settings),  # type: ignore[arg-type]
    )


# --- 1. planning ----------------------------------------------------------------------------------------


def bench_planning(n: int, runs: int) -> None:
    baseline = make_baseline(n, prune=True, max_deletions=50)
    now = datetime.now(UTC)
    entries = {}
    for s in baseline.entries:
        entries[s.principal_arn] = LiveEntry(
            principal_arn=s.principal_arn,
            type="STANDARD",
            username=default_username(s.principal_arn),
            kubernetes_groups=s.kubernetes_groups,
            policies=s.policies,
            created_at=now,
            principal_status="ok",
        )
    # Some drift so the planner has work to do: 1% missing, 1% re-scoped, 1% rogue.
    for i in range(1, n, 100):
        entries.pop(role_arn(i), None)
    for i in range(2, n, 100):
        e = entries[role_arn(i)]
        entries[e.principal_arn] = replace(
            e, policies=(PolicyAssociation(e.policies[0].policy_arn, AccessScope()),)
        )
    for i in range(n // 100):
        arn = f"arn:aws:iam::{ACCOUNT}:role/rogue-{i}"
        entries[arn] = LiveEntry(
            arn, "STANDARD", arn, (), (PolicyAssociation(ADMIN, AccessScope()),), now, "ok"
        )
    live = LiveState(CLUSTER, REGION, ACCOUNT, "API_AND_CONFIG_MAP", entries)

    timings = []
    plan = None
    for _ in range(runs):
        start = time.perf_counter()
        plan = planner.plan(baseline, live)
        timings.append((time.perf_counter() - start) * 1000)
    assert plan is not None
    print(f"planning, {n} entries with {len(plan.actions)} actions of drift, {runs} runs:")
    print(
        f"  median {statistics.median(timings):.1f} ms, min {min(timings):.1f} ms, "
        f"max {max(timings):.1f} ms (target < 50 ms)"
    )
    median = statistics.median(timings)
    report.figure(f"plan of {n} entries (median)", median, "ms", "< 50 ms", median < 50)


# --- the local AWS in its own process --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_aws_process() -> Iterator[tuple[str, int]]:
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "local", "serve", "--port", str(port), "--emulator-only"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                Emulator(endpoint).health()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the local AWS did not start") from None
                time.sleep(0.1)
        yield endpoint, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class CallCounter:
    """Counts HTTP requests per operation made by a boto3 client (retries included)."""

    def __init__(self, client: object) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-send", self._count)  # type: ignore[attr-defined]

    def _count(self, request: object, **kwargs: object) -> None:
        context = getattr(request, "context", {}) or {}
        self.calls[
            str(context.get("operation_name") or kwargs.get("event_name", "?")).rsplit(".", 1)[-1]
        ] += 1

    def reads(self) -> int:
        return sum(v for k, v in self.calls.items() if k.startswith(("Describe", "List")))

    def writes(self) -> int:
        return sum(v for k, v in self.calls.items() if not k.startswith(("Describe", "List")))

    def reset(self) -> None:
        self.calls.clear()


def populate(endpoint: str, n: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config

    config = Config(max_pool_connections=16, retries={"mode": "standard", "max_attempts": 8})
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint, config=config)
    eks = boto3.client("eks", region_name=REGION, endpoint_url=endpoint, config=config)
    trust = '{"Version":"2012-10-17","Statement":[]}'
    iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=trust)
    eks.create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={
            "authenticationMode": "API_AND_CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    )

    def one(i: int) -> None:
        s = spec(i)
        iam.create_role(RoleName=s.principal_arn.rsplit("/", 1)[-1], AssumeRolePolicyDocument=trust)
        eks.create_access_entry(
            clusterName=CLUSTER, principalArn=s.principal_arn, kubernetesGroups=list(s.kubernetes_groups)
        )
        for p in s.policies:
            eks.associate_access_policy(
                clusterName=CLUSTER,
                principalArn=s.principal_arn,
                policyArn=p.policy_arn,
                accessScope=p.scope.to_api(),
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


# --- 2 and 3. reading and applying ------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (Linux /proc), to show what bounds the wall time."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def bench_read_and_apply(
    n: int, latency_ms: float, concurrency: int | None, extra_latencies_ms: tuple[float, ...] = ()
) -> None:
    from access_guard.adapters.clients import client
    from access_guard.services.reconcile import Reconciler

    with local_aws_process() as (endpoint, server_pid):
        start = time.perf_counter()
        populate(endpoint, n)
        print(f"\n(set-up: {n} IAM roles, entries and associations in {time.perf_counter() - start:.1f} s)")
        emulator = Emulator(endpoint)
        eks = client(
            "eks", region=REGION, endpoint_url=endpoint, max_pool_connections=max(concurrency or 10, 10)
        )
        iam = client("iam", region=REGION, endpoint_url=endpoint)
        counter = CallCounter(eks)
        kwargs = {} if concurrency is None else {"concurrency": concurrency}
        reconciler = Reconciler(eks=eks, iam=iam, mode_update_poll_seconds=0.2, **kwargs)  # type: ignore[arg-type]
        used_concurrency = concurrency if concurrency is not None else _default_concurrency()
        baseline = make_baseline(n, prune=True, max_deletions=10)

        for latency in (latency_ms, *extra_latencies_ms):
            for op in EKS_READS:
                emulator.set_fault(f"eks:{op}", latency_ms=latency)
            reconciler.read(baseline)  # warm the connection pool
            counter.reset()
            client_cpu, server_cpu = time.process_time(), process_cpu_seconds(server_pid)
            start = time.perf_counter()
            live = reconciler.read(baseline)
            wall = time.perf_counter() - start
            client_cpu = time.process_time() - client_cpu
            server_cpu = process_cpu_seconds(server_pid) - server_cpu
            calls = counter.reads()
            ideal = calls * latency / 1000 / used_concurrency
            print(
                f"reading {len(live.entries)} entries at {latency:.0f} ms per EKS call, "
                f"concurrency {used_concurrency}:"
            )
            print(f"  EKS calls: {calls} ({dict(counter.calls)}); 2N + 3 = {2 * n + 3}")
            print(
                f"  wall time {wall:.2f} s; calls x latency / concurrency = {ideal:.2f} s; "
                f"ratio {wall / ideal:.2f} (target <= 1.3)"
            )
            report.figure(
                f"full read of {n} entries at {latency:.0f} ms: wall / concurrency floor",
                wall / ideal,
                "x",
                "<= 1.3 (at 100 ms)" if latency >= 100 else None,
                wall / ideal <= 1.3 if latency >= 100 else None,
                calls=calls,
                seconds=round(wall, 3),
            )
            print(
                f"  CPU: client {client_cpu:.2f} s ({client_cpu / calls * 1000:.1f} ms a call), local AWS "
                f"{server_cpu:.2f} s ({server_cpu / calls * 1000:.1f} ms a call), on {os.cpu_count()} cores"
            )

        # Drift: k changes made behind the guard's back, each needing exactly one write to undo.
        emulator.clear_faults()
        raw = boto3.client("eks", region_name=REGION, endpoint_url=endpoint)
        raw.update_access_entry(
            clusterName=CLUSTER, principalArn=role_arn(3), kubernetesGroups=["intruders"]
        )  # 1 update
        raw.associate_access_policy(  # 1 re-scope
            clusterName=CLUSTER, principalArn=role_arn(5), policyArn=VIEW, accessScope={"type": "cluster"}
        )
        raw.disassociate_access_policy(
            clusterName=CLUSTER, principalArn=role_arn(7), policyArn=VIEW
        )  # 1 associate
        raw.delete_access_entry(clusterName=CLUSTER, principalArn=role_arn(9))  # 1 create + 1 associate
        boto3.client("iam", region_name=REGION, endpoint_url=endpoint).create_role(
            RoleName="rogue", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}'
        )
        rogue = f"arn:aws:iam::{ACCOUNT}:role/rogue"
        raw.create_access_entry(clusterName=CLUSTER, principalArn=rogue)  # 1 delete
        expected_k = 6
        counter.reset()
        start = time.perf_counter()
        outcome = reconciler.apply(baseline)
        wall = time.perf_counter() - start
        print(
            f"applying a drift of k = {expected_k} changes "
            "(update, re-scope, associate, create + associate, delete):"
        )
        print(
            f"  plan actions {len(outcome.plan.actions)}; EKS write calls {counter.writes()} "
            f"(target k = {expected_k}); "
            f"all succeeded: {outcome.succeeded}; {wall:.2f} s"
        )
        counter.reset()
        _, again = reconciler.plan(baseline)
        print(
            f"  re-plan after apply: {len(again.actions)} actions; writes during re-plan: {counter.writes()}"
        )


# --- 4. break glass ----------------------------------------------------------------------------------------

EKS_OPERATIONS = (
    *EKS_READS,
    "CreateAccessEntry",
    "UpdateAccessEntry",
    "DeleteAccessEntry",
    "AssociateAccessPolicy",
    "DisassociateAccessPolicy",
)
ONCALL_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/identity-center/oncall"


class ShiftedClock:
    """Real time plus an offset: the services' clock, moved ahead so a one-minute grant ends in seconds."""

    def __init__(self) -> None:
        from datetime import timedelta

        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def bench_breakglass(n: int, latency_ms: float, runs: int, tick_seconds: float, grants: int) -> None:
    from local.server import LocalAWS

    # The local API Gateway checks signatures against the IAM and STS state of the local AWS in its own
    # process. Measured twice: everything in one process, as `python -m local serve --api-port` runs it
    # (the emulator's CPU shares the handler's GIL); and with the cluster's local AWS in its own process
    # (the callers' identities stay in this one), which is closer to the product's own cost.
    server = LocalAWS(port=0)
    identities = server.start()
    try:
        _bench_breakglass("one process", identities, identities, n, latency_ms, runs, tick_seconds, grants)
        Emulator(identities).reset()
        with local_aws_process() as (endpoint, _):
            _bench_breakglass(
                "the local AWS in its own process",
                endpoint,
                identities,
                n,
                latency_ms,
                runs,
                tick_seconds,
                grants,
            )
    finally:
        server.stop()


def _bench_breakglass(
    label: str,
    endpoint: str,
    identities: str,
    n: int,
    latency_ms: float,
    runs: int,
    tick_seconds: float,
    grants: int,
) -> None:
    from datetime import timedelta

    from access_guard.adapters import clients
    from access_guard.adapters.baseline_store import BaselineStore
    from access_guard.adapters.breakglass_client import BreakGlassClient
    from access_guard.core.baseline import dump
    from access_guard.core.config import Env
    from botocore.credentials import Credentials

    from local.breakglass_api import expiry_scheduler, serve_api
    from local.runtime import FunctionRegistry

    clients.clear_cache()
    populate(endpoint, n)
    for where in {endpoint, identities}:
        boto3.client("iam", region_name=REGION, endpoint_url=where).create_role(
            RoleName="oncall", Path="/aws-reserved/identity-center/", AssumeRolePolicyDocument="{}"
        )
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)
    BaselineStore(ssm).put(dump(make_baseline(n, prune=True, max_deletions=10), "json"))
    registry = FunctionRegistry(region=REGION, account_id=ACCOUNT, endpoint_url=endpoint)
    clock = ShiftedClock()
    gateway = serve_api(
        registry,
        oncall_principals=[ONCALL_ROLE],
        clock=clock,
        settings={Env.RATE_LIMIT_PER_MINUTE: "1000"},
        log_level="ERROR",
    )
    sts = boto3.client("sts", region_name=REGION, endpoint_url=identities)
    c = sts.assume_role(RoleArn=ONCALL_ROLE, RoleSessionName="bench")["Credentials"]
    api = BreakGlassClient(
        gateway.endpoint,
        credentials=Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
        region=REGION,
    )
    emulator = Emulator(endpoint)
    raw = boto3.client("eks", region_name=REGION, endpoint_url=endpoint)
    restore = f"/clusters/{CLUSTER}/restore"
    try:
        for op in EKS_OPERATIONS:
            emulator.set_fault(f"eks:{op}", latency_ms=latency_ms)
        api.call("POST", restore, body={"reason": "warm up"})  # cold start: imports, clients
        quiet, locked_out = [], []
        for _ in range(runs):
            start = time.perf_counter()
            answer = api.call("POST", restore, body={"reason": "bench: nothing to do"})
            quiet.append(time.perf_counter() - start)
            raw.delete_access_entry(clusterName=CLUSTER, principalArn=role_arn(0))  # the only admin
            start = time.perf_counter()
            answer = api.call("POST", restore, body={"reason": "bench: locked out"})
            locked_out.append(time.perf_counter() - start)
            if answer.status != 200 or not answer.body["reachedBaseline"]:
                raise RuntimeError(f"the restore did not reach the baseline: {answer.body}")
        writes = len(answer.body["outcome"]["done"])
        print(
            f"\nbreak-glass restore round trip ({label}), {n} entries, {latency_ms:.0f} ms per EKS call "
            "(SigV4 HTTP -> local API Gateway -> handler -> EKS), warm:"
        )
        print(
            f"  locked out (the admin entry deleted; {writes} writes): median "
            f"{statistics.median(locked_out):.2f} s, min {min(locked_out):.2f} s, "
            f"max {max(locked_out):.2f} s over {runs} runs (target < 1 s)"
        )
        print(f"  nothing to restore: median {statistics.median(quiet):.2f} s, max {max(quiet):.2f} s")
        median = statistics.median(locked_out)
        report.figure(
            f"break-glass restore, {n} entries, {latency_ms:.0f} ms ({label}; median)",
            median,
            "s",
            "< 1 s",
            median < 1,
        )

        scheduler = expiry_scheduler(registry, clock=clock)
        scheduler.start(tick_seconds)
        delays, recorded = [], []
        try:
            for _ in range(grants):
                made = api.call(
                    "POST",
                    f"/clusters/{CLUSTER}/grants",
                    body={"accessPolicy": "AmazonEKSViewPolicy", "durationMinutes": 1, "reason": "bench"},
                )
                if made.status != 201:
                    raise RuntimeError(f"the grant was refused: {made.body}")
                ends_at = datetime.fromisoformat(made.body["grant"]["endsAt"])
                # move the services' (and the scheduler's) clock: the grant now ends in 2 s
                clock.offset += ends_at - clock() - timedelta(seconds=2)
                end = time.perf_counter() + (ends_at - clock()).total_seconds()
                while ONCALL_ROLE in {
                    p["principalArn"] for p in emulator.access(CLUSTER, region=REGION)["principals"]
                }:
                    time.sleep(0.02)
                delays.append(time.perf_counter() - end)
                grant_id = made.body["grant"]["grantId"]
                listed = api.call("GET", f"/clusters/{CLUSTER}/grants").body["grants"]
                mine = next(g for g in listed if g["grantId"] == grant_id)
                revoked_at = mine["revokedAt"]
                recorded.append(
                    (datetime.fromisoformat(revoked_at) - ends_at).total_seconds()
                    if revoked_at
                    else float("nan")
                )
        finally:
            scheduler.stop()
        print(
            f"grant end -> revocation under the local scheduler ({label}; tick every {tick_seconds:g} s; "
            f"at() has whole seconds, rounded up), {grants} grants:"
        )
        print(
            f"  access gone by the oracle: median {statistics.median(delays):.2f} s, "
            f"max {max(delays):.2f} s after the end (bound: tick + 1 s rounding + one targeted run)"
        )
        report.figure(
            f"grant end to revocation, {tick_seconds:g} s tick ({label}; max)",
            max(delays),
            "s",
            "< 2 s",
            max(delays) < 2,
        )
        print(
            f"  revokedAt - endsAt in the grants table: median {statistics.median(recorded):.2f} s, "
            f"max {max(recorded):.2f} s"
        )
    finally:
        gateway.stop()


def _default_concurrency() -> int:
    import inspect

    from access_guard.services.reconcile import Reconciler

    return int(inspect.signature(Reconciler).parameters["concurrency"].default)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--also-latency-ms",
        type=float,
        nargs="*",
        default=[100.0],
        help="further latencies to read at (where latency, not CPU, dominates)",
    )
    parser.add_argument("--concurrency", type=int, default=None, help="default: the reconciler's default")
    parser.add_argument("--plan-runs", type=int, default=25)
    parser.add_argument("--skip-read", action="store_true", help="planning only")
    parser.add_argument("--breakglass-entries", type=int, default=100)
    parser.add_argument("--restore-runs", type=int, default=5)
    parser.add_argument("--tick-seconds", type=float, default=1.0, help="the local scheduler's tick")
    parser.add_argument("--grants", type=int, default=5, help="grants ended, for the delay")
    parser.add_argument("--skip-breakglass", action="store_true")
    args = parser.parse_args(argv)
    # Only ever the local AWS: dummy credentials, never the caller's real ones.
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    print(
        f"python {sys.version.split()[0]} on {os.cpu_count()} cores; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    bench_planning(args.entries, args.plan_runs)
    if not args.skip_read:
        bench_read_and_apply(args.entries, args.latency_ms, args.concurrency, tuple(args.also_latency_ms))
    if not args.skip_breakglass:
        bench_breakglass(
            args.breakglass_entries, args.latency_ms, args.restore_runs, args.tick_seconds, args.grants
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
