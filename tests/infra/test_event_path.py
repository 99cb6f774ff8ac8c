"""The event path as deployed: the runtime's own patterns, SQS targets with dead-letter queues, encrypted
TLS-only queues, the FIFO work queue, and the us-east-1 forwarder of IAM events."""

from __future__ import annotations

from typing import Any

from access_guard.core.triggers import IAM_EVENT_REGION, iam_pattern, patterns
from infra_synth import ACCOUNT, Synth
from infra_templates import as_list, logical_id_of

from infra.stacks import FORWARDER_STACK, SERVICE_STACK


def _rules(synth: Synth, stack: str) -> dict[str, dict[str, Any]]:
    """Rules of the remediation pipeline, by construct id (the runtime's rule name)."""
    metadata = synth.metadata(stack)
    found = {}
    for name in patterns("/"):
        logical_id = logical_id_of(metadata, f"/Pipeline/{name}/Resource")
        found[name] = synth.templates[stack]["Resources"][logical_id]
    return found


def test_each_service_region_has_one_rule_per_runtime_pattern_and_it_equals_the_runtime_pattern(
    synth: Synth,
) -> None:
    expected = patterns(synth.config.get("prefix", "/eks-access-guard/"))
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        rules = _rules(synth, stack)
        assert {n: r["Properties"]["EventPattern"] for n, r in rules.items()} == expected
        pipeline_rules = [
            r
            for r in synth.resources("AWS::Events::Rule", stack).values()
            if "EventPattern" in r["Properties"]
        ]
        assert len(pipeline_rules) == len(expected)  # no other pattern rule in the region


def test_every_rule_target_has_a_dead_letter_queue_and_pattern_rules_target_the_intake_queue(
    synth: Synth,
) -> None:
    for key, rule in synth.resources("AWS::Events::Rule").items():
        targets = rule["Properties"]["Targets"]
        assert targets, key
        for target in targets:
            assert "Arn" in target["DeadLetterConfig"], key
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        intake = logical_id_of(synth.metadata(stack), "/Pipeline/IntakeQueue/Resource")
        for rule in _rules(synth, stack).values():
            assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": [intake, "Arn"]}]


def _dead_letter_arns(synth: Synth, stack: str) -> set[str]:
    arns = set()
    for queue in synth.resources("AWS::SQS::Queue", stack).values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            arns.add(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for rule in synth.resources("AWS::Events::Rule", stack).values():
        for target in rule["Properties"]["Targets"]:
            arns.add(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    return arns


def test_every_queue_has_a_dead_letter_queue_or_is_one(synth: Synth) -> None:
    for stack in synth.templates:
        dead_letters = _dead_letter_arns(synth, stack)
        for key, queue in synth.resources("AWS::SQS::Queue", stack).items():
            logical_id = key.split("/")[1]
            assert "RedrivePolicy" in queue["Properties"] or logical_id in dead_letters, key


def test_every_queue_is_encrypted_with_the_stacks_key_and_refuses_plain_http(synth: Synth) -> None:
    for stack in synth.templates:
        keys = set(k.split("/")[1] for k in synth.resources("AWS::KMS::Key", stack))
        tls_only = set()
        for policy in synth.resources("AWS::SQS::QueuePolicy", stack).values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Deny" and statement.get("Condition") == {
                    "Bool": {"aws:SecureTransport": "false"}
                }:
                    tls_only |= {q["Ref"] for q in policy["Properties"]["Queues"]}
        for key, queue in synth.resources("AWS::SQS::Queue", stack).items():
            assert queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0] in keys, key
            assert key.split("/")[1] in tls_only, key


def test_work_queue_is_fifo_without_content_deduplication_and_both_sources_report_item_failures(
    synth: Synth,
) -> None:
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        resources = synth.templates[stack]["Resources"]
        metadata = synth.metadata(stack)
        work = resources[logical_id_of(metadata, "/Pipeline/WorkQueue/Resource")]["Properties"]
        assert work["FifoQueue"] is True and work["ContentBasedDeduplication"] is False
        work_dlq = resources[logical_id_of(metadata, "/Pipeline/WorkDeadLetters/Resource")]["Properties"]
        assert work_dlq["FifoQueue"] is True
        mappings = synth.resources("AWS::Lambda::EventSourceMapping", stack)
        assert len(mappings) == 2
        for mapping in mappings.values():
            assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert mapping["Properties"]["BatchSize"] == 10


