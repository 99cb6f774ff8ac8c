"""Faults that let a write happen and then fail the call: a server error after the commit, or a connection
dropped without any answer. An SDK retries a write that already happened and gets what the service says to
the second one."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from local.client import Emulator, EmulatorError

from .helpers import run_aws_cli

ACCOUNT = "123456789012"
TRUST = '{"Version":"2012-10-17","Statement":[]}'
IN_USE = "The specified access entry resource is already in use on this cluster."
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def role_arn(aws: Emulator) -> str:
    """An API-mode cluster `c` without entries, and a role to give one."""
    boto3.client("eks").create_cluster(
        name="c",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    return str(boto3.client("iam").create_role(RoleName="dev", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def create_records(aws: Emulator) -> list[dict[str, Any]]:
    return [r for r in aws.cloudtrail_records() if r["eventName"] == "CreateAccessEntry"]


@pytest.mark.parametrize("fault", ["commit_then_error", "commit_then_drop"])
def test_a_retried_create_that_had_committed_is_in_use_and_the_entry_exists_once(
    aws: Emulator, role_arn: str, fault: str
) -> None:
    # given the next CreateAccessEntry commits, then fails (a 500, or a connection closed unanswered)
    aws.set_fault("eks:CreateAccessEntry", **{fault: 1})
    eks = boto3.client("eks")  # the SDK's default retries
    # when an entry is created
    with pytest.raises(ClientError) as err:
        eks.create_access_entry(clusterName="c", principalArn=role_arn)
    # then the SDK retried, and the retry got EKS's 409 for an entry that exists
    response = err.value.response
    assert (response["Error"]["Code"], response["Error"]["Message"]) == ("ResourceInUseException", IN_USE)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    # and the entry exists, once
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [role_arn]
    # and CloudTrail has the first call as the success it was, then the retry's failure
    first, retry = create_records(aws)
    assert "errorCode" not in first
    assert first["responseElements"]["accessEntry"]["principalArn"] == role_arn
    assert retry["errorCode"] == "ResourceInUseException"


def test_commit_then_error_answers_a_server_error_for_a_write_that_happened(
    aws: Emulator, role_arn: str
) -> None:
    aws.set_fault("eks:CreateAccessEntry", commit_then_error=1)
    eks = boto3.client("eks", config=NO_RETRIES)
    with pytest.raises(ClientError) as err:
        eks.create_access_entry(clusterName="c", principalArn=role_arn)
    assert err.value.response["Error"]["Code"] == "ServerException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [role_arn]
    [record] = create_records(aws)
    assert "errorCode" not in record


def test_commit_then_error_takes_its_status_from_error_status(aws: Emulator, role_arn: str) -> None:
    aws.set_fault("eks:CreateAccessEntry", commit_then_error=1, error_status=503)
    eks = boto3.client("eks", config=NO_RETRIES)
    with pytest.raises(ClientError) as err:
        eks.create_access_entry(clusterName="c", principalArn=role_arn)
    assert err.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [role_arn]


def test_commit_then_drop_closes_the_connection_without_an_answer(aws: Emulator, role_arn: str) -> None:
    aws.set_fault("eks:CreateAccessEntry", commit_then_drop=1)
    eks = boto3.client("eks", config=NO_RETRIES)
    with pytest.raises(ConnectionClosedError):
        eks.create_access_entry(clusterName="c", principalArn=role_arn)
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == [role_arn]
    [record] = create_records(aws)
    assert "errorCode" not in record


def test_a_deleted_entry_whose_delete_was_dropped_is_not_found_on_retry(aws: Emulator, role_arn: str) -> None:
    eks = boto3.client("eks")
    eks.create_access_entry(clusterName="c", principalArn=role_arn)
    aws.set_fault("eks:DeleteAccessEntry", commit_then_drop=1)
    with pytest.raises(ClientError) as err:
        eks.delete_access_entry(clusterName="c", principalArn=role_arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == []


def test_a_query_service_retry_after_a_committed_create_gets_its_own_conflict(aws: Emulator) -> None:
    aws.set_fault("iam:CreateUser", commit_then_error=1)
    iam = boto3.client("iam")
    with pytest.raises(ClientError) as err:
        iam.create_user(UserName="bob")
    assert err.value.response["Error"]["Code"] == "EntityAlreadyExists"
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["bob"]


def test_the_aws_cli_retries_a_dropped_create_and_reports_the_conflict(
    aws: Emulator, role_arn: str, endpoint: str
) -> None:
    aws.set_fault("eks:CreateAccessEntry", commit_then_drop=1)
    result = run_aws_cli(
        endpoint, "eks", "create-access-entry", "--cluster-name", "c", "--principal-arn", role_arn
    )
    assert result.returncode != 0
    assert "ResourceInUseException" in result.stderr
    assert boto3.client("eks").list_access_entries(clusterName="c")["accessEntries"] == [role_arn]


def test_commit_then_faults_count_down_then_the_operation_recovers(aws: Emulator, role_arn: str) -> None:
    aws.set_fault("eks:CreateAccessEntry", commit_then_error=1)
    assert aws.faults()["eks:CreateAccessEntry"]["commitThenError"] == 1
    eks = boto3.client("eks", config=NO_RETRIES)
    with pytest.raises(ClientError):
        eks.create_access_entry(clusterName="c", principalArn=role_arn)
    assert aws.faults()["eks:CreateAccessEntry"]["commitThenError"] == 0
    eks.delete_access_entry(clusterName="c", principalArn=role_arn)
    assert eks.create_access_entry(clusterName="c", principalArn=role_arn)["accessEntry"]["principalArn"] == (
        role_arn
    )


def test_a_fault_before_the_call_wins_over_one_after_it(aws: Emulator, role_arn: str) -> None:
    # a throttle fails the call before it runs: nothing is created, whatever else the fault says
    aws.set_fault("eks:CreateAccessEntry", throttle=1, commit_then_error=1)
    eks = boto3.client("eks", config=NO_RETRIES)
    with pytest.raises(ClientError) as err:
        eks.create_access_entry(clusterName="c", principalArn=role_arn)
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert eks.list_access_entries(clusterName="c")["accessEntries"] == []


@pytest.mark.parametrize(
    "fault",
    [
        {"commit_then_error": 1, "error_status": 418},
        {"commit_then_drop": -1},
    ],
)
def test_a_bad_commit_fault_is_refused(aws: Emulator, fault: dict[str, int]) -> None:
    with pytest.raises(EmulatorError, match="400"):
        aws.set_fault("eks:CreateAccessEntry", **fault)
    assert aws.faults() == {}
