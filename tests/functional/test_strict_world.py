"""The product under the strict local world (issue 14's numbered differences), each judged by the oracle.

`Pipeline.create(strict=True)` takes AWS's pace from the CDK's own settings (core.deployment): a failed work
item returns after its queue's visibility timeout, batches run at once (a FIFO source one per message
group); the emulator's settings add Parameter Store throttling and eventual consistency.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from access_guard.adapters.eks_writer import EksWriter
from access_guard.core import deployment
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring

from local.runner import Pipeline

from .scenario import ADMIN, REGION, VIEW, entry, recreate_role, role
from .test_pipeline import CLUSTER, make_cluster, person, push


@pytest.fixture
def strict(aws: Any, endpoint: str) -> Iterator[Pipeline]:
    aws.set_eks_settings(mode_update_seconds=0.05)
    made = Pipeline.create(endpoint, region=REGION, strict=True)
    wiring.reset()
    intake_handler.reset()
    yield made
    made.stop()
    wiring.reset()
    intake_handler.reset()


@pytest.fixture
def managed(strict: Pipeline, aws: Any) -> dict[str, Any]:
    platform, oncall = role("platform", "/platform/"), role("oncall")
    make_cluster(person("alice"))
    push(strict, entry(platform, (ADMIN, None)), entry(oncall, (VIEW, ["payments"])), prune=True)
    strict.drain()
    return {"platform": platform, "oncall": oncall, "bob": person("bob")}


def principals(aws: Any) -> set[str]:
    return {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}


def test_1_a_failed_work_item_returns_only_after_the_work_queues_visibility_timeout(
    managed: dict[str, Any], strict: Pipeline, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a remediation that dies before its first write, once
    write = EksWriter.write
    crashed: list[bool] = []

    def crash_once(self: EksWriter, cluster: str, action: Any) -> Any:
        if not crashed:
            crashed.append(True)
            raise RuntimeError("the Lambda died here")
        return write(self, cluster, action)

    monkeypatch.setattr(EksWriter, "write", crash_once)
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    strict.drain()
    assert crashed and managed["oncall"] not in principals(aws)
    # When nothing else happens, the item waits out the visibility timeout (as in AWS: 18 minutes)
    strict.drain()
    assert managed["oncall"] not in principals(aws)
    aws.advance_clock(deployment.WORK_VISIBILITY_TIMEOUT_SECONDS - 5)
    strict.drain()
    assert managed["oncall"] not in principals(aws)
    # Then it comes back once the timeout has passed, and the entry is repaired
    aws.advance_clock(10)
    strict.drain()
    assert managed["oncall"] in principals(aws)
    assert strict.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}


def test_5_an_iam_event_reads_the_baseline_index_not_every_baseline_under_ssms_throughput(
    strict: Pipeline, aws: Any
) -> None:
    from access_guard.core.limits import SSM_GET_TPS

    from local.calls import Call, add_listener

    # Given twelve managed clusters whose baselines name the on-call role, and Parameter Store's 40 TPS
    oncall, platform = role("oncall"), role("platform", "/platform/")
    alice = person("alice")
    role("eks-cluster")
    clusters = [f"c{i:02d}" for i in range(12)]
    for name in clusters:
        alice.client("eks").create_cluster(
            name=name,
            roleArn="arn:aws:iam::123456789012:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-1"]},
            accessConfig={"authenticationMode": "API"},
        )
        push_named(strict, name, entry(platform, (ADMIN, None)), entry(oncall, (VIEW, ["team"])))
    strict.drain()
    aws.set_strict(ssm_get_tps=SSM_GET_TPS)
    reads: list[str] = []

    def count(call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
        if call.operation.service == "ssm" and call.operation.name.startswith("GetParameter"):
            reads.append(call.caller.arn)

    add_listener(count)
    try:
        # When the role is deleted and made again, twice (IAM events)
        for _ in range(2):
            recreate_role(oncall)
            strict.drain()
    finally:
        from local import calls

        calls._LISTENERS.remove(count)
    # Then every cluster has the recreated role's entry back (a live one), nothing was dead-lettered
    for name in clusters:
        access = aws.access(name)
        assert oncall in {p["principalArn"] for p in access["principals"]}, name
        assert access["inactiveEntries"] == [], name
    assert strict.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}
    # and for its four IAM events the intake read at most a listing of the manifests each (two pages of ten),
    # not each cluster's baseline per event (reading them all: 98 reads, measured)
    by_intake = [arn for arn in reads if "eks-access-guard-intake" in arn]
    # (and the deployment's settings, read once per cold start)
    assert len(by_intake) <= 4 * 2 + 2, len(by_intake)


def test_6_a_recreated_principal_unknown_to_eks_for_seconds_gets_its_entry_back(
    managed: dict[str, Any], strict: Pipeline, aws: Any
) -> None:
    aws.set_strict(new_principal_seconds=2.5)
    recreate_role(managed["oncall"])
    strict.drain(timeout=120)
    access = aws.access(CLUSTER)
    assert managed["oncall"] in {p["principalArn"] for p in access["principals"]}
    assert access["inactiveEntries"] == []


def test_6_a_new_baseline_that_reads_as_missing_at_first_is_applied(strict: Pipeline, aws: Any) -> None:
    platform = role("platform", "/platform/")
    make_cluster(person("alice"))
    aws.set_strict(parameter_visible_after_seconds=1.0)
    push(strict, entry(platform, (ADMIN, None)), prune=True)
    strict.drain()
    assert aws.admins(CLUSTER) == [platform]


def push_named(pipeline: Pipeline, cluster: str, *entries: dict[str, Any], **guard: Any) -> None:
    import json

    import boto3
    from access_guard.adapters.baseline_store import BaselineStore

    from .scenario import baseline_doc

    text = json.dumps(baseline_doc(cluster, list(entries), **guard))
    BaselineStore(boto3.client("ssm", region_name=REGION), prefix=pipeline.prefix).put(text)


# --- 3: the gateway's resource policy and request validation -----------------------------------------


def session(role_arn: str, *, mfa: bool = False) -> Any:
    import boto3
    from botocore.credentials import Credentials

    extra = {"SerialNumber": "arn:aws:iam::123456789012:mfa/carol", "TokenCode": "123456"} if mfa else {}
    c = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role_arn, RoleSessionName="carol", **extra
    )
    k = c["Credentials"]
    return Credentials(k["AccessKeyId"], k["SecretAccessKey"], k["SessionToken"])


def user_keys(name: str) -> Any:
    import boto3
    from botocore.credentials import Credentials

    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def audit_records(strict: Pipeline) -> int:
    import boto3

    return int(boto3.client("dynamodb", region_name=REGION).scan(TableName=strict.tables["audit"])["Count"])


def access_log(group: str) -> list[dict[str, Any]]:
    import json

    import boto3

    events = boto3.client("logs", region_name=REGION).filter_log_events(logGroupName=group)["events"]
    return [json.loads(e["message"]) for e in events]


def test_3_the_deployed_resource_policy_and_validator_refuse_before_the_function_and_log_the_caller(
    managed: dict[str, Any], strict: Pipeline, aws: Any
) -> None:
    from access_guard.adapters.breakglass_client import BreakGlassClient

    from local.breakglass_api import LocalNames

    # Given the on-call role with its path, and the API deployed as the CDK makes it
    oncall = role("responder", "/ops/")
    url = strict.serve_api(oncall_principals=[oncall], tick_seconds=None, as_deployed=True)

    def api(credentials: Any) -> BreakGlassClient:
        return BreakGlassClient(url, credentials=credentials, region=REGION)

    restore = f"/clusters/{CLUSTER}/restore"
    # the on-call role's session is let through
    assert api(session(oncall)).call("GET", "/clusters").status == 200
    before = audit_records(strict)
    strict.notifications()
    # someone else (an IAM user; another role) is refused by the policy's explicit deny
    for credentials in (user_keys("mallory"), session(role("builder"))):
        answer = api(credentials).call("POST", restore, body={"reason": "INC-9 outage"})
        assert answer.status == 403 and "explicit deny" in str(answer.body), answer.body
    # a body that is not a JSON object is refused by the validator
    answer = api(session(oncall)).call("POST", restore, body=["INC-9"])
    assert (answer.status, answer.body) == (400, {"message": "Invalid request body"})
    # Then none of them reached the function: no audit record, no note
    assert audit_records(strict) == before
    assert strict.notifications(wait_seconds=0.5) == []
    # and the stage's access log has each refusal with the caller's ARN
    lines = access_log(LocalNames().access_log_group)
    refused = [(line["status"], line["userArn"].split(":")[-1]) for line in lines if line["status"] != "200"]
    assert refused == [
        ("403", "user/mallory"),
        ("403", "assumed-role/builder/carol"),
        ("400", "assumed-role/responder/carol"),
    ]


def test_3_a_configured_role_arn_without_its_path_is_denied_as_in_aws(
    managed: dict[str, Any], strict: Pipeline, aws: Any
) -> None:
    from access_guard.adapters.breakglass_client import BreakGlassClient

    actual = role("responder", "/ops/")
    without_path = actual.replace("role/ops/", "role/")
    url = strict.serve_api(oncall_principals=[without_path], tick_seconds=None, as_deployed=True)
    answer = BreakGlassClient(url, credentials=session(actual), region=REGION).call("GET", "/clusters")
    assert answer.status == 403, answer.body


def test_3_with_mfa_required_only_sessions_with_the_mfa_key_true_pass(
    managed: dict[str, Any], strict: Pipeline, aws: Any
) -> None:
    from access_guard.adapters.breakglass_client import BreakGlassClient

    plain = role("responder", "/ops/")
    sso = role("AWSReservedSSO_OnCall_0123456789abcdef", "/aws-reserved/sso.amazonaws.com/")
    url = strict.serve_api(
        oncall_principals=[plain, sso], tick_seconds=None, as_deployed=True, require_mfa=True
    )

    def status(credentials: Any) -> int:
        return BreakGlassClient(url, credentials=credentials, region=REGION).call("GET", "/clusters").status

    assert status(session(plain, mfa=True)) == 200
    assert status(session(plain)) == 403
    # An IAM Identity Center session carries no MFA key, whatever its sign-in: the MFA deny exempts Identity
    # Center's roles (their MFA is Identity Center's sign-in; issue 13), so it passes
    assert status(session(sso, mfa=True)) == 200


# --- 2: functions and message groups at once -----------------------------------------------------------


@pytest.fixture
def strict_processes(aws: Any, endpoint: str) -> Iterator[Pipeline]:
    """Strict, with every function in worker processes: concurrent batches of one function get their own
    environments, as in Lambda (in process they would share the handler's module state)."""
    aws.set_eks_settings(mode_update_seconds=0.05)
    made = Pipeline.create(endpoint, region=REGION, strict=True, isolation="process")
    yield made
    made.stop()


@pytest.mark.slow  # worker processes' cold starts: ~45 s on two busy cores
def test_2_work_for_different_clusters_is_remediated_in_parallel(
    strict_processes: Pipeline, aws: Any
) -> None:
    import time

    strict = strict_processes
    platform = role("platform", "/platform/")
    alice = person("alice")
    role("eks-cluster")
    clusters = ["a1", "a2", "a3", "a4"]
    for name in clusters:
        alice.client("eks").create_cluster(
            name=name,
            roleArn="arn:aws:iam::123456789012:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-1"]},
            accessConfig={"authenticationMode": "API"},
        )
        push_named(strict, name, entry(platform, (ADMIN, None)), prune=True)
    strict.drain()
    # Given EKS answering each remediation's first read slowly, and drift on every cluster at once
    aws.set_fault("eks:DescribeCluster", latency_ms=1500)
    bob = person("bob").client("eks")
    for name in clusters:
        bob.delete_access_entry(clusterName=name, principalArn=platform)
    aws.flush_cloudtrail_delivery()
    started = time.monotonic()
    strict.drain()
    elapsed = time.monotonic() - started
    aws.clear_faults()
    # Then every cluster is repaired, and not one after the other (4 x 1.5 s of reads alone, serially)
    for name in clusters:
        assert aws.admins(name) == [platform], name
    assert elapsed < 4 * 1.5, elapsed


