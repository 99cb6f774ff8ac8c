"""The world `python -m local serve` runs: every function in worker processes stopped at its timeout, the
gateway's 29 s, the scheduler's minute, and the services' clock moved through `POST /_emulator/clock`.
Judged by the emulator's oracle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from access_guard.adapters.breakglass_client import BreakGlassClient
from access_guard.core.limits import API_GATEWAY_TIMEOUT_SECONDS, SCHEDULER_PRECISION_SECONDS
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring
from botocore.credentials import Credentials

from local.runner import Pipeline

from .scenario import ACCOUNT, ADMIN, REGION, entry, role
from .test_pipeline import CLUSTER, make_cluster, person, push


@pytest.fixture
def served(aws: Any, endpoint: str) -> Iterator[Pipeline]:
    aws.set_eks_settings(mode_update_seconds=0.05)
    made = Pipeline.create(endpoint, region=REGION, isolation="process")
    wiring.reset()
    intake_handler.reset()
    yield made
    made.stop()
    wiring.reset()
    intake_handler.reset()


def test_drift_is_remediated_by_functions_in_their_own_processes(served: Pipeline, aws: Any) -> None:
    platform = role("platform", "/platform/")
    make_cluster(person("alice"))
    push(served, entry(platform, (ADMIN, None)), prune=True)
    served.drain(timeout=120)
    assert aws.admins(CLUSTER) == [platform]
    bob = person("bob").client("eks")
    bob_arn = f"arn:aws:iam::{ACCOUNT}:user/bob"
    bob.create_access_entry(clusterName=CLUSTER, principalArn=bob_arn)
    bob.associate_access_policy(
        clusterName=CLUSTER, principalArn=bob_arn, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    served.drain(timeout=120)
    assert aws.admins(CLUSTER) == [platform]
    assert served.registry.workers("intake") >= 1 and served.registry.workers("remediate") >= 1


def test_a_grant_ends_when_the_services_clock_is_moved_past_its_minute(served: Pipeline, aws: Any) -> None:
    platform = role("platform", "/platform/")
    engineer = role("engineer", "/aws-reserved/identity-center/")
    make_cluster(person("alice"))
    push(served, entry(platform, (ADMIN, None)), prune=True)
    served.drain(timeout=120)
    url = served.serve_api(
        oncall_principals=[engineer],
        tick_seconds=None,
        scheduler_precision_seconds=SCHEDULER_PRECISION_SECONDS,
        scheduler_seed=3,
    )
    assert served._gateway.integration_timeout == API_GATEWAY_TIMEOUT_SECONDS
    keys = boto3.client("sts", region_name=REGION).assume_role(RoleArn=engineer, RoleSessionName="carol")
    c = keys["Credentials"]
    api = BreakGlassClient(
        url, credentials=Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]), region=REGION
    )
    body = {"accessPolicy": "AmazonEKSClusterAdminPolicy", "durationMinutes": 15, "reason": "INC-1 outage"}
    answer = api.call("POST", f"/clusters/{CLUSTER}/grants", body=body)
    assert answer.status == 201, answer.body
    assert engineer in aws.admins(CLUSTER)
    # twelve minutes on (before its schedule's minute): still held
    assert aws.advance_clock(12 * 60)["offsetSeconds"] >= 12 * 60
    assert engineer in aws.admins(CLUSTER)
    # past its end and the whole of the scheduler's minute: the schedule has fired, the expiry ran
    aws.advance_clock(4 * 60 + 1)
    assert aws.admins(CLUSTER) == [platform]
    assert served.registry.workers("expiry") >= 1
