"""CloudTrail's LookupEvents through boto3: filters, time ranges, paging, regions and bad input."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.client import Emulator

TRUST = '{"Version": "2012-10-17", "Statement": []}'


def events(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list(response["Events"])


def refused(call: Any, **params: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def cloudtrail(aws: Emulator) -> Any:
    return boto3.client("cloudtrail")


def make_users(*names: str) -> None:
    iam = boto3.client("iam")
    for name in names:
        iam.create_user(UserName=name)


def test_events_come_newest_first_with_the_record_as_cloudtrail_event(aws: Emulator, cloudtrail: Any) -> None:
    make_users("a", "b", "c")

    found = events(cloudtrail.lookup_events())

    assert [json.loads(e["CloudTrailEvent"])["requestParameters"]["userName"] for e in found] == [
        "c",
        "b",
        "a",
    ]
    first = found[0]
    record = json.loads(first["CloudTrailEvent"])
    assert first["EventId"] == record["eventID"]
    assert first["EventName"] == "CreateUser"
    assert first["EventSource"] == "iam.amazonaws.com"
    assert first["ReadOnly"] == "false"
    assert first["Username"] == "root"
    assert first["AccessKeyId"] == "testing"
    assert first["Resources"] == [{"ResourceType": "AWS::IAM::User", "ResourceName": "c"}]
    assert first["EventTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == record["eventTime"]


def test_event_name_filter(aws: Emulator, cloudtrail: Any) -> None:
    iam = boto3.client("iam")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=TRUST)
    iam.delete_role(RoleName="ops")

    found = events(
        cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteRole"}]
        )
    )

    assert [e["EventName"] for e in found] == ["DeleteRole"]
    assert json.loads(found[0]["CloudTrailEvent"])["requestParameters"] == {"roleName": "ops"}


def test_event_id_filter_finds_exactly_that_event(aws: Emulator, cloudtrail: Any) -> None:
    make_users("a", "b")
    wanted = events(cloudtrail.lookup_events())[1]["EventId"]

    found = events(
        cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": wanted}])
    )

    assert [e["EventId"] for e in found] == [wanted]


def test_username_and_access_key_filters_find_an_iam_users_calls(aws: Emulator, cloudtrail: Any) -> None:
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = boto3.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    alice.create_user(UserName="made-by-alice")

    by_name = events(
        cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "alice"}])
    )
    by_key = events(
        cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key["AccessKeyId"]}]
        )
    )

    assert [e["Resources"][0]["ResourceName"] for e in by_name] == ["made-by-alice"]
    assert by_key == by_name


def test_resource_and_source_filters(aws: Emulator, cloudtrail: Any) -> None:
    make_users("a", "b")
    boto3.client("iam").create_role(RoleName="b", AssumeRolePolicyDocument=TRUST)

    def lookup(key: str, value: str) -> list[str]:
        found = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
        return [e["EventName"] for e in found["Events"]]

    assert lookup("ResourceName", "b") == ["CreateRole", "CreateUser"]
    assert lookup("ResourceType", "AWS::IAM::Role") == ["CreateRole"]
    assert lookup("EventSource", "iam.amazonaws.com") == ["CreateRole", "CreateUser", "CreateUser"]
    assert lookup("EventSource", "eks.amazonaws.com") == []
    assert lookup("ReadOnly", "true") == []
    assert len(lookup("ReadOnly", "false")) == 3


def test_pages_of_max_results_follow_next_token_without_gaps_or_repeats(
    aws: Emulator, cloudtrail: Any
) -> None:
    make_users(*(f"u{n}" for n in range(5)))
    every = [e["EventId"] for e in events(cloudtrail.lookup_events())]

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        response = cloudtrail.lookup_events(MaxResults=2, **({"NextToken": token} if token else {}))
        pages.append([e["EventId"] for e in response["Events"]])
        token = response.get("NextToken")
        if not token:
            break

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == every


def test_the_boto3_paginator_walks_every_event(aws: Emulator, cloudtrail: Any) -> None:
    make_users(*(f"u{n}" for n in range(7)))
    paginator = cloudtrail.get_paginator("lookup_events")
    seen = [
        e["EventName"]
        for page in paginator.paginate(PaginationConfig={"PageSize": 3})
        for e in page["Events"]
    ]
    assert seen == ["CreateUser"] * 7


def test_time_range_filters_by_event_time(aws: Emulator, cloudtrail: Any) -> None:
    make_users("early")
    time.sleep(1.1)
    middle = datetime.now(UTC)
    time.sleep(1.1)
    make_users("late")

    after = events(cloudtrail.lookup_events(StartTime=middle))
    before = events(cloudtrail.lookup_events(EndTime=middle))
    future = events(cloudtrail.lookup_events(StartTime=datetime.now(UTC) + timedelta(minutes=5)))

    assert [e["Resources"][0]["ResourceName"] for e in after] == ["late"]
    assert [e["Resources"][0]["ResourceName"] for e in before] == ["early"]
    assert future == []


def test_events_are_kept_per_region_and_iam_lands_in_us_east_1(aws: Emulator) -> None:
    boto3.client("iam", region_name="eu-west-1").create_user(UserName="global")
    with pytest.raises(ClientError):
        boto3.client("eks", region_name="eu-west-1").delete_cluster(name="nope")

    in_virginia = events(boto3.client("cloudtrail", region_name="us-east-1").lookup_events())
    in_ireland = events(boto3.client("cloudtrail", region_name="eu-west-1").lookup_events())

    assert [e["EventName"] for e in in_virginia] == ["CreateUser"]
    assert [e["EventName"] for e in in_ireland] == ["DeleteCluster"]
    assert in_ireland[0]["Resources"] == [{"ResourceType": "AWS::EKS::Cluster", "ResourceName": "nope"}]


def test_more_than_one_lookup_attribute_is_refused(aws: Emulator, cloudtrail: Any) -> None:
    attributes = [
        {"AttributeKey": "EventName", "AttributeValue": "CreateUser"},
        {"AttributeKey": "Username", "AttributeValue": "root"},
    ]
    assert refused(cloudtrail.lookup_events, LookupAttributes=attributes) == (
        "InvalidLookupAttributesException",
        400,
    )


def test_an_unknown_lookup_attribute_key_is_refused(aws: Emulator, cloudtrail: Any) -> None:
    attributes = [{"AttributeKey": "ClusterName", "AttributeValue": "prod"}]
    assert refused(cloudtrail.lookup_events, LookupAttributes=attributes) == (
        "InvalidLookupAttributesException",
        400,
    )


def test_max_results_above_50_is_refused(aws: Emulator, cloudtrail: Any) -> None:
    assert refused(cloudtrail.lookup_events, MaxResults=51) == ("InvalidMaxResultsException", 400)


def test_a_start_after_the_end_is_refused(aws: Emulator, cloudtrail: Any) -> None:
    now = datetime.now(UTC)
    code = refused(cloudtrail.lookup_events, StartTime=now, EndTime=now - timedelta(hours=1))
    assert code == ("InvalidTimeRangeException", 400)


def test_a_forged_next_token_is_refused(aws: Emulator, cloudtrail: Any) -> None:
    assert refused(cloudtrail.lookup_events, NextToken="not-a-token") == ("InvalidNextTokenException", 400)


def test_a_next_token_is_refused_with_other_parameters(aws: Emulator, cloudtrail: Any) -> None:
    make_users("a", "b", "c")
    token = cloudtrail.lookup_events(MaxResults=1)["NextToken"]
    attributes = [{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}]
    code = refused(cloudtrail.lookup_events, MaxResults=1, NextToken=token, LookupAttributes=attributes)
    assert code == ("InvalidNextTokenException", 400)


def test_an_unknown_event_category_is_refused(aws: Emulator, cloudtrail: Any) -> None:
    assert refused(cloudtrail.lookup_events, EventCategory="management") == (
        "InvalidEventCategoryException",
        400,
    )


def test_moto_trail_operations_still_work_beside_lookup_events(aws: Emulator, cloudtrail: Any) -> None:
    boto3.client("s3").create_bucket(Bucket="trail-logs")
    cloudtrail.create_trail(Name="main", S3BucketName="trail-logs")
    assert [t["Name"] for t in cloudtrail.list_trails()["Trails"]] == ["main"]
