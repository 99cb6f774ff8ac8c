"""The local AWS serves moto's services, the control API, and injected faults."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.client import Emulator, EmulatorError


def test_moto_services_are_served(aws: Emulator) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/x", Value="1", Type="String")
    assert ssm.get_parameter(Name="/x")["Parameter"]["Value"] == "1"


def test_reset_forgets_everything(aws: Emulator) -> None:
    boto3.client("ssm").put_parameter(Name="/x", Value="1", Type="String")
    aws.reset()
    with pytest.raises(ClientError) as err:
        boto3.client("ssm").get_parameter(Name="/x")
    assert err.value.response["Error"]["Code"] == "ParameterNotFound"


def test_injected_throttle_fails_the_next_calls_then_recovers(aws: Emulator) -> None:
    aws.set_fault("ssm:GetParameter", throttle=2)
    ssm = boto3.client("ssm", config=Config(retries={"total_max_attempts": 1}))
    ssm.put_parameter(Name="/x", Value="1", Type="String")
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            ssm.get_parameter(Name="/x")
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert ssm.get_parameter(Name="/x")["Parameter"]["Value"] == "1"


def test_injected_server_error_on_a_query_service(aws: Emulator) -> None:
    aws.set_fault("iam:ListRoles", error_status=503, error_count=1)
    iam = boto3.client("iam", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as err:
        iam.list_roles()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert err.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert iam.list_roles()["Roles"] == []


def test_a_bad_fault_is_refused(aws: Emulator) -> None:
    with pytest.raises(EmulatorError, match="400"):
        aws.set_fault("GetParameter", error_status=418, error_count=1)
