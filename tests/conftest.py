"""Shared fixtures: the local AWS (moto + our EKS emulator) served in-process on loopback.

One server per test process (session scope); every test that uses `aws` starts from a reset world.
No AWS credentials are needed or used: the fixture sets dummy ones and points boto3 at the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import iam_profile
import pytest

from local.baseline_key import ensure_baseline_key
from local.client import Emulator
from local.clock import SERVICE_CLOCK
from local.runner import Pipeline
from local.server import LocalAWS

REGION = "us-east-1"
BASELINE_KEY_REGIONS = ("us-east-1", "eu-west-1")


# The suite's long poles (a minute or more each on 2 cores) go first: `make test` dispatches modules and
# groups to its two workers in this order, so they run side by side while the short tests fill the gaps,
# instead of one of them starting last.
LONG_POLES = (
    "tests/functional/test_adversary.py::",
    "tests/functional/test_safety_properties.py::",
    "tests/functional/test_strict_world.py::test_6_",
    "tests/functional/test_strict_world.py::test_5_",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def pole(item: pytest.Item) -> int:
        found = [i for i, prefix in enumerate(LONG_POLES) if item.nodeid.startswith(prefix)]
        return found[0] if found else len(LONG_POLES)

    items.sort(key=pole)  # stable: every other test keeps its order


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> Iterator[None]:
    """Tests never see real credentials, config files or endpoints."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("AWS_"):
            del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _pipelines_stop(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every pipeline a test makes is stopped after it, and nothing is left listening to the local clock:
    a pipeline left running fires its expiries, under its own settings, for what a later test schedules
    (a later test's grant was refused by an earlier test's baseline key)."""
    made: list[Pipeline] = []
    create = Pipeline.create.__func__  # type: ignore[attr-defined]

    def tracked(cls: type[Pipeline], *args: object, **kwargs: object) -> Pipeline:
        pipeline = create(cls, *args, **kwargs)
        made.append(pipeline)
        return pipeline

    monkeypatch.setattr(Pipeline, "create", classmethod(tracked))
    listening = SERVICE_CLOCK.listening()
    yield
    for pipeline in made:
        pipeline.stop()
    assert SERVICE_CLOCK.listening() == listening, "something still listens to the local clock after the test"


@pytest.fixture(scope="session")
def local_aws(_no_real_aws: None) -> Iterator[LocalAWS]:
    server = LocalAWS(port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(local_aws: LocalAWS) -> str:
    return local_aws.endpoint


@pytest.fixture
def emulator(local_aws: LocalAWS) -> Iterator[Emulator]:
    """The control API of a freshly reset local AWS."""
    control = Emulator(local_aws.endpoint)
    control.reset()
    yield control
    control.clear_faults()


@pytest.fixture
def aws(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """A reset local AWS that boto3 clients made in the test reach through AWS_ENDPOINT_URL, with the
    deployment's baseline key (its alias) in the regions tests use, as `python -m local serve` makes it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    for region in BASELINE_KEY_REGIONS:
        ensure_baseline_key(boto3.client("kms", region_name=region, endpoint_url=emulator.endpoint_url))
    return emulator


@pytest.fixture
def session() -> boto3.Session:
    return boto3.Session(region_name=REGION)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The service stack's synthesized template, whose role policies the local AWS enforces for the guard's
    own roles (tests/iam_profile.py) in the functional and break-glass suites."""
    return iam_profile.template(tmp_path_factory)
