"""Work items: what an intent asks of which cluster, their JSON form and its validation, FIFO ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from access_guard.core.events import Actor, BaselineChange, EksChange, Ignored, PrincipalChange, parse
from access_guard.core.work import MAX_TEXT, WorkItem, WorkItemError, principal_work, work_for

from .cloudtrail_samples import (
    ACCOUNT,
    BOB,
    CLUSTER,
    DEV,
    EVENT_ID,
    PREFIX,
    REGION,
    SELF_ROLES,
    changed,
    eks_record,
    envelope,
)

WHEN = datetime(2026, 11, 23, 22, 14, 38, tzinfo=UTC)
BOB_ACTOR = Actor(BOB, "IAMUser", BOB, "10.0.0.1", None)
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"
# Characters SQS allows in a MessageGroupId / MessageDeduplicationId: alphanumerics and punctuation.
SQS_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def item(**overrides: Any) -> WorkItem:
    fields: dict[str, Any] = {
        "cluster": CLUSTER,
        "region": REGION,
        "principals": (DEV,),
        "trigger": "event",
        "event_id": EVENT_ID,
        "event_name": "DeleteAccessEntry",
        "event_time": "2026-11-23T22:14:38Z",
        "actor": BOB,
        "reason": f"DeleteAccessEntry of {DEV} on {CLUSTER} by {BOB}",
    }
    fields.update(overrides)
    return WorkItem(**fields)


# --- intents -> work ------------------------------------------------------------------------------------


def test_an_entry_change_asks_to_reconcile_that_principal() -> None:
    # given
    change = EksChange(EVENT_ID, "DeleteAccessEntry", WHEN, ACCOUNT, REGION, CLUSTER, DEV, BOB_ACTOR)
    # when
    work = work_for(change)
    # then
    assert work == [
        WorkItem(
            cluster=CLUSTER,
            region=REGION,
            principals=(DEV,),
            trigger="event",
            event_id=EVENT_ID,
            event_name="DeleteAccessEntry",
            event_time="2026-11-23T22:14:38Z",
            actor=BOB,
            reason=f"DeleteAccessEntry of {DEV} on {CLUSTER} by {BOB} from 10.0.0.1",
        )
    ]


def test_a_cluster_change_asks_to_reconcile_the_whole_cluster() -> None:
    change = EksChange(EVENT_ID, "UpdateClusterConfig", WHEN, ACCOUNT, REGION, CLUSTER, None, BOB_ACTOR)
    [work] = work_for(change)
    assert work.principals is None
    assert work.reason == f"UpdateClusterConfig of cluster {CLUSTER} by {BOB} from 10.0.0.1"


def test_a_session_caller_is_named_by_its_session_arn() -> None:
    actor = Actor(ALICE, "AssumedRole", f"arn:aws:iam::{ACCOUNT}:role/ops/Admin", None, None)
    change = EksChange(EVENT_ID, "DeleteAccessEntry", WHEN, ACCOUNT, REGION, CLUSTER, DEV, actor)
    assert work_for(change)[0].actor == ALICE


@pytest.mark.parametrize(("operation", "done"), [("Create", "created"), ("Update", "updated")])
def test_a_baseline_written_asks_to_reconcile_the_whole_cluster(operation: str, done: str) -> None:
    parameter = f"{PREFIX}clusters/{REGION}/{CLUSTER}"
    change = BaselineChange("ssm-1", WHEN, ACCOUNT, REGION, CLUSTER, operation, parameter)  # type: ignore[arg-type]
    [work] = work_for(change)
    assert (work.principals, work.trigger, work.actor) == (None, "baseline", None)
    assert work.event_name == f"Parameter Store Change: {operation}"
    assert work.reason == f"baseline of {CLUSTER} ({REGION}) {done}: {parameter}"


def test_a_deleted_baseline_asks_for_no_work() -> None:
    change = BaselineChange(
        "ssm-1", WHEN, ACCOUNT, REGION, CLUSTER, "Delete", "/eks-access-guard/clusters/x/y"
    )
    assert work_for(change) == []


def test_an_ignored_event_asks_for_no_work() -> None:
    assert work_for(Ignored("read-only: 'ListAccessEntries' changes nothing", EVENT_ID)) == []


def test_a_principal_change_cannot_be_turned_into_work_without_its_clusters() -> None:
    change = PrincipalChange(EVENT_ID, "DeleteRole", WHEN, ACCOUNT, "role", "dev", True, BOB_ACTOR)
    with pytest.raises(TypeError, match="PrincipalChange"):
        work_for(change)  # type: ignore[arg-type]


def test_a_principal_change_asks_one_cluster_to_reconcile_the_principals_it_references() -> None:
    change = PrincipalChange(EVENT_ID, "DeleteRole", WHEN, ACCOUNT, "role", "dev", True, BOB_ACTOR)
    work = principal_work(change, cluster=CLUSTER, region=REGION, principal_arns=(DEV,))
    assert (work.principals, work.trigger, work.event_name) == ((DEV,), "principal", "DeleteRole")
    assert work.reason == f"DeleteRole of role dev by {BOB} from 10.0.0.1: {CLUSTER} references {DEV}"


def test_a_deleted_principal_asks_a_config_map_cluster_to_reconcile_whole() -> None:
    change = PrincipalChange(EVENT_ID, "DeleteUser", WHEN, ACCOUNT, "user", "bob", True, BOB_ACTOR)
    work = principal_work(change, cluster=CLUSTER, region=REGION, principal_arns=None)
    assert work.principals is None
    assert "CONFIG_MAP mode, where its creator may have been user bob" in work.reason


def test_a_hostile_actor_still_makes_a_one_line_reason() -> None:
    # given: a caller ARN and source address with line breaks and a huge user agent
    record = changed(eks_record("DeleteAccessEntry"), "userIdentity.arn", "arn:aws:iam::1:user/x\nFAKE LOG")
    record = changed(record, "sourceIPAddress", "10.0.0.1\u2028" + "y" * 5000)
    intent = parse(record, account=ACCOUNT, region=REGION, prefix=PREFIX, self_roles=SELF_ROLES)
    # when
    [work] = work_for(intent)
    # then
    assert work.reason.isprintable() and len(work.reason) <= MAX_TEXT
    assert "\\n" in work.reason and "\\u2028" in work.reason


def test_a_real_event_makes_a_valid_work_item() -> None:
    intent = parse(
        envelope(eks_record("AssociateAccessPolicy")),
        account=ACCOUNT,
        region=REGION,
        prefix=PREFIX,
        self_roles=SELF_ROLES,
    )
    [work] = work_for(intent)
    assert WorkItem.from_json(json.loads(json.dumps(work.to_json()))) == work


# --- JSON --------------------------------------------------------------------------------------------------


def test_to_json_is_a_plain_object_of_every_field() -> None:
    assert item().to_json() == {
        "cluster": CLUSTER,
        "region": REGION,
        "principals": [DEV],
        "trigger": "event",
        "event_id": EVENT_ID,
        "event_name": "DeleteAccessEntry",
        "event_time": "2026-11-23T22:14:38Z",
        "actor": BOB,
        "reason": f"DeleteAccessEntry of {DEV} on {CLUSTER} by {BOB}",
    }


@pytest.mark.parametrize("principals", [None, (DEV,), (DEV, BOB)])
def test_a_work_item_reads_back_equal_from_its_json_text(principals: tuple[str, ...] | None) -> None:
    original = item(principals=principals)
    assert WorkItem.from_json(json.dumps(original.to_json())) == original


def test_principals_are_kept_sorted_and_unique() -> None:
    assert item(principals=(BOB, DEV, BOB)).principals == (DEV, BOB)  # role/... sorts before user/...


VALID = item().to_json()


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != key}


BAD_JSON: list[tuple[str, object, str]] = [
    ("a list", [VALID], "invalid work item: expected an object, got list"),
    ("not JSON", "{", "invalid work item: not JSON (Expecting property name enclosed in double quotes"),
    ("a field missing", without("cluster"), "invalid work item: cluster is missing"),
    ("an unknown field", {**VALID, "clusterName": "x"}, "invalid work item: unknown field(s) clusterName"),
    ("a cluster that is not a name", {**VALID, "cluster": "a/b"}, "cluster 'a/b' is not an EKS cluster name"),
    ("a cluster that is a number", {**VALID, "cluster": 7}, "cluster 7 is not an EKS cluster name"),
    ("a region that is not one", {**VALID, "region": "mars"}, "region 'mars' is not an AWS region"),
    (
        "a region too long for a group id",
        {**VALID, "region": "us-" + "x" * 30 + "-1"},
        "is not an AWS region",
    ),
    ("empty principals", {**VALID, "principals": []}, "principals is empty (null means the whole cluster)"),
    (
        "principals a string",
        {**VALID, "principals": DEV},
        "principals must be a list of ARNs or null, got str",
    ),
    ("a session as a principal", {**VALID, "principals": [ALICE]}, "is not an IAM role, user or root ARN"),
    (
        "a number as a principal",
        {**VALID, "principals": [7]},
        "principals: 7 is not an IAM role, user or root ARN",
    ),
    ("an unknown trigger", {**VALID, "trigger": "whim"}, "trigger 'whim' is not one of event, baseline"),
    ("an event id with a space", {**VALID, "event_id": "a b"}, "event_id 'a b' is not 1-128 printable"),
    ("an empty event id", {**VALID, "event_id": ""}, "event_id '' is not 1-128 printable"),
    ("an event name on two lines", {**VALID, "event_name": "a\nb"}, "event_name 'a\\nb' is not one line"),
    (
        "a time without a zone",
        {**VALID, "event_time": "2026-11-23T22:14:38"},
        "is not an ISO 8601 time in UTC",
    ),
    (
        "a time not in UTC",
        {**VALID, "event_time": "2026-11-23T22:14:38+02:00"},
        "is not an ISO 8601 time in UTC",
    ),
    (
        "a time that is not one",
        {**VALID, "event_time": "now"},
        "event_time 'now' is not an ISO 8601 time in UTC",
    ),
    ("an empty actor", {**VALID, "actor": ""}, "actor '' is not one line"),
    ("a reason on two lines", {**VALID, "reason": "a\nb"}, "reason 'a\\nb' is not one line"),
    ("a reason too long", {**VALID, "reason": "x" * (MAX_TEXT + 1)}, "is not one line of 1-2000 characters"),
    ("no reason", {**VALID, "reason": None}, "reason None is not one line"),
]


@pytest.mark.parametrize(
    ("obj", "message"), [(o, m) for _, o, m in BAD_JSON], ids=[i for i, _, _ in BAD_JSON]
)
def test_a_bad_work_item_is_refused_saying_what_is_wrong(obj: object, message: str) -> None:
    with pytest.raises(WorkItemError) as raised:
        WorkItem.from_json(obj)
    assert message in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(WorkItemError) as raised:
        WorkItem.from_json({**VALID, "cluster": "a/b", "trigger": "whim"})
    assert "cluster 'a/b'" in str(raised.value) and "trigger 'whim'" in str(raised.value)


def test_a_bad_work_item_cannot_be_made_either() -> None:
    with pytest.raises(WorkItemError, match="trigger"):
        item(trigger="whim")


# --- FIFO ids ---------------------------------------------------------------------------------------------


def test_the_group_is_the_cluster_in_its_region() -> None:
    assert item().group_id == f"{REGION}/{CLUSTER}"


def test_the_longest_names_make_a_valid_group_id() -> None:
    group = item(region="ap-southeast-5", cluster="c" * 100).group_id
    assert SQS_ID.fullmatch(group)


def test_the_dedup_id_is_a_sha256_of_the_event_and_the_cluster() -> None:
    dedup = item().dedup_id
    assert re.fullmatch(r"[0-9a-f]{64}", dedup) and SQS_ID.fullmatch(dedup)
    assert dedup == item(reason="another reason", trigger="principal", actor=None).dedup_id


@pytest.mark.parametrize(
    "other",
    [
        {"event_id": "another-event"},
        {"region": "eu-west-1"},
        {"cluster": "staging"},
        {"principals": None},
        {"principals": (BOB,)},
    ],
)
def test_the_dedup_id_differs_when_the_event_the_cluster_or_the_principals_differ(other: dict) -> None:
    assert item(**other).dedup_id != item().dedup_id


def test_the_dedup_id_ignores_the_order_of_principals() -> None:
    assert item(principals=(DEV, BOB)).dedup_id == item(principals=(BOB, DEV)).dedup_id
