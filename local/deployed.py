"""What a deployed account has beyond the guard's own resources, set up in the local AWS for `serve`, so that
`access-guard doctor` finds there what it finds in AWS: a multi-region trail logging management events, API
Gateway's account-level CloudWatch role, Powertools' public layer parameter, the service stack with its
outputs (the settings parameters are its resource, as the CDK makes them), and the canary rule (one of the
runtime's patterns, so the runner made it with the others). Hosting side: it reads the product's names."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import boto3
from access_guard.core import doctor
from access_guard.core.breakglass import API_URL_OUTPUT, SERVICE_STACK_NAME
from access_guard.core.config import Env, settings_chunks, settings_path

from . import public_parameters
from .runner import ACCOUNT, NAME, TRUST, Pipeline

TRAIL = f"{NAME}-management-events"
LAYER_ARN = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:1"


def set_up(pipeline: Pipeline, *, oncall_principals: Sequence[str], api_url: str | None) -> None:
    region = pipeline.region

    def client(service: str, in_region: str = region) -> Any:
        return boto3.client(service, region_name=in_region, endpoint_url=pipeline.endpoint)

    # A trail, as every account the guard watches needs one (EventBridge gets API calls only from a trail).
    bucket = f"{NAME}-trail-{ACCOUNT}"
    s3 = client("s3", "us-east-1")
    s3.create_bucket(Bucket=bucket)
    cloudtrail = client("cloudtrail")
    cloudtrail.create_trail(Name=TRAIL, S3BucketName=bucket, IsMultiRegionTrail=True)
    cloudtrail.put_event_selectors(
        TrailName=TRAIL, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    )
    cloudtrail.start_logging(Name=TRAIL)
    # API Gateway's account-level CloudWatch role (per region).
    logging_role = client("iam").create_role(
        RoleName=f"{NAME}-apigateway-cloudwatch", AssumeRolePolicyDocument=TRUST
    )["Role"]["Arn"]
    client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": logging_role}]
    )
    layer_parameter = doctor.powertools_layer_parameter()
    public_parameters.publish(layer_parameter, LAYER_ARN.format(region=region), region=region)

    # The service stack: the settings parameters as its resources, and the outputs the doctor reads.
    path = settings_path(pipeline.prefix, region)
    chunks = settings_chunks({Env.ONCALL_PRINCIPALS: ",".join(oncall_principals)})
    resources = {
        f"Settings{index:02d}": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": f"{path}/{index:02d}", "Type": "String", "Value": value},
        }
        for index, value in enumerate(chunks, start=1)
    }
    rules = [r["Name"] for r in client("events").list_rules(NamePrefix=f"{NAME}-")["Rules"]]
    outputs = {
        API_URL_OUTPUT: api_url or "(no API served: pass --api-port)",
        doctor.TOPIC_OUTPUT: pipeline.topic_arn,
        doctor.STATE_TABLE_OUTPUT: pipeline.tables["state"],
        doctor.RULES_OUTPUT: ",".join(rules),
        doctor.SETTINGS_OUTPUT: path,
        doctor.LAYER_PARAMETER_OUTPUT: layer_parameter,
    }
    template = {"Resources": resources, "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    client("cloudformation").create_stack(
        StackName=SERVICE_STACK_NAME.format(region=region), TemplateBody=json.dumps(template)
    )
