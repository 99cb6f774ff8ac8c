"""CloudTrail to EventBridge delivery: the envelope an SQS target receives, forwarding to another region's
bus, and delivery made late, twice, out of order or never on purpose."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

import local.cloudtrail
from local.client import Emulator, EmulatorError

ACCOUNT = "123456789012"
TRUST = '{"Version": "2012-10-17", "Statement": []}'
DETAIL_TYPE = "AWS API Call via CloudTrail"
ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
IAM_EVENTS = {"source": ["aws.iam"], "detail-type": [DETAIL_TYPE]}


def queue(region: str, name: str = "events", *, fifo: bool = False) -> tuple[str, str]:
    """(URL, ARN) of a new queue; a FIFO one with content-based deduplication."""
    sqs = boto3.client("sqs", region_name=region)
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name + (".fifo" if fifo else ""), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def rule(region: str, name: str, pattern: dict[str, Any], *targets: dict[str, Any]) -> None:
    events = boto3.client("events", region_name=region)
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, Targets=list(targets))


def messages(region: str, url: str, **extra: Any) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=region)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, **extra)
    return got.get("Messages", [])


def bodies(region: str, url: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in messages(region, url)]


def create_users(*names: str) -> None:
    iam = boto3.client("iam")
    for name in names:
        iam.create_user(UserName=name)


def user_names(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["requestParameters"]["userName"] for e in envelopes]


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def envelopes(aws: Emulator) -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []
    local.cloudtrail.subscribe(got.append)
    yield got
    local.cloudtrail.unsubscribe(got.append)


# --- what a queue target receives ---------------------------------------------------------------------


def test_an_sqs_target_receives_the_whole_eventbridge_envelope(
    aws: Emulator, envelopes: list[dict[str, Any]]
) -> None:
    # given a rule for IAM calls with a standard queue target
    url, arn = queue("us-east-1")
    rule("us-east-1", "iam", IAM_EVENTS, {"Id": "q", "Arn": arn})
    # when a user is created
    create_users("bob")
    # then the queue's message is the envelope EventBridge delivered, every field of it
    [body] = bodies("us-east-1", url)
    assert set(body) == ENVELOPE_KEYS
    assert body == envelopes[0]
    assert (body["account"], body["region"], body["source"]) == (ACCOUNT, "us-east-1", "aws.iam")
    assert body["time"] == body["detail"]["eventTime"]
    assert body["detail"] == aws.cloudtrail_records()[0]


def test_a_fifo_target_with_a_message_group_receives_the_whole_envelope(aws: Emulator) -> None:
    # given a rule with a FIFO queue target (content-based deduplication, a fixed message group)
    url, arn = queue("us-east-1", fifo=True)
    target = {"Id": "q", "Arn": arn, "SqsParameters": {"MessageGroupId": "access-changes"}}
    rule("us-east-1", "iam", IAM_EVENTS, target)
    # when two users are created
    create_users("bob", "carol")
    # then both envelopes arrive, whole, in order, in the rule's message group
    got = messages("us-east-1", url, MessageSystemAttributeNames=["MessageGroupId"])
    assert [m["Attributes"]["MessageGroupId"] for m in got] == ["access-changes", "access-changes"]
    received = [json.loads(m["Body"]) for m in got]
    assert all(set(b) == ENVELOPE_KEYS and b["account"] == ACCOUNT for b in received)
    assert user_names(received) == ["bob", "carol"]


def test_a_duplicate_delivery_reaches_a_standard_queue_twice_and_a_fifo_queue_once(aws: Emulator) -> None:
    # given a standard and a FIFO queue behind the same rule, and the next event delivered twice
    standard_url, standard_arn = queue("us-east-1", "standard")
    fifo_url, fifo_arn = queue("us-east-1", "ordered", fifo=True)
    fifo = {"Id": "fifo", "Arn": fifo_arn, "SqsParameters": {"MessageGroupId": "g"}}
    rule("us-east-1", "iam", IAM_EVENTS, {"Id": "standard", "Arn": standard_arn}, fifo)
    aws.set_cloudtrail_delivery(twice_next=1)
    # when a user is created
    create_users("bob")
    # then the standard queue has the same event twice; content-based deduplication absorbs the repeat
    twice = bodies("us-east-1", standard_url)
    assert len(twice) == 2 and twice[0] == twice[1]
    assert bodies("us-east-1", fifo_url) == twice[:1]


def test_an_iam_event_forwarded_to_another_regions_bus_reaches_that_buses_queue(
    aws: Emulator, envelopes: list[dict[str, Any]]
) -> None:
    # given a us-east-1 rule forwarding IAM events to eu-west-1's default bus, and there a rule with a queue
    bus = f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default"
    rule("us-east-1", "forward-iam", IAM_EVENTS, {"Id": "bus", "Arn": bus})
    url, arn = queue("eu-west-1")
    rule("eu-west-1", "iam-here", {"source": ["aws.iam"]}, {"Id": "q", "Arn": arn})
    # when a role is deleted (IAM is global: its event is recorded in us-east-1)
    iam = boto3.client("iam", region_name="eu-west-1")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=TRUST)
    iam.delete_role(RoleName="ops")
    # then the eu-west-1 queue has both events, forwarded: a new id, the rest as delivered in us-east-1
    forwarded = bodies("eu-west-1", url)
    assert [b["detail"]["eventName"] for b in forwarded] == ["CreateRole", "DeleteRole"]
    for original, copy in zip(envelopes, forwarded, strict=True):
        assert set(copy) == ENVELOPE_KEYS
        assert copy["id"] != original["id"]
        assert {k: v for k, v in copy.items() if k != "id"} == {
            k: v for k, v in original.items() if k != "id"
        }
    assert forwarded[1]["source"] == "aws.iam"
    assert forwarded[1]["detail"]["requestParameters"] == {"roleName": "ops"}


def test_a_forwarded_event_is_not_forwarded_again(aws: Emulator) -> None:
    # given us-east-1 -> eu-west-1 -> us-west-2 forwarding rules, and a queue on us-west-2's bus
    rule(
        "us-east-1",
        "hop-1",
        IAM_EVENTS,
        {"Id": "b", "Arn": f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default"},
    )
    rule(
        "eu-west-1",
        "hop-2",
        IAM_EVENTS,
        {"Id": "b", "Arn": f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/default"},
    )
    url, arn = queue("us-west-2")
    rule("us-west-2", "end", IAM_EVENTS, {"Id": "q", "Arn": arn})
    # when a user is created
    create_users("bob")
    # then EventBridge's one bus-to-bus hop ends in eu-west-1
    assert bodies("us-west-2", url) == []


# --- delivery made late, twice, out of order, or never ------------------------------------------------


def test_by_default_an_event_is_delivered_before_the_call_returns(envelopes: list[dict[str, Any]]) -> None:
    create_users("bob")
    assert user_names(envelopes) == ["bob"]


def test_a_delivery_delay_holds_events_back_without_holding_up_the_local_aws(
    aws: Emulator, envelopes: list[dict[str, Any]]
) -> None:
    # given every event is delivered ten minutes after its call
    aws.set_cloudtrail_delivery(delay_seconds=600)
    # when users are created
    create_users("bob", "carol")
    # then nothing has arrived, both wait, and the local AWS answers meanwhile (no lock is held)
    assert envelopes == []
    assert aws.cloudtrail_delivery()["waiting"] == 2
    assert len(boto3.client("iam").list_users()["Users"]) == 2
    assert [r["eventName"] for r in aws.cloudtrail_records()] == ["CreateUser", "CreateUser"]
    # and a flush delivers them, in order
    assert aws.flush_cloudtrail_delivery() == 2
    assert user_names(envelopes) == ["bob", "carol"]
    assert aws.cloudtrail_delivery()["waiting"] == 0


def test_a_short_delay_is_delivered_by_the_background_thread(aws: Emulator) -> None:
    url, arn = queue("us-east-1")
    rule("us-east-1", "iam", IAM_EVENTS, {"Id": "q", "Arn": arn})
    aws.set_cloudtrail_delivery(delay_seconds=0.05)
    create_users("bob")
    got: list[dict[str, Any]] = []
    wait_for(lambda: bool(got.extend(bodies("us-east-1", url)) or got))
    assert user_names(got) == ["bob"]


def test_late_events_arrive_after_later_ones(aws: Emulator, envelopes: list[dict[str, Any]]) -> None:
    # given the next event is delivered late
    aws.set_cloudtrail_delivery(late_next=1, late_seconds=600)
    # when two users are created
    create_users("bob", "carol")
    # then the second arrives first, and the first once it is due (here: flushed)
    assert user_names(envelopes) == ["carol"]
    aws.flush_cloudtrail_delivery()
    assert user_names(envelopes) == ["carol", "bob"]


def test_twice_delivers_the_same_event_twice(aws: Emulator, envelopes: list[dict[str, Any]]) -> None:
    aws.set_cloudtrail_delivery(twice_next=1)
    create_users("bob", "carol")
    assert user_names(envelopes) == ["bob", "bob", "carol"]
    assert envelopes[0] == envelopes[1]


def test_reverse_holds_events_then_delivers_them_newest_first(
    aws: Emulator, envelopes: list[dict[str, Any]]
) -> None:
    # given the next three events are to arrive newest first
    aws.set_cloudtrail_delivery(reverse_next=3)
    # when two calls are made, nothing arrives: they are held
    create_users("a", "b")
    assert envelopes == []
    assert aws.cloudtrail_delivery()["held"] == 2
    # and the third releases all three, newest first; later events are delivered as usual
    create_users("c", "d")
    assert user_names(envelopes) == ["c", "b", "a", "d"]


def test_a_dropped_event_never_arrives_but_cloudtrail_has_it(
    aws: Emulator, envelopes: list[dict[str, Any]]
) -> None:
    aws.set_cloudtrail_delivery(drop_next=1)
    create_users("bob", "carol")
    assert user_names(envelopes) == ["carol"]
    assert aws.flush_cloudtrail_delivery() == 0
    events = boto3.client("cloudtrail").lookup_events()["Events"]
    assert sorted(e["EventName"] for e in events) == ["CreateUser", "CreateUser"]


def test_counted_controls_are_used_up(aws: Emulator, envelopes: list[dict[str, Any]]) -> None:
    aws.set_cloudtrail_delivery(twice_next=1, drop_next=1)
    create_users("a", "b", "c")
    # the first event is dropped (a dropped event uses up nothing else); the next is delivered twice
    assert user_names(envelopes) == ["b", "b", "c"]
    settings = aws.cloudtrail_delivery()
    assert (settings["twiceNext"], settings["dropNext"]) == (0, 0)


def test_a_subscriber_may_call_the_local_aws_while_a_flush_delivers(aws: Emulator) -> None:
    seen: list[int] = []

    def calls_back(envelope: dict[str, Any]) -> None:
        seen.append(len(boto3.client("iam").list_users()["Users"]))

    aws.set_cloudtrail_delivery(delay_seconds=600)
    local.cloudtrail.subscribe(calls_back)
    try:
        create_users("bob")
        assert aws.flush_cloudtrail_delivery() == 1
    finally:
        local.cloudtrail.unsubscribe(calls_back)
    assert seen == [1]


def test_a_reset_forgets_waiting_and_held_events_and_the_settings(
    aws: Emulator, envelopes: list[dict[str, Any]]
) -> None:
    # given one event waiting for its delay and one held for a reversal
    aws.set_cloudtrail_delivery(late_next=1, late_seconds=600)
    create_users("a")
    aws.set_cloudtrail_delivery(reverse_next=2)
    create_users("b")
    settings = aws.cloudtrail_delivery()
    assert (settings["waiting"], settings["held"]) == (1, 1)
    # when the emulator is reset
    aws.reset()
    # then nothing is left to deliver, and delivery is immediate again
    assert aws.flush_cloudtrail_delivery() == 0
    assert aws.cloudtrail_delivery() == {
        "delaySeconds": 0.0,
        "lateNext": 0,
        "lateSeconds": 0.0,
        "twiceNext": 0,
        "reverseNext": 0,
        "dropNext": 0,
        "waiting": 0,
        "held": 0,
    }
    create_users("c")
    assert user_names(envelopes) == ["c"]


@pytest.mark.parametrize(
    "setting",
    [
        {"delay_seconds": -1},
        {"delay_seconds": 3601},
        {"late_seconds": float("nan")},
        {"twice_next": -1},
        {"reverse_next": 1.5},
        {"drop_next": True},
    ],
)
def test_bad_delivery_settings_are_refused(aws: Emulator, setting: dict[str, Any]) -> None:
    with pytest.raises(EmulatorError, match="400"):
        aws.set_cloudtrail_delivery(**setting)
    assert aws.cloudtrail_delivery()["delaySeconds"] == 0.0
