"""The gates a security review relies on: cdk-nag (AwsSolutions) and cfn-lint, on every synthesized
template of every configuration."""

from __future__ import annotations

import json

from cfnlint.api import ManualArgs, lint
from infra_synth import Synth


def test_cdk_nag_reports_no_unacknowledged_finding(synth: Synth) -> None:
    # Given the app synthesized with AwsSolutionsChecks on every stack
    # Then synthesis passed the checks: every finding left is acknowledged on its construct
    unacknowledged = [
        (v["ruleName"], [r["constructPath"] for r in v["violatingResources"]]) for v in synth.violations
    ]
    assert synth.error is None and unacknowledged == [], unacknowledged or synth.error


def test_every_acknowledgment_names_one_awssolutions_finding_and_gives_a_reason(synth: Synth) -> None:
    acknowledged = []
    for stack in synth.templates:
        for path, entries in synth.metadata(stack).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    acknowledged += [(path, rule, reason) for rule, reason in entry["data"].items()]
    assert acknowledged
    for path, rule, reason in acknowledged:
        assert rule.startswith("AwsSolutions::AwsSolutions-"), (path, rule)
        assert len(reason.split()) >= 8, (path, rule, reason)


def test_cfn_lint_reports_no_error_on_any_template(synth: Synth) -> None:
    for stack, artifact in synth.stacks().items():
        region = artifact["environment"].rsplit("/", 1)[1]
        matches = lint(json.dumps(synth.templates[stack]), config=ManualArgs(regions=[region]))
        errors = [str(m) for m in matches if m.rule.id.startswith("E")]
        assert errors == [], f"{stack}: {errors}"


def test_synthesis_takes_seconds_not_minutes(synth: Synth) -> None:
    # Not a benchmark: a guard against the suite drifting towards the 10-minute CI budget.
    print(f"synth of {sorted(synth.templates)}: {synth.seconds:.1f}s")
    assert synth.seconds < 120
