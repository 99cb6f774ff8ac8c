# ruff: noqa: F811  (the fixtures imported from test_intake_handler are parameters here)
"""Bad input at every door, end to end: each gets a clear error or a logged ignore, and the oracle and the
tables show that nothing changed.

The tables are the project's own, counted here rather than copied:
- events: tests/unit/test_events.py's BAD (each parsed to its reason there), sent here through the intake
  handler as SQS records, and bad work items through the remediate handler;
- baselines: tests/functional/test_invalid_baselines.py (push refused, apply from one written by hand
  changes nothing);
- API requests: tests/breakglass/test_bad_requests.py (answer, reason, tables unchanged);
- CLI invocations: CLI_CASES below.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import boto3
import pytest
from access_guard.cli.main import main
from unit.test_events import BAD as BAD_EVENTS  # noqa: E402 (tests/ is not a package: its packages are top-level)

from .scenario import REGION
from .test_intake_handler import (  # noqa: F401 (fixtures)
    context,
    direct,
    fresh,
    logged,
    managed_cluster_with_dev,
    pipeline,
    sqs_record,
)
from .test_invalid_baselines import CASES as BAD_BASELINES


def test_every_door_has_its_table_of_bad_input(monkeypatch):
    import importlib

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # that module makes a client when imported
    bad_requests = importlib.import_module("breakglass.test_bad_requests").CASES
    assert len(BAD_EVENTS) + len(BAD_WORK) >= 50
    assert len(BAD_BASELINES) >= 20
    assert len(bad_requests) >= 30
    assert len(CLI_CASES) >= 10


def world(aws: Any, pipeline: Any) -> dict[str, Any]:
    """What a bad input must not change: the oracle's view of every cluster, the stored parameters, every
    table's items, the work queue, and the EKS writes CloudTrail recorded."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    ssm = boto3.client("ssm", region_name=REGION)
    eks = boto3.client("eks", region_name=REGION)
    return {
        "access": {c: aws.access(c) for c in eks.list_clusters()["clusters"]},
        "parameters": sorted(
            (p["Name"], p["Version"]) for p in ssm.describe_parameters().get("Parameters", [])
        ),
        "tables": {
            t: sorted(json.dumps(i, sort_keys=True) for i in dynamodb.scan(TableName=t)["Items"])
            for t in dynamodb.list_tables()["TableNames"]
        },
        "eks writes": [
            r["eventName"]
            for r in aws.cloudtrail_records()
            if r["eventSource"] == "eks.amazonaws.com" and not r.get("readOnly", False)
        ],
    }


# --- events, through the intake handler ---------------------------------------------------------------


def body(event: object) -> str | None:
    """The SQS body an event would travel in (None: it cannot be one, as bytes that are not UTF-8)."""
    if isinstance(event, bytes):
        return None
    return event if isinstance(event, str) else json.dumps(event)


def test_bad_events_are_logged_and_ignored_and_change_nothing(direct, aws, logged):
    from access_guard.handlers import intake as intake_handler

    managed_cluster_with_dev(direct)
    before = world(aws, direct)
    # (the service's own writes are ignored for the unit tests' self roles, not for this deployment's)
    events = [e for _, e, reason in BAD_EVENTS if not reason.startswith("the service's own write")]
    bodies = [b for b in (body(e) for e in events) if b is not None]
    assert len(bodies) >= 50
    logged.messages.clear()
    for start in range(0, len(bodies), 10):
        records = [sqs_record(b) for b in bodies[start : start + 10]]
        response = intake_handler.handler({"Records": records}, context())
        assert response == {"batchItemFailures": []}  # ignored, so acknowledged: never retried
    dropped = [m for m in logged.messages if m.startswith("dropped: ")]
    assert len(dropped) == len(bodies) and all("\n" not in m for m in dropped)
    assert direct.work() == []
    assert world(aws, direct) == before


# --- work items, through the remediate handler --------------------------------------------------------

