"""Lost deliveries are seen: every EventBridge rule (the event path's, the sweep's schedule, the forwarder's)
has an alarm on FailedInvocations and on InvocationsFailedToBeSentToDLQ; and the key lets AWS services use
it with only the conditions AWS documents for each (a condition a service does not send fails every
delivery silently; reference, section 6)."""

from __future__ import annotations

from typing import Any

from infra_synth import Synth
from infra_templates import as_list

DELIVERY_METRICS = {"FailedInvocations", "InvocationsFailedToBeSentToDLQ"}
# Condition keys AWS documents in a KMS key policy statement for each service principal we allow:
# EventBridge to encrypted queues: none (SNS Developer Guide, key management; EventBridge User Guide's
# SQS target example); CloudWatch alarms to an encrypted topic: aws:SourceAccount, aws:SourceArn.
DOCUMENTED_KEY_CONDITIONS = {
    "events.amazonaws.com": set(),
    "cloudwatch.amazonaws.com": {"aws:SourceAccount", "aws:SourceArn"},
}


def _alarmed_rules(template: dict[str, Any]) -> dict[str, set[str]]:
    """Rule logical id -> the AWS/Events metrics an alarm with an action watches for it."""
    found: dict[str, set[str]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if props.get("Namespace") != "AWS/Events" or not props.get("AlarmActions"):
            continue
        assert props["Statistic"] == "Sum" and props["Threshold"] == 1
        for dimension in props["Dimensions"]:
            if dimension["Name"] == "RuleName":
                found.setdefault(dimension["Value"]["Ref"], set()).add(props["MetricName"])
    return found


def test_every_rule_alarms_on_failed_deliveries_and_failed_dead_letters(synth: Synth) -> None:
    checked = 0
    for stack, template in synth.templates.items():
        alarmed = _alarmed_rules(template)
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::Events::Rule":
                assert alarmed.get(logical_id, set()) >= DELIVERY_METRICS, f"{stack}/{logical_id}"
                checked += 1
    assert checked >= 5  # the event path's rules, the sweep's schedule, the forwarder's rule(s)


def test_key_policies_give_services_only_conditions_documented_for_them(synth: Synth) -> None:
    checked = 0
    for stack, template in synth.templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::KMS::Key":
                continue
            for statement in as_list(resource["Properties"]["KeyPolicy"]["Statement"]):
                services = as_list(statement["Principal"].get("Service", []))
                for service in services:
                    assert service in DOCUMENTED_KEY_CONDITIONS, f"{stack}/{logical_id}: {service}"
                    keys = {k for c in statement.get("Condition", {}).values() for k in c}
                    assert keys <= DOCUMENTED_KEY_CONDITIONS[service], (stack, logical_id, service, keys)
                    checked += 1
    assert checked >= 2
