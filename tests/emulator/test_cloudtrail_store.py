"""The record log: ordered, split by account and region on lookup, bounded."""

from __future__ import annotations

from local.cloudtrail.store import RecordStore


def record(n: int, account: str = "111122223333", region: str = "us-east-1") -> dict[str, object]:
    return {"n": n, "recipientAccountId": account, "awsRegion": region}


def test_lookup_sees_one_account_and_region_newest_first() -> None:
    store = RecordStore()
    for n, account, region in [
        (1, "a", "us-east-1"),
        (2, "b", "us-east-1"),
        (3, "a", "eu-west-1"),
        (4, "a", "us-east-1"),
    ]:
        store.add(record(n, account, region))

    assert [r["n"] for _, r in store.newest_first("a", "us-east-1")] == [4, 1]
    assert [r["n"] for r in store.all()] == [1, 2, 3, 4]


def test_the_oldest_records_go_first_when_the_log_is_full() -> None:
    store = RecordStore(max_records=3)
    for n in range(5):
        store.add(record(n))
    assert [r["n"] for r in store.all()] == [2, 3, 4]


def test_a_kept_record_is_a_copy() -> None:
    store = RecordStore()
    original = record(1)
    store.add(original)
    original["n"] = 99
    store.all()[0]["n"] = 98
    assert store.all()[0]["n"] == 1
