"""What the guard costs a month on AWS, from the bench's measured calls per event and AWS's public prices.

Prices: AWS's public list prices for us-east-1 (aws.amazon.com/lambda/pricing, /sqs/pricing,
/dynamodb/pricing (on-demand, after the November 2024 reduction), /sns/pricing, /cloudwatch/pricing,
/kms/pricing, /xray/pricing), as published in June 2025. They were not fetched again here (the bench runs
without network): check them before quoting the figure. Free tiers are left out (the figure is what the
guard adds to an account that already uses them). EKS API calls, CloudTrail's first copy of management
events, EventBridge's delivery of AWS service events on the default bus and Standard-tier Parameter Store
parameters and throughput cost nothing.
"""

from __future__ import annotations

from typing import Any

PRICES_AS_OF = "AWS us-east-1 public list prices as published in June 2025 (not re-checked; no network)"

LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND_ARM = 0.0000133334  # the functions run on arm64 (infra/powertools.py)
SQS_STANDARD_PER_REQUEST = 0.40 / 1e6
SQS_FIFO_PER_REQUEST = 0.50 / 1e6
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6
SNS_PER_PUBLISH = 0.50 / 1e6
XRAY_PER_TRACE = 5.00 / 1e6
CLOUDWATCH_PER_METRIC_MONTH = 0.30
CLOUDWATCH_PER_ALARM_MONTH = 0.10
LOGS_PER_GB_INGESTED = 0.50
KMS_PER_KEY_MONTH = 1.00

# The load the figure is for (issue 16).
CLUSTERS = 50
EVENTS_A_DAY = 1000
DAYS = 30
LAMBDA_MEMORY_GB = 0.5  # infra/components/function.py: memory_mb=512
LOG_BYTES_PER_INVOCATION = 2_000  # Powertools' JSON lines of one invocation, about
IDLE_POLLS_PER_QUEUE_MONTH = 5 * 3 * 60 * 24 * DAYS  # Lambda's 5 pollers, 20-s long polls

# Keys of the figures the cost reads (written by bench/pipeline.py).
PER_EVENT = "AWS requests per event (handlers)"
GB_SECONDS_PER_EVENT = "Lambda GB-seconds per event"
SWEEP_SECONDS_PER_CLUSTER = "sweep cheap tier: Lambda seconds per cluster (3,000 entries)"
SWEEPS_A_DAY = 96  # every 15 minutes (infra/config.py: sweepIntervalMinutes default)
METRICS = 10  # core.config.Metrics
ALARMS = 12  # infra/components/monitoring.py: dead letters, handler errors, runtime metrics


def monthly_cost(results: dict[str, Any]) -> dict[str, Any] | None:
    """The month's cost in USD with its breakdown, or None when the per-event figures are missing."""
    per_event = results.get(PER_EVENT)
    gb_seconds = results.get(GB_SECONDS_PER_EVENT)
    if per_event is None or gb_seconds is None:
        return None
    by_service: dict[str, float] = per_event.get("by_service", {})
    events = EVENTS_A_DAY * DAYS
    sweep_seconds = (results.get(SWEEP_SECONDS_PER_CLUSTER) or {}).get("value", 1.0)
    sweep_items = CLUSTERS * SWEEPS_A_DAY * DAYS
    invocations = events * 2 + sweep_items + SWEEPS_A_DAY * DAYS  # intake + remediate; sweep items; sweeps
    breakdown = {
        "Lambda requests (intake, remediate, sweep items)": invocations * LAMBDA_PER_REQUEST,
        "Lambda duration (events)": events * gb_seconds["value"] * LAMBDA_PER_GB_SECOND_ARM,
        "Lambda duration (sweep: one item a cluster every 15 min)": sweep_items
        * sweep_seconds
        * LAMBDA_MEMORY_GB
        * LAMBDA_PER_GB_SECOND_ARM,
        # each event: EventBridge's send, a receive and a delete on the intake queue (standard), the work
        # queue's send, receive and delete (FIFO); the sweep's items on the work queue; the idle long polls.
        "SQS (events, sweep items, idle polls)": events * 3 * SQS_STANDARD_PER_REQUEST
        + (events + sweep_items) * 3 * SQS_FIFO_PER_REQUEST
        + 2 * IDLE_POLLS_PER_QUEUE_MONTH * SQS_STANDARD_PER_REQUEST,
        "DynamoDB (idempotency, locks, verifications)": events
        * (
            by_service.get("dynamodb_writes", 0) * DYNAMODB_PER_WRITE_UNIT
            + by_service.get("dynamodb_reads", 0) * DYNAMODB_PER_READ_UNIT
        )
        + sweep_items * 4 * DYNAMODB_PER_WRITE_UNIT,
        "SNS (notes)": events * by_service.get("sns", 0) * SNS_PER_PUBLISH,
        "X-Ray (a trace an invocation)": invocations * XRAY_PER_TRACE,
        "CloudWatch metrics and alarms": METRICS * CLOUDWATCH_PER_METRIC_MONTH
        + ALARMS * CLOUDWATCH_PER_ALARM_MONTH,
        "CloudWatch Logs ingestion": invocations * LOG_BYTES_PER_INVOCATION / 1e9 * LOGS_PER_GB_INGESTED,
        "KMS (the baselines' key)": KMS_PER_KEY_MONTH,
    }
    breakdown = {k: round(v, 2) for k, v in breakdown.items()}
    return {"total": round(sum(breakdown.values()), 2), "breakdown": breakdown, "prices_as_of": PRICES_AS_OF}
