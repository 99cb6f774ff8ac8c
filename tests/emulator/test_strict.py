"""The local AWS as strict as AWS on request: Parameter Store's throughput, a new IAM principal not yet known
to EKS, a parameter just written not yet readable. Each is off by default, set through the control API."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.client import Emulator, EmulatorError

REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
TRUST = '{"Version":"2012-10-17","Statement":[]}'


def code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_parameter_store_reads_above_the_set_rate_are_throttled_and_shared_by_the_three_reads(
    aws: Emulator,
) -> None:
    ssm = boto3.client("ssm", region_name=REGION, config=NO_RETRIES)
    ssm.put_parameter(Name="/p/a", Value="1", Type="String")
    aws.set_strict(ssm_get_tps=2)
    reads = [
        lambda: ssm.get_parameter(Name="/p/a"),
        lambda: ssm.get_parameters(Names=["/p/a"]),
        lambda: ssm.get_parameters_by_path(Path="/p"),
    ]
    answered, throttled = 0, 0
    started = time.monotonic()
    for i in range(15):
        try:
            reads[i % 3]()
            answered += 1
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ThrottlingException"
            throttled += 1
    elapsed = time.monotonic() - started
    # the bucket holds one second's worth (2) and refills 2 a second, however slow the calls were
    assert answered <= 2 + 2 * elapsed + 1 and throttled >= 1, (answered, elapsed)
    time.sleep(1.0)
    ssm.get_parameter(Name="/p/a")  # refilled
    ssm.put_parameter(Name="/p/b", Value="2", Type="String")  # writes are not in this limit
    aws.set_strict(ssm_get_tps=0)
    for _ in range(20):
        ssm.get_parameter(Name="/p/a")


def test_a_new_principal_is_refused_by_create_access_entry_for_the_set_seconds(aws: Emulator) -> None:
    iam, eks = (
        boto3.client("iam", region_name=REGION),
        boto3.client("eks", region_name=REGION, config=NO_RETRIES),
    )
    cluster_role = iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_cluster(
        name="c1",
        roleArn=cluster_role,
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        accessConfig={"authenticationMode": "API"},
    )
    old = iam.create_role(RoleName="old", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    aws.advance_clock(60)
    aws.set_strict(new_principal_seconds=30)
    new = iam.create_role(RoleName="new", Path="/team/", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    user = iam.create_user(UserName="u")["User"]["Arn"]
    assert (
        code(lambda: eks.create_access_entry(clusterName="c1", principalArn=new))
        == "InvalidParameterException"
    )
    assert (
        code(lambda: eks.create_access_entry(clusterName="c1", principalArn=user))
        == "InvalidParameterException"
    )
    assert aws.access("c1")["principals"] == [] or new not in {
        p["principalArn"] for p in aws.access("c1")["principals"]
    }
    eks.create_access_entry(clusterName="c1", principalArn=old)  # made before the setting: known
    aws.advance_clock(31)  # IAM has caught up
    eks.create_access_entry(clusterName="c1", principalArn=new)
    assert new in {p["principalArn"] for p in aws.access("c1")["principals"]}


def test_a_parameter_just_written_reads_as_missing_for_the_set_seconds(aws: Emulator) -> None:
    ssm = boto3.client("ssm", region_name=REGION, config=NO_RETRIES)
    ssm.put_parameter(Name="/p/old", Value="1", Type="String")
    aws.advance_clock(60)
    aws.set_strict(parameter_visible_after_seconds=10)
    ssm.put_parameter(Name="/p/new", Value="2", Type="String")
    assert code(lambda: ssm.get_parameter(Name="/p/new")) == "ParameterNotFound"
    both = ssm.get_parameters(Names=["/p/old", "/p/new"])
    assert [p["Name"] for p in both["Parameters"]] == ["/p/old"] and both["InvalidParameters"] == ["/p/new"]
    assert [p["Name"] for p in ssm.get_parameters_by_path(Path="/p")["Parameters"]] == ["/p/old"]
    aws.advance_clock(11)
    assert ssm.get_parameter(Name="/p/new")["Parameter"]["Value"] == "2"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ssmGetTps": -1},
        {"ssmGetTps": "40"},
        {"ssmGetTps": True},
        {"other": 1},
        {"newPrincipalSeconds": 1e9},
    ],
)
def test_a_bad_setting_is_refused_and_changes_nothing(aws: Emulator, body: dict[str, Any]) -> None:
    before = aws.strict()
    with pytest.raises(EmulatorError, match="400"):
        aws._call("PUT", "strict", body)
    assert aws.strict() == before