# --- for the lead (issue 12/14 item 2): the product's fixes these local models wait for --------------------


def test_1_drift_made_while_a_long_run_holds_the_cluster_is_repaired_within_5_s_of_its_end(
    managed: dict[str, Any], strict: Pipeline, aws: Any
) -> None:
    """A busy cluster never stalls its queue: the work item that finds the cluster held leaves a pending
    mark and succeeds (no visibility timeout), and the holder, a long restore here, runs again for it."""
    import time

    from access_guard.core.report import Trigger
    from access_guard.handlers import wiring

    restore = wiring.enforcer(holder="restore", env={**strict.environment, "AWS_REGION": REGION})

    def a_long_restore(desired: Any, run: Any) -> Any:
        # while the restore holds the cluster, someone deletes an entry and its event is processed
        managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
        strict.drain(timeout=120)
        assert managed["oncall"] not in principals(aws)  # held: the item left a mark and succeeded
        return desired

    restore.run(CLUSTER, REGION, trigger=Trigger("restore", "a long restore"), prepare=a_long_restore)
    ended = time.monotonic()
    while managed["oncall"] not in principals(aws) and time.monotonic() - ended < 5:
        strict.drain()
        time.sleep(0.2)
    assert managed["oncall"] in principals(aws)
    assert not any(strict.dead_letters().values())


