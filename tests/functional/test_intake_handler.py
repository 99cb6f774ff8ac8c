"""The intake Lambda handler on the local pipeline: real EKS, IAM and SSM-event traffic reaches it through
the runtime's own EventBridge patterns, an SQS intake queue and the local Lambda runtime's SQS event source
mapping; its work lands on a FIFO queue. Bad bodies are acknowledged with a log line; AWS errors retry."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from access_guard.adapters import clients
from access_guard.core.config import SERVICE_NAME, Env
from access_guard.core.triggers import patterns
from access_guard.core.work import WorkItem
from access_guard.handlers import intake as intake_handler
from moto.events.models import EventPattern

from local.runtime import FunctionRegistry, LambdaContext, SqsEventSource

from .scenario import ACCOUNT, REGION, VIEW, baseline_doc, create_cluster, entry, role

PREFIX = "/eks-access-guard/"
SELF_ROLE_NAME = "eks-access-guard-remediate"


class Logged(logging.Handler):
    """The handler's log messages (the Powertools logger is a standard logger named after the service)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    """Every test is a cold start: no config, clients or adapters from another test."""
    intake_handler.reset()
    clients.clear_cache()
    yield
    intake_handler.reset()
    clients.clear_cache()


@pytest.fixture
def logged() -> Iterator[Logged]:
    handler = Logged()
    logger = logging.getLogger(SERVICE_NAME)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


class Pipeline:
    """The intake half of the service on the local AWS: rules -> intake queue -> intake function -> FIFO."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.intake_url = self.sqs.create_queue(QueueName="intake")["QueueUrl"]
        self.work_url = self.sqs.create_queue(
            QueueName="work.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        )["QueueUrl"]
        self.self_role = role(SELF_ROLE_NAME, "/guard/")
        self.registry = FunctionRegistry(region=REGION, account_id=ACCOUNT, endpoint_url=aws.endpoint_url)
        self.registry.register(
            "intake",
            intake_handler.handler,
            timeout=60,
            environment={
                Env.PREFIX: PREFIX,
                Env.WORK_QUEUE_URL: self.work_url,
                Env.SELF_ROLE_ARNS: self.self_role,
                "AWS_ENDPOINT_URL": aws.endpoint_url,
            },
        )
        self.store_ssm = boto3.client("ssm", region_name=REGION)

    def wire(self) -> None:
        """The service's EventBridge rules (the runtime's own patterns) sending to the intake queue."""
        events = boto3.client("events", region_name=REGION)
        arn = self.sqs.get_queue_attributes(QueueUrl=self.intake_url, AttributeNames=["QueueArn"])
        for name, pattern in patterns(PREFIX).items():
            events.put_rule(Name=f"guard-{name}", EventPattern=json.dumps(pattern))
            events.put_targets(
                Rule=f"guard-{name}", Targets=[{"Id": "intake", "Arn": arn["Attributes"]["QueueArn"]}]
            )

    def run(self) -> None:
        SqsEventSource(self.registry, "intake", self.intake_url).run_until_idle()

    def work(self) -> list[dict[str, Any]]:
        """Every message on the work queue (received, not deleted)."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.work_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=300,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages += batch

    def waiting(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        got = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return int(got[names[0]]), int(got[names[1]])

    def push(self, cluster: str, *entries: dict) -> None:
        from access_guard.adapters.baseline_store import BaselineStore

        BaselineStore(self.store_ssm, prefix=PREFIX).put(json.dumps(baseline_doc(cluster, list(entries))))


@pytest.fixture
def pipeline(aws: Any) -> Pipeline:
    return Pipeline(aws)


def user_session(name: str) -> boto3.Session:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )


def role_session(role_arn: str, session_name: str) -> boto3.Session:
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role_arn, RoleSessionName=session_name
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def managed_cluster_with_dev(pipeline: Pipeline) -> str:
    """prod, managed, whose baseline names dev (with a path); dev has its entry. Returns dev's ARN."""
    dev = role("dev", "/team/")
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    pipeline.push("prod", entry(dev, (VIEW, None)))
    boto3.client("eks", region_name=REGION).create_access_entry(clusterName="prod", principalArn=dev)
    return dev


# --- through the whole local pipeline --------------------------------------------------------------------


