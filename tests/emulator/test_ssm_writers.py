"""Parameter Store names who wrote each parameter version (`LastModifiedUser`), as on AWS: DescribeParameters
and GetParameterHistory give the writer's ARN (an IAM user, or an assumed-role session)."""

from __future__ import annotations

import boto3

REGION = "us-east-1"
TRUST = '{"Version":"2012-10-17","Statement":[]}'


def test_each_version_names_the_identity_that_wrote_it(aws):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = boto3.client(
        "ssm",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    role = iam.create_role(RoleName="ci", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    c = boto3.client("sts", region_name=REGION).assume_role(RoleArn=role, RoleSessionName="build-7")[
        "Credentials"
    ]
    ci = boto3.client(
        "ssm",
        region_name=REGION,
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )
    # when alice writes a parameter and the CI role's session overwrites it
    alice.put_parameter(Name="/app/x", Value="1", Type="String")
    ci.put_parameter(Name="/app/x", Value="2", Type="SecureString", KeyId="alias/x", Overwrite=True)
    # then each version names its writer, and the latest one is what DescribeParameters says
    ssm = boto3.client("ssm", region_name=REGION)
    [described] = ssm.describe_parameters()["Parameters"]
    session = "arn:aws:sts::123456789012:assumed-role/ci/build-7"
    assert described["LastModifiedUser"] == session and described["KeyId"] == "alias/x"
    history = ssm.get_parameter_history(Name="/app/x")["Parameters"]
    assert [h["LastModifiedUser"] for h in history] == ["arn:aws:iam::123456789012:user/alice", session]
