"""CloudTrail records of real calls against the local AWS: who, what, where, and how it failed."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.client import Emulator

ACCOUNT = "123456789012"
TRUST = '{"Version": "2012-10-17", "Statement": []}'
NO_RETRY = Config(retries={"total_max_attempts": 1})


def records(aws: Emulator, name: str | None = None) -> list[dict[str, Any]]:
    return [r for r in aws.cloudtrail_records() if name is None or r["eventName"] == name]


def only(aws: Emulator, name: str) -> dict[str, Any]:
    found = records(aws, name)
    assert len(found) == 1, found
    return found[0]


def session_for(credentials: dict[str, str], region: str = "us-east-1") -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        region_name=region,
    )


def test_create_role_is_recorded_with_the_new_role_id(aws: Emulator) -> None:
    created = boto3.client("iam").create_role(RoleName="ops", Path="/team/", AssumeRolePolicyDocument=TRUST)

    record = only(aws, "CreateRole")

    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["requestParameters"] == {
        "roleName": "ops",
        "path": "/team/",
        "assumeRolePolicyDocument": TRUST,
    }
    role = record["responseElements"]["role"]
    assert role["roleId"] == created["Role"]["RoleId"]
    assert role["arn"] == f"arn:aws:iam::{ACCOUNT}:role/team/ops"
    assert (role["roleName"], role["path"]) == ("ops", "/team/")
    assert role["createDate"]


def test_delete_role_made_in_another_region_is_recorded_in_us_east_1_with_the_name_only(
    aws: Emulator,
) -> None:
    iam = boto3.client("iam", region_name="eu-west-1")
    iam.create_role(RoleName="ops", Path="/team/", AssumeRolePolicyDocument=TRUST)
    iam.delete_role(RoleName="ops")

    record = only(aws, "DeleteRole")

    assert record["awsRegion"] == "us-east-1"
    assert record["requestParameters"] == {"roleName": "ops"}
    assert record["responseElements"] is None
    assert record["recipientAccountId"] == ACCOUNT


def test_create_and_delete_user_are_recorded(aws: Emulator) -> None:
    iam = boto3.client("iam")
    created = iam.create_user(UserName="bob")
    iam.delete_user(UserName="bob")

    create, delete = only(aws, "CreateUser"), only(aws, "DeleteUser")

    assert create["responseElements"]["user"]["userId"] == created["User"]["UserId"]
    assert create["responseElements"]["user"]["userName"] == "bob"
    assert delete["requestParameters"] == {"userName": "bob"}
    assert delete["responseElements"] is None


def test_an_iam_users_keys_are_recorded_as_that_user(aws: Emulator) -> None:
    iam = boto3.client("iam")
    user = iam.create_user(UserName="alice")["User"]
    key = iam.create_access_key(UserName="alice")["AccessKey"]

    session_for(key).client("iam").create_role(RoleName="made-by-alice", AssumeRolePolicyDocument=TRUST)

    identity = only(aws, "CreateRole")["userIdentity"]
    assert identity["type"] == "IAMUser"
    assert identity["arn"] == user["Arn"]
    assert identity["userName"] == "alice"
    assert identity["principalId"] == user["UserId"]
    assert identity["accessKeyId"] == key["AccessKeyId"]
    assert identity["accountId"] == ACCOUNT


def test_an_assumed_role_session_is_recorded_with_its_issuer_and_path(aws: Emulator) -> None:
    role = boto3.client("iam").create_role(RoleName="ops", Path="/team/a/", AssumeRolePolicyDocument=TRUST)[
        "Role"
    ]
    credentials = boto3.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="carol")["Credentials"]

    session_for(credentials).client("iam").create_user(UserName="made-by-carol")

    identity = only(aws, "CreateUser")["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/carol"
    assert identity["principalId"] == f"{role['RoleId']}:carol"
    assert identity["accessKeyId"] == credentials["AccessKeyId"]
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert issuer["arn"] == f"arn:aws:iam::{ACCOUNT}:role/team/a/ops"
    assert issuer["principalId"] == role["RoleId"]


def test_a_failed_iam_call_is_recorded_with_its_error(aws: Emulator) -> None:
    with pytest.raises(ClientError):
        boto3.client("iam").delete_role(RoleName="nobody")

    record = only(aws, "DeleteRole")

    assert record["errorCode"] == "NoSuchEntity"
    assert "nobody" in record["errorMessage"]
    assert record["responseElements"] is None


def test_an_injected_throttle_is_recorded_as_a_failed_call(aws: Emulator) -> None:
    aws.set_fault("iam:CreateUser", throttle=1)
    with pytest.raises(ClientError):
        boto3.client("iam", config=NO_RETRY).create_user(UserName="bob")

    record = only(aws, "CreateUser")

    assert record["errorCode"] == "Throttling"
    assert record["errorMessage"] == "Rate exceeded"
    assert record["responseElements"] is None


def test_reads_are_not_recorded(aws: Emulator) -> None:
    iam = boto3.client("iam")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=TRUST)
    iam.get_role(RoleName="ops")
    iam.list_roles()
    boto3.client("eks").list_clusters()

    assert [r["eventName"] for r in records(aws)] == ["CreateRole"]


def test_every_record_has_its_own_event_id(aws: Emulator) -> None:
    iam = boto3.client("iam")
    for n in range(5):
        iam.create_user(UserName=f"u{n}")
        iam.delete_user(UserName=f"u{n}")

    ids = [r["eventID"] for r in records(aws)]

    assert len(ids) == 10
    assert len(set(ids)) == 10


def test_reset_forgets_the_records(aws: Emulator) -> None:
    boto3.client("iam").create_user(UserName="bob")
    aws.reset()
    assert records(aws) == []


def test_the_records_route_lists_every_region_oldest_first(aws: Emulator) -> None:
    boto3.client("eks", region_name="eu-west-1").list_clusters()
    with pytest.raises(ClientError):
        boto3.client("eks", region_name="eu-west-1").delete_cluster(name="a")
    boto3.client("iam").create_user(UserName="b")
    with pytest.raises(ClientError):
        boto3.client("eks", region_name="ap-south-1").delete_cluster(name="c")

    assert [(r["eventName"], r["awsRegion"]) for r in records(aws)] == [
        ("DeleteCluster", "eu-west-1"),
        ("CreateUser", "us-east-1"),
        ("DeleteCluster", "ap-south-1"),
    ]