def test_an_entry_deleted_by_someone_reaches_the_work_queue_as_targeted_work(pipeline: Pipeline) -> None:
    # given: a managed cluster, the service's rules in place
    dev = managed_cluster_with_dev(pipeline)
    pipeline.wire()
    # when: mallory deletes dev's entry
    user_session("mallory").client("eks").delete_access_entry(clusterName="prod", principalArn=dev)
    pipeline.run()
    # then: one work item for prod, for dev, saying who did it
    [message] = pipeline.work()
    work = WorkItem.from_json(message["Body"])
    assert message["Attributes"]["MessageGroupId"] == f"{REGION}/prod"
    assert message["Attributes"]["MessageDeduplicationId"] == work.dedup_id
    assert (work.cluster, work.principals, work.trigger, work.event_name) == (
        "prod",
        (dev,),
        "event",
        "DeleteAccessEntry",
    )
    mallory = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    assert work.actor == mallory
    assert work.reason == f"DeleteAccessEntry of {dev} on prod by {mallory} from 127.0.0.1"
    [record] = [r for r in pipeline.aws.cloudtrail_records() if r["eventName"] == "DeleteAccessEntry"]
    assert work.event_id == record["eventID"]
    assert pipeline.waiting(pipeline.intake_url) == (0, 0)


def test_a_deleted_role_reaches_the_work_queue_for_the_cluster_that_names_it(pipeline: Pipeline) -> None:
    dev = managed_cluster_with_dev(pipeline)
    pipeline.wire()
    boto3.client("iam", region_name=REGION).delete_role(RoleName="dev")
    pipeline.run()
    [message] = pipeline.work()
    work = WorkItem.from_json(message["Body"])
    assert (work.cluster, work.principals, work.trigger, work.event_name) == (
        "prod",
        (dev,),
        "principal",
        "DeleteRole",
    )


def test_a_baseline_change_event_reaches_the_work_queue_as_whole_cluster_work(pipeline: Pipeline) -> None:
    # given: a managed cluster; SSM's change event as EventBridge delivers it to the intake queue (the
    # emulator publishes no SSM events, and moto's own PutEvents-to-SQS body leaves out `account`)
    create_cluster("prod", mode="API_AND_CONFIG_MAP")
    pipeline.push("prod")
    name = f"{PREFIX}clusters/{REGION}/prod"
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Parameter Store Change",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": "2026-11-23T22:14:38Z",
        "region": REGION,
        "resources": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"],
        "detail": {"operation": "Update", "name": name, "type": "String", "description": ""},
    }
    assert EventPattern.load(json.dumps(patterns(PREFIX)["baseline"])).matches_event(event)  # the rule's
    pipeline.sqs.send_message(QueueUrl=pipeline.intake_url, MessageBody=json.dumps(event))
    # when
    pipeline.run()
    # then
    [message] = pipeline.work()
    work = WorkItem.from_json(message["Body"])
    assert (work.cluster, work.principals, work.trigger, work.event_id) == (
        "prod",
        None,
        "baseline",
        event["id"],
    )


def test_an_event_delivered_twice_is_queued_once(pipeline: Pipeline, logged: Logged) -> None:
    # given: CloudTrail delivers the next event twice (the same eventID)
    dev = managed_cluster_with_dev(pipeline)
    pipeline.wire()
    pipeline.aws.set_cloudtrail_delivery(twice_next=1)
    # when
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName="prod", principalArn=dev)
    pipeline.run()
    # then: the intake queued work for both deliveries; the FIFO queue kept one
    assert sum(m.startswith("queued 1 work item(s) for us-east-1/prod") for m in logged.messages) == 2
    assert len(pipeline.work()) == 1


def test_the_services_own_write_queues_nothing(pipeline: Pipeline, logged: Logged) -> None:
    # given: the service's own role deletes an entry (a remediation's own write coming back)
    dev = managed_cluster_with_dev(pipeline)
    pipeline.wire()
    guard = role_session(pipeline.self_role, "remediate")
    # when
    guard.client("eks").delete_access_entry(clusterName="prod", principalArn=dev)
    pipeline.run()
    # then
    assert pipeline.work() == []
    assert f"dropped: the service's own write: DeleteAccessEntry by {pipeline.self_role}" in logged.messages


