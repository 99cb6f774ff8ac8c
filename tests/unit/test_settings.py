"""The settings kept out of Lambda's environment: written as standard SSM parameters, read back whole."""

from __future__ import annotations

import pytest
from access_guard.core import limits
from access_guard.core.config import (
    Env,
    SettingsChanged,
    settings_chunks,
    settings_digest,
    with_parameter_settings,
)

CLUSTERS = ",".join(f"payments-prod-ap-southeast-2-{i:03d}" for i in range(100))
ONCALL = ",".join(
    f"arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Team{i:02d}_0123456789abcdef"
    for i in range(40)
)
SETTINGS = {Env.CLUSTERS: CLUSTERS, Env.ONCALL_PRINCIPALS: ONCALL}


def test_long_lists_are_split_over_standard_parameters_and_read_back_whole() -> None:
    chunks = settings_chunks(SETTINGS)
    assert len(chunks) > 1
    assert all(len(c.encode()) <= limits.SSM_STANDARD_PARAMETER.value for c in chunks)
    env = {Env.SETTINGS_DIGEST: settings_digest(chunks)}
    merged = with_parameter_settings(env, chunks)
    assert merged[Env.CLUSTERS] == CLUSTERS and merged[Env.ONCALL_PRINCIPALS] == ONCALL


def test_a_variable_the_environment_sets_wins() -> None:
    chunks = settings_chunks(SETTINGS)
    merged = with_parameter_settings({Env.CLUSTERS: "only-this"}, chunks)
    assert merged[Env.CLUSTERS] == "only-this" and merged[Env.ONCALL_PRINCIPALS] == ONCALL


def test_settings_read_half_written_are_refused_not_used() -> None:
    chunks = settings_chunks(SETTINGS)
    env = {Env.SETTINGS_DIGEST: settings_digest(chunks)}
    with pytest.raises(SettingsChanged):
        with_parameter_settings(env, chunks[:-1])


def _put(chunks: list[str]) -> dict[str, str]:
    import boto3

    ssm = boto3.client("ssm", region_name="eu-west-1")
    for index, value in enumerate(chunks, start=1):
        name = f"/eks-access-guard/deployment/eu-west-1/settings/{index:02d}"
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return {
        "AWS_REGION": "eu-west-1",
        Env.SETTINGS_PATH: "/eks-access-guard/deployment/eu-west-1/settings",
        Env.SETTINGS_DIGEST: settings_digest(chunks),
    }


def test_the_intake_reads_the_settings_path_at_cold_start(
    aws: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from access_guard.handlers import intake

    env = _put(settings_chunks(SETTINGS))
    for name, value in {**env, Env.WORK_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/q"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(Env.CLUSTERS, raising=False)
    intake.reset()
    try:
        cold = intake._setup(
            SimpleNamespace(invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:f")
        )
    finally:
        intake.reset()
    assert cold.config.clusters == frozenset(CLUSTERS.split(","))


def test_the_handlers_read_the_settings_path_at_cold_start(
    aws: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from access_guard.handlers import wiring

    ssm = boto3.client("ssm", region_name="eu-west-1")
    chunks = settings_chunks(SETTINGS)
    for index, value in enumerate(chunks, start=1):
        ssm.put_parameter(
            Name=f"/eks-access-guard/deployment/eu-west-1/settings/{index:02d}", Value=value, Type="String"
        )
    env = {
        "AWS_REGION": "eu-west-1",
        Env.SETTINGS_PATH: "/eks-access-guard/deployment/eu-west-1/settings",
        Env.SETTINGS_DIGEST: settings_digest(chunks),
    }
    wiring.reset()
    try:
        config = wiring.wired(env).config
    finally:
        wiring.reset()
    assert config.clusters == frozenset(CLUSTERS.split(","))
    assert config.oncall_principals == tuple(ONCALL.split(","))