GOOD_WORK = {
    "cluster": "prod",
    "region": REGION,
    "principals": None,
    "trigger": "event",
    "event_id": "e-1",
    "event_name": "DeleteAccessEntry",
    "event_time": "2026-12-04T07:00:00Z",
    "actor": None,
    "reason": "a test",
}
BAD_WORK: list[tuple[str, str]] = [
    ("not JSON", "{"),
    ("a list", json.dumps([GOOD_WORK])),
    ("null", "null"),
    ("a field missing", json.dumps({k: v for k, v in GOOD_WORK.items() if k != "cluster"})),
    ("an unknown field", json.dumps({**GOOD_WORK, "extra": 1})),
    ("a bad cluster name", json.dumps({**GOOD_WORK, "cluster": "prod; rm -rf /"})),
    ("a bad region", json.dumps({**GOOD_WORK, "region": "mars-1"})),
    ("principals not a list", json.dumps({**GOOD_WORK, "principals": "arn:aws:iam::1:role/x"})),
    ("principals empty", json.dumps({**GOOD_WORK, "principals": []})),
    ("a principal not an ARN", json.dumps({**GOOD_WORK, "principals": ["admin"]})),
    ("an unknown trigger", json.dumps({**GOOD_WORK, "trigger": "delete-everything"})),
    ("an event id with spaces", json.dumps({**GOOD_WORK, "event_id": "a b"})),
    ("a time not UTC", json.dumps({**GOOD_WORK, "event_time": "2026-12-04T07:00:00+02:00"})),
    ("a time not a time", json.dumps({**GOOD_WORK, "event_time": "yesterday"})),
    ("a reason of two lines", json.dumps({**GOOD_WORK, "reason": "a\nb"})),
    ("a reason too long", json.dumps({**GOOD_WORK, "reason": "x" * 5000})),
]


def test_bad_work_items_are_logged_and_dropped_and_change_nothing(direct, aws, logged, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # the handler's module makes a client when imported
    from access_guard.handlers import remediate as remediate_handler

    managed_cluster_with_dev(direct)
    # the cluster drifted: a good item would write; none of these may
    boto3.client("eks", region_name=REGION).delete_access_entry(
        clusterName="prod", principalArn=aws.access("prod")["principals"][0]["principalArn"]
    )
    before = world(aws, direct)
    logged.messages.clear()
    for _, text in BAD_WORK:
        assert remediate_handler.record_handler(_record(text)) is None
    drops = [m for m in logged.messages if m.startswith("dropped a work item")]
    assert len(drops) == len(BAD_WORK)
    assert world(aws, direct) == before


def _record(text: str) -> Any:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    return SQSRecord(sqs_record(text))


# --- the CLI ----------------------------------------------------------------------------------------------

CLI_CASES: list[tuple[list[str], str]] = [
    ([], "the following arguments are required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["plan"], "the cluster is required: --cluster C"),
    (["apply", "--cluster", "prod", "--poll-seconds", "-1"], "must be more than 0"),
    (["validate", "/nonexistent/baseline.yaml"], "cannot read /nonexistent/baseline.yaml"),
    (["baseline", "push", "/nonexistent/baseline.yaml"], "cannot read /nonexistent/baseline.yaml"),
    (["baseline", "show"], "the cluster is required: --cluster C"),
    (["baseline", "capture"], "the cluster is required: --cluster C"),
    (["replay"], "the following arguments are required: EVENT"),
    (["breakglass", "restore"], "the following arguments are required: --reason"),
    (["apply", "--cluster", "prod", "--yes", "--bogus"], "unrecognized arguments: --bogus"),
    (["apply", "--cluster", "nosuchcluster", "--yes"], "nosuchcluster"),
    (["baseline", "show", "nosuchcluster"], "nosuchcluster"),
]


@pytest.mark.parametrize(
    ("argv", "fragment"), CLI_CASES, ids=[" ".join(a) or "nothing" for a, _ in CLI_CASES]
)
def test_a_bad_cli_invocation_is_one_clear_error_and_changes_nothing(direct, aws, argv, fragment):
    managed_cluster_with_dev(direct)
    before = world(aws, direct)
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(argv)
    except SystemExit as exc:
        code = exc.code
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    assert code not in (0, None)
    assert lines and lines[-1].startswith("error: ") and fragment in lines[-1], err.getvalue()
    assert world(aws, direct) == before
