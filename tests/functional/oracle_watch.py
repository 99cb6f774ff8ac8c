"""The invariant, judged by the emulator's access oracle after every EKS write (never by the product's code).

`InvariantWatch` subscribes to the local AWS's CloudTrail delivery, which runs in this process right after
each call commits. For every EKS write on the watched cluster it asks the oracle who can administer the
cluster and checks, against the state before that write:
  1. the set of admins did not go from non-empty to empty;
  2. if the write removed the admin path of anyone the baseline does not name as an admin, a baseline admin
     held a working admin path (through an access entry, as the oracle sees it: entry bound to the live
     principal, principal existing, admin policy at cluster scope) before the write, and still holds it.
Runs cut short at any write are covered: every prefix of a run is one of the states checked.

The one window the EKS API leaves open (an entry is created without policies, then given them): creating a
baseline admin's entry may take that principal's own aws-auth admin away until its policy is associated. If
that empties the set, the very next write (of this run, or of the next one when this one was cut short
there) must give it back; anything else is a violation, as is a window still open when watching ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local import cloudtrail, control
from local.eks import eks_backends

ACCOUNT = "123456789012"
REGION = "us-east-1"


def oracle(cluster: str, region: str = REGION, account: str = ACCOUNT) -> dict[str, dict[str, Any]]:
    """principalArn -> the oracle's grant (source, clusterAdmin, ...), read in-process under the lock."""
    with control.STATE_LOCK:
        access = eks_backends[account][region].access(cluster)
    return {p["principalArn"]: p for p in access["principals"]}


def admins(grants: dict[str, dict[str, Any]]) -> set[str]:
    return {arn for arn, p in grants.items() if p["clusterAdmin"]}


@dataclass
class InvariantWatch:
    cluster: str
    baseline_admins: frozenset[str]
    states: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    gap: str | None = None  # a baseline admin whose new entry emptied the admin set, until its policy lands

    def start(self) -> None:
        self.states = [oracle(self.cluster)]

    def __call__(self, envelope: dict[str, Any]) -> None:
        detail = envelope.get("detail") or {}
        if envelope.get("source") != "aws.eks" or detail.get("errorCode"):
            return
        if (detail.get("requestParameters") or {}).get("name") != self.cluster:
            return
        self.check(detail.get("eventName", "?"), detail)

    def settle(self) -> None:
        """Judge the state once more with no write: a mode update completes after the call that started it."""
        self.check("(an update completing after the last write)", {})

    def check(self, event: str, detail: dict[str, Any]) -> None:
        before, after = self.states[-1], oracle(self.cluster)
        self.writes.append(event)
        self.states.append(after)
        had, has = admins(before), admins(after)
        if self.gap is not None:
            if self.gap not in has:
                self.violations.append(f"{event} did not give {self.gap} back the admin its new entry took")
            self.gap = None
        if had and not has:
            created = (detail.get("requestParameters") or {}).get("principalArn")
            if event == "CreateAccessEntry" and created in self.baseline_admins and had == {created}:
                self.gap = created
                return
            self.violations.append(f"{event} left nobody able to administer the cluster (had {sorted(had)})")
            return
        removed = (had - has) - self.baseline_admins
        if removed:
            verifiers = {
                arn
                for arn in self.baseline_admins
                if before.get(arn, {}).get("source") == "access-entry" and arn in had and arn in has
            }
            if not verifiers:
                self.violations.append(
                    f"{event} removed the admin path of {sorted(removed)} while no baseline admin held a "
                    f"working admin path (admins before: {sorted(had)}, after: {sorted(has)})"
                )


@contextmanager
def watching(cluster: str, baseline_admins: Iterable[str]) -> Iterator[InvariantWatch]:
    watch = InvariantWatch(cluster, frozenset(baseline_admins))
    watch.start()
    cloudtrail.subscribe(watch)
    try:
        yield watch
    finally:
        cloudtrail.unsubscribe(watch)
    watch.settle()
    if watch.gap is not None:
        watch.violations.append(f"the admin {watch.gap} lost when its entry was created was never given back")
