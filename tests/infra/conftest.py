"""Fixtures: each configuration synthesized once per run (see infra_synth), shared by every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from infra_synth import CONFIGS, Synth, load


@pytest.fixture(scope="session")
def named(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return load("named", tmp_path_factory)


@pytest.fixture(scope="session")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return load("tagged", tmp_path_factory)


@pytest.fixture(scope="session", params=sorted(CONFIGS))
def synth(request: pytest.FixtureRequest) -> Iterator[Synth]:
    """Each synthesized configuration in turn (for properties that must hold in every deployment)."""
    yield request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return load("scale", tmp_path_factory)