def test_a_change_to_an_unmanaged_cluster_queues_nothing_and_says_why(
    pipeline: Pipeline, logged: Logged
) -> None:
    dev = role("dev")
    create_cluster("scratch", mode="API_AND_CONFIG_MAP")
    pipeline.wire()
    boto3.client("eks", region_name=REGION).create_access_entry(clusterName="scratch", principalArn=dev)
    pipeline.run()
    assert pipeline.work() == []
    assert f"dropped: unmanaged cluster scratch: no baseline stored for it in {REGION}" in logged.messages


def test_bodies_that_never_parse_are_acknowledged_with_a_log_line(pipeline: Pipeline, logged: Logged) -> None:
    # given: garbage on the intake queue
    for body in ("not json", "{}", json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": []})):
        pipeline.sqs.send_message(QueueUrl=pipeline.intake_url, MessageBody=body)
    # when
    pipeline.run()
    # then: gone from the queue (not retried), nothing queued, each said why
    assert pipeline.waiting(pipeline.intake_url) == (0, 0)
    assert pipeline.work() == []
    assert "dropped: malformed: not JSON (Expecting value: line 1, column 1)" in logged.messages
    assert any(m.startswith("dropped: malformed: neither an EventBridge event") for m in logged.messages)
    assert "dropped: malformed: source is missing" in logged.messages


# --- the handler itself ----------------------------------------------------------------------------------


def sqs_record(body: str) -> dict[str, Any]:
    """A Lambda SQS record as the event source mapping builds it (local/runtime/sqs.py)."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764000000000"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:intake",
        "awsRegion": REGION,
    }


def context() -> LambdaContext:
    return LambdaContext(
        function_name="intake",
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:intake",
        aws_request_id=str(uuid.uuid4()),
        deadline=float("inf"),
    )


@pytest.fixture
def direct(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The handler called directly (its environment set here, as Lambda would), one try per AWS call."""
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv(Env.PREFIX, PREFIX)
    monkeypatch.setenv(Env.WORK_QUEUE_URL, pipeline.work_url)
    monkeypatch.setattr(clients, "MAX_ATTEMPTS", 1)
    return pipeline


def test_an_aws_error_fails_only_that_record_so_it_is_retried(direct: Pipeline) -> None:
    # given: a batch of a good event and another; SQS fails the first send (one try per call)
    dev = managed_cluster_with_dev(direct)
    eks = boto3.client("eks", region_name=REGION)
    eks.delete_access_entry(clusterName="prod", principalArn=dev)
    [record] = [r for r in direct.aws.cloudtrail_records() if r["eventName"] == "DeleteAccessEntry"]
    unmanaged = sqs_record(
        json.dumps({**record, "requestParameters": {**record["requestParameters"], "name": "x"}})
    )
    failing = sqs_record(json.dumps(record))
    direct.aws.set_fault("sqs:SendMessageBatch", error_status=500, error_count=1)
    # when
    response = intake_handler.handler({"Records": [unmanaged, failing]}, context())
    # then: only the record whose work could not be queued is reported, and it succeeds when retried
    assert response == {"batchItemFailures": [{"itemIdentifier": failing["messageId"]}]}
    assert direct.work() == []
    assert intake_handler.handler({"Records": [failing]}, context()) == {"batchItemFailures": []}
    assert len(direct.work()) == 1


def test_the_account_comes_from_the_function_arn_unless_configured(
    direct: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the service says it is another account
    dev = managed_cluster_with_dev(direct)
    boto3.client("eks", region_name=REGION).delete_access_entry(clusterName="prod", principalArn=dev)
    [record] = [r for r in direct.aws.cloudtrail_records() if r["eventName"] == "DeleteAccessEntry"]
    monkeypatch.setenv(Env.ACCOUNT_ID, "210987654321")
    # when
    intake_handler.handler({"Records": [sqs_record(json.dumps(record))]}, context())
    # then: the record's account is not the service's
    assert direct.work() == []


def test_the_config_is_read_once_per_cold_start(direct: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    intake_handler.handler({"Records": [sqs_record("{}")]}, context())
    monkeypatch.setenv(Env.WORK_QUEUE_URL, "https://elsewhere")
    intake_handler.handler({"Records": [sqs_record("{}")]}, context())
    assert intake_handler._cold is not None and intake_handler._cold.config.work_queue_url == direct.work_url


def test_the_handler_module_imports_no_yaml_and_nothing_of_the_local_aws() -> None:
    code = (
        "import sys, access_guard.handlers.intake; "
        "print(sorted(m for m in ('yaml', 'moto', 'local') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
