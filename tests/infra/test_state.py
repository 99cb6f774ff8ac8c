"""Tables laid out by the runtime's TableKeys, and the alarms on the runtime's metric names."""

from __future__ import annotations

from access_guard.core.config import (
    AUDIT_TABLE_KEYS,
    GRANTS_TABLE_KEYS,
    IDEMPOTENCY_TABLE_KEYS,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    STATE_TABLE_KEYS,
    Metrics,
    TableKeys,
)
from infra_synth import Synth
from infra_templates import logical_id_of

from infra.stacks import SERVICE_STACK

TABLES = {
    "Idempotency": IDEMPOTENCY_TABLE_KEYS,
    "State": STATE_TABLE_KEYS,
    "Grants": GRANTS_TABLE_KEYS,
    "Audit": AUDIT_TABLE_KEYS,
}


def _schema(keys: TableKeys) -> list[dict[str, str]]:
    return [{"AttributeName": keys.partition, "KeyType": "HASH"}] + (
        [{"AttributeName": keys.sort, "KeyType": "RANGE"}] if keys.sort else []
    )


def test_every_table_has_point_in_time_recovery_a_customer_key_and_on_demand_billing(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == len(TABLES) * len(synth.config["regions"])
    for key, table in tables.items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, key
        assert (
            props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
        ), key
        assert "KMSMasterKeyId" in props["SSESpecification"], key
        assert props["BillingMode"] == "PAY_PER_REQUEST", key
        assert table["DeletionPolicy"] == "Retain", key


def test_tables_follow_the_runtimes_key_schemas_ttl_and_indexes(synth: Synth) -> None:
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        for name, keys in TABLES.items():
            logical_id = logical_id_of(synth.metadata(stack), f"/State/{name}/Table/Resource")
            props = synth.templates[stack]["Resources"][logical_id]["Properties"]
            assert props["KeySchema"] == _schema(keys), name
            assert props.get("TimeToLiveSpecification") == (
                {"AttributeName": keys.ttl, "Enabled": True} if keys.ttl else None
            ), name
            indexes = {i["IndexName"]: i["KeySchema"] for i in props.get("GlobalSecondaryIndexes", [])}
            assert indexes == {n: _schema(TableKeys(p, s)) for n, p, s in keys.indexes}, name


def test_alarms_cover_each_dead_letter_queue_each_handler_and_the_runtime_failure_metrics(
    synth: Synth,
) -> None:
    for stack in synth.templates:
        alarms = synth.resources("AWS::CloudWatch::Alarm", stack).values()
        topics = {k.split("/")[1] for k in synth.resources("AWS::SNS::Topic", stack)}
        for alarm in alarms:
            assert [a["Ref"] for a in alarm["Properties"]["AlarmActions"]] in [[t] for t in topics]
        watched_queues = {
            d["Value"]["Fn::GetAtt"][0]
            for a in alarms
            if a["Properties"].get("Namespace") == "AWS/SQS"
            for d in a["Properties"]["Dimensions"]
        }
        dead_letters = set()
        for queue in synth.resources("AWS::SQS::Queue", stack).values():
            if "RedrivePolicy" in queue["Properties"]:
                dead_letters.add(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
        for rule in synth.resources("AWS::Events::Rule", stack).values():
            dead_letters |= {
                t["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] for t in rule["Properties"]["Targets"]
            }
        assert watched_queues == dead_letters, stack
        if not stack.startswith("EksAccessGuard-") or "Forwarder" in stack:
            continue
        functions = {k.split("/")[1] for k in synth.resources("AWS::Lambda::Function", stack)}
        errors = {
            d["Value"]["Ref"]
            for a in alarms
            if a["Properties"].get("MetricName") == "Errors"
            for d in a["Properties"]["Dimensions"]
        }
        assert errors == functions, stack
        runtime = {
            a["Properties"]["MetricName"]
            for a in alarms
            if a["Properties"].get("Namespace") == METRICS_NAMESPACE
            and a["Properties"]["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
        }
        assert runtime == {
            Metrics.FAILURES,
            Metrics.REFUSED_STEPS,
            Metrics.BREAK_GLASS_REQUESTS,
            Metrics.REVOCATION_FAILURES,
            Metrics.BASELINE_REJECTED,
        }
