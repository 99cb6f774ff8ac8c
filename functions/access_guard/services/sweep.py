"""The scheduled sweep: reconcile every managed cluster of the region, a few at a time.

Events are best effort (late, twice, never): the sweep catches what they miss. Clusters run with bounded
concurrency (each reads with its own bounded concurrency); a cluster another run holds (an event's
remediation, a break-glass restore) is skipped with a note and taken by the next sweep; one cluster's
failure does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..adapters.baseline_store import BaselineStore
from ..core.config import Config
from ..core.deadline import Deadline
from ..core.report import Trigger
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


def sweep(
    enforcer: Enforcer,
    region: str,
    *,
    deadline: Deadline | None = None,
    concurrency: int = DEFAULT_CLUSTER_CONCURRENCY,
    describe: Callable[[Exception], str] = lambda exc: f"{type(exc).__name__}: {exc}",
) -> SweepReport:
    clusters = managed_clusters(enforcer.store, enforcer.config, region)
    report = SweepReport()
    trigger = Trigger("sweep", "the scheduled sweep of every managed cluster")

    def one(cluster: str) -> None:
        try:
            run = enforcer.run(cluster, region, trigger=trigger, deadline=deadline, when_busy="mark")
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
