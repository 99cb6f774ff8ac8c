"""The doctor's judgment of trails: management write events logged, in each region that matters."""

from __future__ import annotations

from typing import Any

import pytest
from access_guard.core.doctor import Check, Trail, exit_code, judge_trails

MANAGEMENT = {"Field": "eventCategory", "Equals": ["Management"]}


def trail(
    *,
    home: str = "eu-west-1",
    multi: bool = True,
    logging: bool = True,
    basic: list[dict[str, Any]] | None = None,
    advanced: list[dict[str, Any]] | None = None,
) -> Trail:
    return Trail("t", home, multi, logging, basic, advanced)


@pytest.mark.parametrize(
    ("made", "ok"),
    [
        (trail(), True),  # no selectors: CloudTrail logs every management event
        (trail(basic=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]), True),
        (trail(basic=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]), False),
        (trail(basic=[{"ReadWriteType": "All", "IncludeManagementEvents": False}]), False),
        (trail(advanced=[{"FieldSelectors": [MANAGEMENT]}]), True),
        (
            trail(advanced=[{"FieldSelectors": [MANAGEMENT, {"Field": "readOnly", "Equals": ["false"]}]}]),
            True,
        ),
        (
            trail(advanced=[{"FieldSelectors": [MANAGEMENT, {"Field": "readOnly", "Equals": ["true"]}]}]),
            False,
        ),
        (trail(advanced=[{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]), False),
        (trail(logging=False), False),
        (trail(multi=False, home="eu-west-1"), False),  # does not cover us-east-1 (IAM's events)
    ],
)
def test_a_trail_must_log_management_writes_in_the_service_region_and_us_east_1(
    made: Trail, ok: bool
) -> None:
    check = judge_trails([made], ["eu-west-1", "us-east-1"])
    assert (check.status == "PASS") is ok, check
    if not ok:
        assert check.fix


def test_two_single_region_trails_cover_both_regions() -> None:
    both = [trail(multi=False, home="eu-west-1"), trail(multi=False, home="us-east-1")]
    assert judge_trails(both, ["eu-west-1", "us-east-1"]).status == "PASS"


def test_warnings_pass_failures_fail() -> None:
    assert exit_code([Check("a", "PASS", ""), Check("b", "WARN", "")]) == 0
    assert exit_code([Check("a", "PASS", ""), Check("b", "FAIL", "")]) == 1
