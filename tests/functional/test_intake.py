"""The intake service against the local AWS: real EKS and IAM calls, their CloudTrail records parsed, the
intents resolved into work for managed clusters only, and the work queued on a FIFO queue."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from access_guard.adapters.baseline_store import BaselineStore
from access_guard.adapters.work_queue import WorkQueue
from access_guard.core.config import Config
from access_guard.core.events import BaselineChange, EksChange, Ignored, PrincipalChange, parse
from access_guard.core.work import WorkItem
from access_guard.services.intake import Intake, Resolution

from .scenario import ACCOUNT, REGION, VIEW, baseline_doc, create_cluster, entry, role

PREFIX = "/eks-access-guard/"
SELF_ROLE = f"arn:aws:iam::{ACCOUNT}:role/guard/remediate"


@pytest.fixture
def sqs(aws: Any) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def work_url(sqs: Any) -> str:
    return sqs.create_queue(
        QueueName="work.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    )["QueueUrl"]


@pytest.fixture
def store(aws: Any) -> BaselineStore:
    return BaselineStore(boto3.client("ssm", region_name=REGION), prefix=PREFIX)


def make_intake(store: BaselineStore, sqs: Any, work_url: str, config: Config | None = None) -> Intake:
    return Intake(
        store=store,
        eks=boto3.client("eks", region_name=REGION),
        queue=WorkQueue(sqs, work_url),
        config=config or Config(prefix=PREFIX, self_role_arns=frozenset({SELF_ROLE})),
    )


@pytest.fixture
def intake(store: BaselineStore, sqs: Any, work_url: str) -> Intake:
    return make_intake(store, sqs, work_url)


def push(store: BaselineStore, cluster: str, *entries: dict, auth: str | None = "API_AND_CONFIG_MAP") -> None:
    store.put(json.dumps(baseline_doc(cluster, list(entries), auth)))


def intent_of(emulator: Any, event_name: str) -> Any:
    """The intent of the newest CloudTrail record of `event_name` (as EventBridge delivers it: a record)."""
    record = [r for r in emulator.cloudtrail_records() if r["eventName"] == event_name][-1]
    return parse(record, account=ACCOUNT, region=REGION, prefix=PREFIX, self_roles=frozenset({SELF_ROLE}))


def queued(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message on the queue (one receive per group: FIFO holds a group's next while one is out)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch


def ssm_event(cluster: str, operation: str, region: str = REGION) -> BaselineChange:
    intent = parse(
        {
            "version": "0",
            "id": "6a7e4feb-b491-4cf7-a9f1-bf3703497718",
            "detail-type": "Parameter Store Change",
            "source": "aws.ssm",
            "account": ACCOUNT,
            "time": "2026-11-23T22:14:38Z",
            "region": region,
            "resources": [],
            "detail": {
                "operation": operation,
                "name": f"{PREFIX}clusters/{region}/{cluster}",
                "type": "String",
            },
        },
        account=ACCOUNT,
        region=REGION,
        prefix=PREFIX,
        self_roles=frozenset(),
    )
    assert isinstance(intent, BaselineChange)
    return intent


# --- EKS changes ----------------------------------------------------------------------------------------


def test_an_entry_deleted_on_a_managed_cluster_queues_work_for_that_principal(
    emulator: Any, intake: Intake, store: BaselineStore, sqs: Any, work_url: str
) -> None:
    # given: a managed cluster whose baseline names dev (with a path)
    dev = role("dev", "/team/")
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    push(store, "prod", entry(dev, (VIEW, None)))
    eks = boto3.client("eks", region_name=REGION)
    eks.create_access_entry(clusterName="prod", principalArn=dev)
    eks.delete_access_entry(clusterName="prod", principalArn=dev)
    intent = intent_of(emulator, "DeleteAccessEntry")
    # when
    resolution = intake.handle(intent)
    # then
    [work] = resolution.work
    assert (work.cluster, work.principals, work.trigger) == ("prod", (dev,), "event")
    assert work.reason == f"DeleteAccessEntry of {dev} on prod by arn:aws:iam::{ACCOUNT}:root from 127.0.0.1"
    [message] = queued(sqs, work_url)
    assert message["Attributes"]["MessageGroupId"] == f"{REGION}/prod"
    assert message["Attributes"]["MessageDeduplicationId"] == work.dedup_id
    assert WorkItem.from_json(message["Body"]) == work


def test_a_cluster_config_change_queues_work_for_the_whole_cluster(
    emulator: Any, intake: Intake, store: BaselineStore
) -> None:
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    push(store, "prod")
    boto3.client("eks", region_name=REGION).update_cluster_config(
        name="prod", accessConfig={"authenticationMode": "API"}
    )
    [work] = intake.handle(intent_of(emulator, "UpdateClusterConfig")).work
    assert (work.cluster, work.principals) == ("prod", None)


def test_a_change_on_a_cluster_without_a_baseline_is_dropped_and_nothing_is_queued(
    emulator: Any, intake: Intake, sqs: Any, work_url: str
) -> None:
    # given: a cluster the guard has no baseline for
    dev = role("dev")
    create_cluster("scratch", mode="API_AND_CONFIG_MAP")
    boto3.client("eks", region_name=REGION).create_access_entry(clusterName="scratch", principalArn=dev)
    # when
    resolution = intake.handle(intent_of(emulator, "CreateAccessEntry"))
    # then
    assert resolution == Resolution(
        dropped=f"unmanaged cluster scratch: no baseline stored for it in {REGION}"
    )
    assert queued(sqs, work_url) == []


def test_a_change_on_a_cluster_outside_the_configured_list_is_dropped_without_reading_ssm(
    emulator: Any, store: BaselineStore, sqs: Any, work_url: str
) -> None:
    # given: a baseline exists, but the configuration manages only "prod"
    create_cluster("staging", mode="API_AND_CONFIG_MAP")
    push(store, "staging")
    config = Config(prefix=PREFIX, clusters=frozenset({"prod"}))
    intake = make_intake(store, sqs, work_url, config)
    boto3.client("eks", region_name=REGION).update_cluster_config(
        name="staging", accessConfig={"authenticationMode": "API"}
    )
    emulator.set_fault("ssm:GetParameter", error_status=500, error_count=100)  # a read would fail the test
    # when
    resolution = intake.handle(intent_of(emulator, "UpdateClusterConfig"))
    # then
    assert (
        resolution.dropped == "unmanaged cluster staging: not in the configured list (ACCESS_GUARD_CLUSTERS)"
    )
    assert queued(sqs, work_url) == []


def test_an_ignored_event_is_dropped_with_its_reason(intake: Intake, sqs: Any, work_url: str) -> None:
    resolution = intake.handle(Ignored("read-only: 'ListAccessEntries' changes nothing", "e-1"))
    assert resolution == Resolution(dropped="read-only: 'ListAccessEntries' changes nothing")
    assert queued(sqs, work_url) == []


def test_resolving_queues_nothing(
    emulator: Any, intake: Intake, store: BaselineStore, sqs: Any, work_url: str
) -> None:
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    push(store, "prod")
    boto3.client("eks", region_name=REGION).update_cluster_config(
        name="prod", accessConfig={"authenticationMode": "API"}
    )
    assert intake.resolve(intent_of(emulator, "UpdateClusterConfig")).work
    assert queued(sqs, work_url) == []


# --- baselines -----------------------------------------------------------------------------------------


def test_a_baseline_update_queues_work_for_the_whole_cluster(intake: Intake, store: BaselineStore) -> None:
    push(store, "prod")
    [work] = intake.handle(ssm_event("prod", "Update")).work
    assert (work.cluster, work.principals, work.trigger) == ("prod", None, "baseline")


def test_a_deleted_baseline_queues_nothing_and_raises_an_alert(
    intake: Intake, store: BaselineStore, sqs: Any, work_url: str
) -> None:
    # given: the baseline of prod is deleted
    push(store, "prod")
    store.delete("prod", REGION)
    # when
    resolution = intake.handle(ssm_event("prod", "Delete"))
    # then
    assert resolution.work == []
    assert resolution.dropped == "baseline of prod deleted: nothing changed; an alert is raised"
    assert (
        resolution.alert is not None
        and "baseline of cluster prod (us-east-1) was deleted" in resolution.alert
    )
    assert queued(sqs, work_url) == []


def test_a_deleted_baseline_of_an_unmanaged_cluster_raises_no_alert(
    store: BaselineStore, sqs: Any, work_url: str
) -> None:
    intake = make_intake(store, sqs, work_url, Config(prefix=PREFIX, clusters=frozenset({"prod"})))
    resolution = intake.handle(ssm_event("staging", "Delete"))
    assert resolution.alert is None and resolution.dropped is not None


# --- IAM principals ------------------------------------------------------------------------------------


def test_a_deleted_role_queues_work_for_each_cluster_whose_baseline_names_it_by_any_path(
    emulator: Any, intake: Intake, store: BaselineStore, sqs: Any, work_url: str
) -> None:
    # given: two managed clusters name dev (with its path); a third does not
    dev = role("dev", "/team/")
    ops = role("ops")
    for name in ("prod", "staging", "other"):
        create_cluster(name, mode="API_AND_CONFIG_MAP")
    push(store, "prod", entry(dev, (VIEW, None)))
    push(store, "staging", entry(dev, (VIEW, None)), entry(ops, (VIEW, None)))
    push(store, "other", entry(ops, (VIEW, None)))
    # when: dev is deleted (the record names it "dev", no path)
    boto3.client("iam", region_name=REGION).delete_role(RoleName="dev")
    intent = intent_of(emulator, "DeleteRole")
    resolution = intake.handle(intent)
    # then
    assert isinstance(intent, PrincipalChange)
    assert sorted((w.cluster, w.principals, w.trigger) for w in resolution.work) == [
        ("prod", (dev,), "principal"),
        ("staging", (dev,), "principal"),
    ]
    assert sorted(m["Attributes"]["MessageGroupId"] for m in queued(sqs, work_url)) == [
        f"{REGION}/prod",
        f"{REGION}/staging",
    ]


def test_a_deleted_role_queues_work_for_a_cluster_with_a_live_entry_for_it(
    emulator: Any, intake: Intake, store: BaselineStore
) -> None:
    # given: the baseline does not name dev, but someone gave it an entry
    dev = role("dev", "/team/")
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    push(store, "prod")
    boto3.client("eks", region_name=REGION).create_access_entry(clusterName="prod", principalArn=dev)
    # when
    boto3.client("iam", region_name=REGION).delete_role(RoleName="dev")
    resolution = intake.handle(intent_of(emulator, "DeleteRole"))
    # then
    assert [(w.cluster, w.principals) for w in resolution.work] == [("prod", (dev,))]


def test_a_deleted_principal_sends_a_config_map_cluster_to_be_reconciled_whole(
    emulator: Any, intake: Intake, store: BaselineStore
) -> None:
    # given: a CONFIG_MAP cluster (its creator's admin access is invisible)
    role("dev")
    create_cluster("legacy", mode="CONFIG_MAP")
    push(store, "legacy", auth=None)
    # when
    boto3.client("iam", region_name=REGION).delete_role(RoleName="dev")
    resolution = intake.handle(intent_of(emulator, "DeleteRole"))
    # then
    [work] = resolution.work
    assert (work.cluster, work.principals) == ("legacy", None)
    assert "CONFIG_MAP mode" in work.reason


def test_a_created_principal_leaves_a_config_map_cluster_alone(
    emulator: Any, intake: Intake, store: BaselineStore
) -> None:
    create_cluster("legacy", mode="CONFIG_MAP")
    push(store, "legacy", auth=None)
    role("dev")
    resolution = intake.handle(intent_of(emulator, "CreateRole"))
    assert resolution.work == []
    assert resolution.dropped == f"CreateRole of role dev: no managed cluster in {REGION} references it"


def test_a_recreated_role_queues_work_where_its_stale_entry_is(
    emulator: Any, intake: Intake, store: BaselineStore
) -> None:
    # given: dev has an entry, then is deleted
    dev = role("dev", "/team/")
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    push(store, "prod", entry(dev, (VIEW, None)))
    boto3.client("eks", region_name=REGION).create_access_entry(clusterName="prod", principalArn=dev)
    boto3.client("iam", region_name=REGION).delete_role(RoleName="dev")
    # when: it is created again
    role("dev", "/team/")
    intent = intent_of(emulator, "CreateRole")
    resolution = intake.handle(intent)
    # then
    assert isinstance(intent, PrincipalChange) and intent.arn == dev
    assert [(w.cluster, w.principals) for w in resolution.work] == [("prod", (dev,))]


def test_a_user_of_the_same_name_as_a_referenced_role_is_not_it(
    emulator: Any, intake: Intake, store: BaselineStore
) -> None:
    dev = role("dev")
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    push(store, "prod", entry(dev, (VIEW, None)))
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="dev")
    iam.delete_user(UserName="dev")
    resolution = intake.handle(intent_of(emulator, "DeleteUser"))
    assert resolution.work == []


def test_a_principal_change_with_no_managed_cluster_is_dropped(emulator: Any, intake: Intake) -> None:
    role("dev")
    boto3.client("iam", region_name=REGION).delete_role(RoleName="dev")
    resolution = intake.handle(intent_of(emulator, "DeleteRole"))
    assert resolution == Resolution(dropped=f"DeleteRole of role dev: no managed cluster in {REGION}")


def test_only_this_regions_baselines_are_looked_at(
    emulator: Any, intake: Intake, store: BaselineStore, sqs: Any, work_url: str
) -> None:
    # given: a baseline stored for a cluster of another region names dev
    dev = role("dev")
    doc = baseline_doc("prod", [entry(dev, (VIEW, None))])
    doc["metadata"]["region"] = "eu-west-1"
    store.put(json.dumps(doc))
    # when
    boto3.client("iam", region_name=REGION).delete_role(RoleName="dev")
    resolution = intake.handle(intent_of(emulator, "DeleteRole"))
    # then
    assert resolution.work == [] and queued(sqs, work_url) == []


def test_an_eks_change_parsed_from_the_record_names_the_cluster_from_request_parameters(
    aws: Any,
) -> None:
    # The emulator's records are of the real shape: the path parameter `name`, the ARN URL-encoded.
    dev = role("dev", "/team/")
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    eks = boto3.client("eks", region_name=REGION)
    eks.create_access_entry(clusterName="prod", principalArn=dev)
    eks.associate_access_policy(
        clusterName="prod", principalArn=dev, policyArn=VIEW, accessScope={"type": "cluster"}
    )
    record = [r for r in aws.cloudtrail_records() if r["eventName"] == "AssociateAccessPolicy"][-1]
    assert record["requestParameters"]["principalArn"] != dev  # encoded on the wire
    intent = intent_of(aws, "AssociateAccessPolicy")
    assert isinstance(intent, EksChange) and (intent.cluster, intent.principal_arn) == ("prod", dev)
