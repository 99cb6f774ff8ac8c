"""Flood resistance, the pure rules: which work a verification settles, how a batch's work is coalesced and
merged (core.work)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from access_guard.core.work import (
    VERIFIED_MARGIN_SECONDS,
    WorkItem,
    coalesce,
    merge_work,
    settled_by,
    sweep_work,
    trigger_of,
)

T = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
A = "arn:aws:iam::123456789012:role/a"
B = "arn:aws:iam::123456789012:role/b"


def item(
    principals: tuple[str, ...] | None = (A,),
    *,
    at: datetime = T,
    trigger: str = "event",
    cluster: str = "payments",
    event_id: str = "e1",
    actor: str | None = None,
) -> WorkItem:
    return WorkItem(
        cluster=cluster,
        region="us-east-1",
        principals=principals,
        trigger=trigger,
        event_id=event_id,
        event_name="UpdateAccessEntry",
        event_time=at.isoformat().replace("+00:00", "Z"),
        actor=actor,
        reason="test",
    )


def ts(moment: datetime) -> float:
    return moment.timestamp()


def test_a_change_older_than_its_principals_verification_is_settled():
    after = ts(T) + VERIFIED_MARGIN_SECONDS + 0.5
    assert settled_by(item(), {A: after})


def test_a_verification_within_the_margin_settles_nothing():
    # CloudTrail's eventTime has whole seconds: a run that started 1 s "after" may have missed the change
    assert not settled_by(item(), {A: ts(T) + 1.0})
    assert not settled_by(item(), {A: ts(T) + VERIFIED_MARGIN_SECONDS})


def test_a_verification_before_the_change_settles_nothing():
    assert not settled_by(item(), {A: ts(T) - 60, None: ts(T) - 60})


def test_every_principal_must_be_verified_or_the_whole_cluster():
    later = ts(T) + 10
    assert not settled_by(item((A, B)), {A: later})
    assert settled_by(item((A, B)), {A: later, B: later})
    assert settled_by(item((A, B)), {None: later})


def test_whole_cluster_work_needs_a_whole_cluster_verification():
    later = ts(T) + 10
    assert not settled_by(item(None), {A: later})
    assert settled_by(item(None), {None: later})


def test_only_changes_are_settled_never_a_baseline_a_sweep_or_a_restore():
    later = {None: ts(T) + 10, A: ts(T) + 10}
    for trigger in ("baseline", "sweep", "restore", "expiry", "continue"):
        assert not settled_by(item(None if trigger != "restore" else (A,), trigger=trigger), later)
    assert settled_by(item(trigger="principal"), later)


def test_a_batch_is_one_run_per_cluster_with_the_union_of_its_principals():
    runs = coalesce(
        [
            item((A,)),
            item((B,), event_id="e2"),
            item((A,), cluster="orders", event_id="e3"),
            item(None, trigger="sweep", cluster="orders", event_id="sweep-1"),  # not coalesced
        ]
    )
    assert runs == {"us-east-1/payments": (A, B), "us-east-1/orders": (A,)}


def test_a_whole_cluster_item_makes_the_batch_run_whole():
    assert coalesce([item((A,)), item(None, trigger="baseline", event_id="e2"), item((B,))]) == {
        "us-east-1/payments": None
    }


def test_merged_work_keeps_the_latest_change_of_each_cluster_and_principals():
    items = [item((A,), at=T + timedelta(seconds=s), event_id=f"e{s}") for s in (3, 1, 7, 2)]
    items.append(item((B,), event_id="b"))
    items.append(item((A,), event_id="e3"))  # a duplicate
    merged = merge_work(items)
    assert [(m.principals, m.event_id) for m in merged] == [((A,), "e7"), ((B,), "b")]


def test_sweep_work_names_its_tier():
    check = sweep_work("payments", "us-east-1", tier="check", run_id="r1", at=T)
    full = sweep_work("payments", "us-east-1", tier="full", run_id="r1", at=T)
    assert check.event_name != full.event_name and check.principals is None
    assert WorkItem.from_json(check.to_json()) == check


def test_a_coalesced_run_carries_who_changed_each_principal_of_its_clusters_items():
    bob, alice, root = (f"arn:aws:iam::123456789012:user/{n}" for n in ("bob", "alice", "root"))
    made_user = item((A,), trigger="principal", event_id="e0", actor=root)  # IAM: makes no entry
    first = item((A,), event_id="e1", actor=alice)
    later = item((A, B), at=T + timedelta(seconds=1), event_id="e2", actor=bob)
    elsewhere = item((B,), cluster="orders", event_id="e3", actor=alice)
    batch = [made_user, first, later, elsewhere]
    # the run of the first item does the cluster's work: it names the latest event's actor of each principal
    assert trigger_of(made_user, batch).changes == ((A, bob), (B, bob))
    assert trigger_of(first, []).changes == ((A, alice),)
    assert trigger_of(made_user, []).changes == ()
    sweep = item(None, trigger="sweep", event_id="sweep-1")
    assert trigger_of(sweep, batch).changes == ()  # not coalesced: its run does only its own work
