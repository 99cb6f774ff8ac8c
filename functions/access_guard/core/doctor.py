"""`access-guard doctor`: what a deploy cannot verify, judged. Pure: the facts are read by services/doctor.py.

Each check ends PASS, WARN or FAIL with one line of why and one of the fix; the command fails when any
check fails (warnings allowed). The stack's outputs named here are how the doctor finds the deployment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# The service stack's outputs the doctor reads (the CDK writes them; one definition).
TOPIC_OUTPUT = "TopicArn"
STATE_TABLE_OUTPUT = "StateTableName"
RULES_OUTPUT = "RuleNames"  # comma-separated: every EventBridge rule of the region's stack
SETTINGS_OUTPUT = "SettingsPath"
LAYER_PARAMETER_OUTPUT = "PowertoolsLayerParameter"

# The platform the functions run on, and Powertools' public layer for it: its SSM parameter is documented as
# /aws/service/powertools/python/{arch}/{python}/{version} (the CDK resolves it at deploy; doctor reads it).
LAMBDA_PYTHON = "python3.14"
LAMBDA_ARCHITECTURE = "arm64"
POWERTOOLS_VERSION = "3.37.0"


def powertools_layer_parameter() -> str:
    return f"/aws/service/powertools/python/{LAMBDA_ARCHITECTURE}/{LAMBDA_PYTHON}/{POWERTOOLS_VERSION}"


Status = Literal["PASS", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    why: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "why": self.why, "fix": self.fix}


def exit_code(checks: Sequence[Check]) -> int:
    return 1 if any(c.status == "FAIL" for c in checks) else 0


@dataclass(frozen=True)
class Trail:
    """What CloudTrail says about one trail, as read in one region."""

    name: str
    home_region: str
    multi_region: bool
    logging: bool
    event_selectors: Sequence[Mapping[str, Any]] | None
    advanced_selectors: Sequence[Mapping[str, Any]] | None

    def covers(self, region: str) -> bool:
        return self.multi_region or self.home_region == region

    def logs_management_writes(self) -> bool:
        """Whether the trail's selectors include management events that write (what EventBridge needs)."""
        if self.advanced_selectors:
            return any(_advanced_takes_management_writes(s) for s in self.advanced_selectors)
        if self.event_selectors:
            return any(
                s.get("IncludeManagementEvents", True)
                and s.get("ReadWriteType", "All") in ("All", "WriteOnly")
                for s in self.event_selectors
            )
        return True  # a trail without selectors logs every management event (CloudTrail's default)


def _advanced_takes_management_writes(selector: Mapping[str, Any]) -> bool:
    fields = {f.get("Field"): f for f in selector.get("FieldSelectors", [])}
    category = fields.get("eventCategory")
    if category is None or "Management" not in category.get("Equals", []):
        return False
    read_only = fields.get("readOnly")
    return read_only is None or "false" in read_only.get("Equals", ["false"])


def judge_trails(trails: Sequence[Trail], regions: Sequence[str]) -> Check:
    """A logging trail with management write events must cover each of `regions`."""
    missing = [
        r
        for r in regions
        if not any(t.logging and t.covers(r) and t.logs_management_writes() for t in trails)
    ]
    if not missing:
        names = sorted({t.name for t in trails if t.logging and t.logs_management_writes()})
        return Check(
            "trail", "PASS", f"management write events logged in {', '.join(regions)} ({', '.join(names)})"
        )
    stopped = [t.name for t in trails if not t.logging]
    detail = f" (trail {', '.join(stopped)} is not logging)" if stopped else ""
    return Check(
        "trail",
        "FAIL",
        f"no trail logs management write events in {', '.join(missing)}{detail}: EventBridge gets no "
        "'AWS API Call via CloudTrail' event, so only the sweep sees drift",
        "create a multi-region trail logging management events (write or all), or start logging it: "
        "aws cloudtrail create-trail --is-multi-region-trail ... && aws cloudtrail start-logging --name NAME",
    )
