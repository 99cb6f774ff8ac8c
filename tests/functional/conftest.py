"""Fixtures shared by the functional suites."""

from __future__ import annotations

from typing import Any

import iam_profile
import pytest


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The service stack's synthesized template, whose role policies the local AWS enforces (iam_profile)."""
    return iam_profile.template(tmp_path_factory)
