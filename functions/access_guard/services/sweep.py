"""The scheduled sweep: every managed cluster of the region looked at, in two tiers.

Events are best effort (late, twice, never): the sweep catches what they miss. With a work queue (in AWS),
the sweep only fans out: one work item a cluster (`fan_out`), so each cluster is its own remediate run, in
its cluster's FIFO group like any event's work, and a hundred clusters take no longer than one. Without a
queue (the CLI, tests), `sweep` runs the clusters here, a few at a time.

- The list check (every sweep, `check_cluster`): ListAccessEntries, and ListAccessEntries with
  associatedPolicyArn=P for each policy the desired state uses (and each admin-grade policy): a few paged
  calls a cluster show the entries created, deleted, and whose policies were associated or taken away.
  An entry on an IAM Identity Center role of a permission set the baseline names that is not the set's
  role resolved this run (a set re-provisioned with no event) differs too, as does a resolved role with
  no entry: the run moves the set. Only those entries are read in full (a targeted run); with no
  difference, nothing else is called. What the lists cannot show (a username, Kubernetes groups, an
  access scope changed) waits for the full read.
- The full read (on a slower schedule, daily by default): every entry read and reconciled.

A cluster another run holds (an event's remediation, a break-glass restore) is skipped with a note and
taken by the next sweep; one cluster's failure does not stop the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..adapters.baseline_store import BaselineNotFound, BaselineStore, BaselineUnreadable
from ..adapters.eks_entries import list_entry_arns
from ..adapters.eks_reader import ClusterNotFound, account_of_cluster_arn, describe_cluster
from ..adapters.state_table import ClusterBusy
from ..adapters.work_queue import WorkQueue
from ..core import identity_center
from ..core.config import Config
from ..core.deadline import Deadline
from ..core.model import MODE_ORDER, Baseline
from ..core.policies import RBAC_WRITING_POLICY_ARNS
from ..core.report import Trigger
from ..core.work import SWEEP_TIERS, WorkItem, sweep_work
from .enforce import Enforcer, RunReport, report_json

DEFAULT_CLUSTER_CONCURRENCY = 4


@dataclass
class SweepReport:
    runs: list[RunReport] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # clusters another run held
    missing: list[str] = field(default_factory=list)  # clusters with a baseline that no longer exist
    errors: list[str] = field(default_factory=list)  # one line per cluster that failed

    def to_json(self) -> dict[str, Any]:
        return {
            "clusters": len(self.runs) + len(self.busy) + len(self.missing) + len(self.errors),
            "runs": [report_json(r) for r in self.runs],
            "busy": self.busy,
            "missing": self.missing,
            "errors": self.errors,
        }


def managed_clusters(store: BaselineStore, config: Config, region: str) -> list[str]:
    """The clusters of this region with a stored baseline that the deployment manages."""
    return [c for c, r in store.list() if r == region and config.manages(c)]


def fan_out(
    store: BaselineStore, config: Config, queue: WorkQueue, region: str, *, tier: str, at: datetime
) -> list[WorkItem]:
    """Queue one work item a managed cluster (`tier`: "check" or "full"); the items queued."""
    run_id = f"{tier}-{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    items = [
        sweep_work(cluster, region, tier=tier, run_id=run_id, at=at)
        for cluster in managed_clusters(store, config, region)
    ]
    queue.send(items)
    return items


@dataclass(frozen=True)
class ListCheck:
    """What the list tier saw of one cluster."""

    calls: int  # EKS calls made
    entries: int  # entries listed
    differ: tuple[str, ...]  # principals whose entries must be read in full
    whole: str | None = None  # why the whole cluster must be read instead (its mode; or it is gone), if so


def list_check(eks: Any, desired: Baseline) -> ListCheck:
    """Compare the cluster's entry lists (all, and by associated policy) with the desired state."""
    cluster = desired.cluster
    try:
        described = describe_cluster(eks, cluster)
    except ClusterNotFound as exc:  # deleted: the run under the lock settles it as gone, its grants ended
        return ListCheck(1, 0, (), whole=str(exc))
    mode = (described.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP"
    wanted = desired.authentication_mode
    if mode == "CONFIG_MAP" or (
        wanted is not None and mode in MODE_ORDER and MODE_ORDER.index(mode) < MODE_ORDER.index(wanted)
    ):
        return ListCheck(1, 0, (), whole=f"authentication mode {mode}")
    listed = list_entry_arns(eks, cluster)
    calls = 1 + max(1, -(-len(listed) // 100))
    policies = {p.policy_arn for s in desired.entries for p in s.policies} | RBAC_WRITING_POLICY_ARNS
    holders: dict[str, set[str]] = {}
    for policy in sorted(policies):
        arns = list_entry_arns(eks, cluster, associated_policy_arn=policy)
        calls += max(1, -(-len(arns) // 100))
        for arn in arns:
            holders.setdefault(arn, set()).add(policy)
    present = set(listed)
    differ: set[str] = set()
    named = set()
    for spec in desired.entries:
        named.add(spec.principal_arn)
        expected = {p.policy_arn for p in spec.policies}
        if spec.principal_arn not in present or holders.get(spec.principal_arn, set()) != expected:
            differ.add(spec.principal_arn)
    settings = desired.settings
    for arn in present - named:
        # An entry the baseline does not name: the planner deletes it when pruning (unless kept); without
        # pruning it is left alone. A node entry cannot be told from the list: it is read, and kept.
        if settings.prune and not settings.keeps(arn, "STANDARD"):
            differ.add(arn)
    differ.update(e.principal_arn for e in desired.ending if e.principal_arn in present)
    # A permission set re-provisioned with no event: its resolved role (this run's) has no entry (above),
    # and its old role's entry is still listed. The run reads both and moves the set (or, when the set
    # resolves to no role or several, says why not); the cluster's account is in the ARN described above.
    account = account_of_cluster_arn(described.get("arn", "")) or None
    differ.update(identity_center.unresolved_entries(desired, present, account))
    return ListCheck(calls, len(listed), tuple(sorted(differ)))


def check_cluster(
    enforcer: Enforcer,
    eks: Any,
    cluster: str,
    region: str,
    *,
    trigger: Trigger,
    lock_wait_seconds: float = 0.0,
    deadline: Deadline | None = None,
) -> tuple[RunReport, ListCheck | None]:
    """The list tier on one cluster: its differing entries reconciled (a targeted run), or nothing done."""
    try:
        desired = enforcer.desired(cluster, region)
    except BaselineNotFound:
        return RunReport(cluster, region, skipped=f"{cluster} ({region}) has no baseline: not managed"), None
    except BaselineUnreadable:
        # the run says why and raises the alert
        run = enforcer.run(
            cluster,
            region,
            trigger=trigger,
            lock_wait_seconds=lock_wait_seconds,
            deadline=deadline,
            when_busy="mark",
        )
        return run, None
    check = list_check(eks, desired.baseline)
    if check.whole is None and not check.differ:
        skipped = f"list check: no drift seen ({check.entries} entries, {check.calls} EKS calls)"
        return RunReport(cluster, region, skipped=skipped), check
    # Reading an entry in full costs two calls: past half the cluster, one whole read is cheaper.
    whole = check.whole is not None or len(check.differ) * 2 > check.entries
    principals = None if whole else check.differ
    report = enforcer.run(
        cluster,
        region,
        trigger=trigger,
        principals=principals,
        lock_wait_seconds=lock_wait_seconds,
        deadline=deadline,
        when_busy="mark",  # the holder runs again for it: nothing waits for a visibility timeout
    )
    return report, check


def sweep(
    enforcer: Enforcer,
    region: str,
    *,
    deadline: Deadline | None = None,
    concurrency: int = DEFAULT_CLUSTER_CONCURRENCY,
    describe: Callable[[Exception], str] = lambda exc: f"{type(exc).__name__}: {exc}",
    tier: str = "full",
    eks: Any = None,
) -> SweepReport:
    """Every managed cluster here, `concurrency` at a time: the full read (default), or with
    `tier="check"` the list tier (`eks`: the EKS client its lists use)."""
    if tier not in SWEEP_TIERS or (tier == "check" and eks is None):
        raise ValueError(f"sweep tier {tier!r}: 'full', or 'check' with an EKS client")
    clusters = managed_clusters(enforcer.store, enforcer.config, region)
    report = SweepReport()
    trigger = Trigger("sweep", f"the scheduled sweep ({tier}) of every managed cluster")

    def one(cluster: str) -> None:
        try:
            if tier == "check":
                run = check_cluster(enforcer, eks, cluster, region, trigger=trigger, deadline=deadline)[0]
            else:
                run = enforcer.run(cluster, region, trigger=trigger, deadline=deadline, when_busy="mark")
        except ClusterBusy:
            report.busy.append(cluster)
            return
        except Exception as exc:  # one cluster's failure must not stop the sweep of the others
            report.errors.append(f"{cluster}: {describe(exc)}")
            return
        if run.busy:
            report.busy.append(cluster)  # its holder runs again for it (a pending mark)
        elif run.missing:
            report.missing.append(cluster)
        else:
            report.runs.append(run)

    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="sweep") as pool:
        list(pool.map(one, clusters))
    return report