def test_only_the_intake_and_forwarded_buses_receive_from_eventbridge_and_only_from_our_rules(
    synth: Synth,
) -> None:
    for stack in synth.templates:
        rule_ids = {k.split("/")[1] for k in synth.resources("AWS::Events::Rule", stack)}
        for key, policy in synth.resources("AWS::SQS::QueuePolicy", stack).items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] != "Allow":
                    continue
                assert statement["Principal"] == {"Service": "events.amazonaws.com"}, key
                assert statement["Action"] == "sqs:SendMessage", key
                sources = as_list(statement["Condition"]["ArnEquals"]["aws:SourceArn"])
                assert sources and {s["Fn::GetAtt"][0] for s in sources} <= rule_ids, key


def test_forwarder_is_in_us_east_1_and_targets_each_other_service_regions_default_bus(synth: Synth) -> None:
    forwarded = [r for r in synth.config["regions"] if r != IAM_EVENT_REGION]
    assert synth.stacks()[FORWARDER_STACK]["environment"] == f"aws://{ACCOUNT}/{IAM_EVENT_REGION}"
    rules = synth.resources("AWS::Events::Rule", FORWARDER_STACK)
    targets = [t for rule in rules.values() for t in rule["Properties"]["Targets"]]
    assert sorted(t["Arn"] for t in targets) == sorted(
        f"arn:aws:events:{region}:{ACCOUNT}:event-bus/default" for region in forwarded
    )
    assert all(rule["Properties"]["EventPattern"] == iam_pattern() for rule in rules.values())
    # The role the targets use may put events on exactly those buses.
    roles = {t["RoleArn"]["Fn::GetAtt"][0] for t in targets}
    assert len(roles) == 1
    (role,) = roles
    put = [
        s
        for p in synth.resources("AWS::IAM::Policy", FORWARDER_STACK).values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in as_list(p["Properties"]["PolicyDocument"]["Statement"])
    ]
    assert {s["Action"] for s in put} == {"events:PutEvents"}
    assert sorted(r for s in put for r in as_list(s["Resource"])) == sorted(t["Arn"] for t in targets)


def test_us_east_1_service_region_catches_iam_events_itself(named: Synth) -> None:
    # us-east-1 is a service region in this config: its own "iam" rule sees IAM events directly, and the
    # forwarder does not send them to it a second time.
    rules = _rules(named, SERVICE_STACK.format(region="us-east-1"))
    assert rules["iam"]["Properties"]["EventPattern"] == iam_pattern()
    targets = [
        t["Arn"]
        for r in named.resources("AWS::Events::Rule", FORWARDER_STACK).values()
        for t in r["Properties"]["Targets"]
    ]
    assert not any(":us-east-1:" in arn for arn in targets)


def test_sweep_runs_on_the_configured_schedule(synth: Synth) -> None:
    minutes = synth.config.get("sweepIntervalMinutes", 15)
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        schedules = [
            r
            for r in synth.resources("AWS::Events::Rule", stack).values()
            if "ScheduleExpression" in r["Properties"]
        ]
        found = sorted(
            (r["Properties"]["ScheduleExpression"], r["Properties"]["Targets"][0]["Input"]) for r in schedules
        )
        # the list check every few minutes; the full read daily (fullSweepIntervalHours, default 24)
        hours = synth.config.get("fullSweepIntervalHours", 24)
        days = hours // 24
        full = f"rate({hours} hours)" if hours % 24 else f"rate({days} day{'s' if days > 1 else ''})"
        assert found == sorted([(f"rate({minutes} minutes)", '{"tier":"check"}'), (full, '{"tier":"full"}')])
