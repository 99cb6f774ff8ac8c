"""The cached client factory: reuse, AWS_ENDPOINT_URL, botocore's standard retries."""

from __future__ import annotations

from access_guard.adapters import clients


def test_the_same_arguments_give_the_same_client_until_the_cache_is_cleared(aws):
    clients.clear_cache()
    first = clients.client("eks", region="us-east-1")
    assert clients.client("eks", region="us-east-1") is first
    assert clients.client("eks", region="eu-west-1") is not first
    clients.clear_cache()
    assert clients.client("eks", region="us-east-1") is not first


def test_clients_reach_the_endpoint_in_aws_endpoint_url(aws, endpoint):
    clients.clear_cache()
    eks = clients.client("eks", region="us-east-1")
    assert eks.meta.endpoint_url == endpoint
    assert eks.list_clusters()["clusters"] == []


def test_an_explicit_endpoint_wins_and_is_cached_apart(aws, endpoint):
    clients.clear_cache()
    other = clients.client("ssm", region="us-east-1", endpoint_url="http://127.0.0.1:9")
    assert other.meta.endpoint_url == "http://127.0.0.1:9"
    assert clients.client("ssm", region="us-east-1").meta.endpoint_url == endpoint


def test_retries_are_botocores_standard_mode_and_the_pool_is_sized(aws):
    clients.clear_cache()
    eks = clients.client("eks", region="us-east-1", max_pool_connections=24)
    assert eks.meta.config.retries["mode"] == "standard"
    assert eks.meta.config.retries["total_max_attempts"] == clients.MAX_ATTEMPTS
    assert eks.meta.config.max_pool_connections == 24


def test_every_call_carries_the_guards_app_id_in_the_user_agent_cloudtrail_records(aws):
    # given a write through the product's client
    clients.clear_cache()
    clients.client("iam", region="us-east-1").create_role(RoleName="labelled", AssumeRolePolicyDocument="{}")
    # then CloudTrail's record of it names the app
    [record] = [r for r in aws.cloudtrail_records() if r["eventName"] == "CreateRole"]
    assert "app/eks-access-guard" in record["userAgent"]