def test_7_a_grant_whose_schedule_fires_early_still_ends_within_2_s_of_its_end(
    managed: dict[str, Any], strict: Pipeline, aws: Any
) -> None:
    import threading
    import time
    from datetime import UTC, datetime, timedelta

    import boto3
    from access_guard.adapters.breakglass_client import BreakGlassClient
    from access_guard.core.limits import SCHEDULER_PRECISION_SECONDS

    from local.clock import SERVICE_CLOCK
    from local.runtime.scheduler import due_time

    engineer = role("engineer", "/ops/")
    url = strict.serve_api(
        oncall_principals=[engineer],
        tick_seconds=None,
        scheduler_precision_seconds=SCHEDULER_PRECISION_SECONDS,
    )
    body = {"accessPolicy": "AmazonEKSClusterAdminPolicy", "durationMinutes": 15, "reason": "INC-7 outage"}
    answer = BreakGlassClient(url, credentials=session(engineer), region=REGION).call(
        "POST", f"/clusters/{CLUSTER}/grants", body=body
    )
    assert answer.status == 201, answer.body
    end = datetime.fromisoformat(answer.body["grant"]["endsAt"].replace("Z", "+00:00"))
    scheduler_client = boto3.client("scheduler", region_name=REGION)
    [(arn, expression, due)] = [
        (
            s["Arn"],
            s["ScheduleExpression"],
            due_time(s["ScheduleExpression"], s.get("ScheduleExpressionTimezone")),
        )
        for group in scheduler_client.list_schedule_groups()["ScheduleGroups"]
        for summary in scheduler_client.list_schedules(GroupName=group["Name"])["Schedules"]
        for s in [scheduler_client.get_schedule(Name=summary["Name"], GroupName=group["Name"])]
    ]
    scheduler = strict.scheduler
    # a draw of Scheduler's minute that fires before the end, as AWS may
    seeds = [s for s in range(200) if _fire(scheduler, s, arn, expression, due) < end - timedelta(seconds=1)]
    if not seeds:
        pytest.skip("the grant ends at the start of its minute: no early firing possible")
    scheduler.seed = seeds[0]
    fires = scheduler.fire_time(arn, expression, due)
    # the schedule fires, early: the clock's move answers once the expiry it fired has returned, and the
    # expiry waits for the grant's end on the services' clock, so the move is made beside the test
    early = threading.Thread(
        target=aws.advance_clock, args=((fires - SERVICE_CLOCK.now()).total_seconds() + 0.1,), daemon=True
    )
    early.start()
    try:
        assert _until(lambda: SERVICE_CLOCK.now() >= fires)
        time.sleep(0.5)
        assert early.is_alive() and engineer in aws.admins(CLUSTER)  # the expiry waits: its grant is on
        aws.advance_clock(max(0.0, (end - SERVICE_CLOCK.now()).total_seconds()) + 2)  # 2 s past the end
        early.join(timeout=30)
        assert not early.is_alive()  # the expiry ended its wait when the clock reached the end
        assert engineer not in aws.admins(CLUSTER)
    finally:  # whatever failed above: no expiry is left waiting (local functions run one at a time)
        if early.is_alive():
            aws.advance_clock(max(0.0, (end - SERVICE_CLOCK.now()).total_seconds()) + 2)
            early.join(timeout=30)
    assert datetime.now(UTC) < end + timedelta(minutes=1)  # (the services' clock is ahead, not real time)


def _until(condition: Any, seconds: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _fire(scheduler: Any, seed: int, arn: str, expression: str, due: Any) -> Any:
    scheduler.seed = seed
    return scheduler.fire_time(arn, expression, due)
