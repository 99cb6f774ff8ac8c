"""The intake: an event's intent in, per-cluster work items out on the FIFO work queue.

- An EKS change or a baseline written: work for that cluster, when the guard manages it (a baseline is
  stored for it in this region, and the configuration's cluster list, if any, names it).
- A baseline deleted: no work (there is nothing left to reconcile against) but an alert.
- An IAM principal deleted or created: IAM events carry names, not paths, so every managed cluster of this
  region is looked at, and each whose baseline names the principal, or that has an entry for it, gets work
  for those ARNs (matched on account, kind and name: `Principal.key`). A deleted principal also sends every
  managed CONFIG_MAP cluster to be reconciled whole: its creator's admin access is invisible in that mode,
  and the creator may be who was deleted.
- An IAM Identity Center role (`AWSReservedSSO_<set>_<hex>`) deleted or created, for a permission set a
  cluster's baseline names: work for the entries of every role of that set (any suffix) and the new role, so
  the run moves the set's entry to the role the set now resolves to (re-provisioning).

Nothing here acts on a cluster; the remediate handler reads the live state and decides.

Parameter Store: an IAM event finds the managed clusters and what their baselines name through the baseline
index (adapters.baseline_index: a cached listing of the manifests, each baseline read again only when its
version changes), not by reading every baseline. A baseline-change event whose baseline reads as missing
is looked at again for a few seconds before it is dropped: Parameter Store may not yet show a new write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..adapters.baseline_index import BaselineIndex
from ..adapters.baseline_store import BaselineNotFound, BaselineStore, BaselineUnreadable
from ..adapters.eks_entries import authentication_mode, entry_principal_arns
from ..adapters.work_queue import WorkQueue
from ..core import identity_center, principals
from ..core.config import Config, Env
from ..core.events import BaselineChange, EksChange, Ignored, PrincipalChange
from ..core.work import WorkItem, principal_work, work_for

DEFAULT_CONCURRENCY = 8  # clusters looked at at once for an IAM change
# A baseline-change event whose baseline is not there yet: looked at again after these waits (~3.5 s in all).
BASELINE_VISIBLE_RETRY_SECONDS = (0.5, 1.0, 2.0)

Intent = EksChange | PrincipalChange | BaselineChange | Ignored


@dataclass(frozen=True)
class Resolution:
    """What an intent comes to: the work to queue, or why there is none (`dropped`), and an alert to raise."""

    work: list[WorkItem] = field(default_factory=list)
    dropped: str | None = None
    alert: str | None = None
    notice: str | None = None  # told to the owners, not alarmed (a cluster no longer managed, on purpose)


class _Whole:
    """A cluster to reconcile whole."""


_WHOLE = _Whole()


class Intake:
    def __init__(
        self,
        *,
        store: BaselineStore,
        eks: Any,
        queue: WorkQueue | None,
        config: Config,
        region: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        index: BaselineIndex | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store, self.eks, self.queue, self.config = store, eks, queue, config
        self.index = index or BaselineIndex(store, store._ssm)  # noqa: SLF001 (the store's own client)
        self._sleep = sleep
        # The service's region: its clusters, its baselines. The EKS client's, unless told.
        self.region = region or str(eks.meta.region_name)
        self.concurrency = max(1, concurrency)

    def handle(self, intent: Intent) -> Resolution:
        """Resolve the intent and queue its work (raises when SQS refuses any of it)."""
        resolution = self.resolve(intent)
        if resolution.work:
            if self.queue is None:
                raise RuntimeError("this intake has no work queue to send to (resolve only)")
            self.queue.send(resolution.work)
        return resolution

    def resolve(self, intent: Intent) -> Resolution:
        if isinstance(intent, Ignored):
            return Resolution(dropped=intent.reason)
        if isinstance(intent, EksChange):
            unmanaged = self._unmanaged(intent.cluster, intent.region)
            return Resolution(dropped=unmanaged) if unmanaged else Resolution(work=work_for(intent))
        if isinstance(intent, BaselineChange):
            return self._baseline(intent)
        if isinstance(intent, PrincipalChange):
            return self._principal(intent)
        raise TypeError(f"not an intent: {type(intent).__name__}")

    # --- clusters the guard manages ------------------------------------------------------------------------
    def _unmanaged(self, cluster: str, region: str) -> str | None:
        """Why the guard does not manage this cluster, or None when it does."""
        if region != self.region:
            return f"unmanaged cluster {cluster}: it is in {region}, this service in {self.region}"
        if not self.config.manages(cluster):
            return f"unmanaged cluster {cluster}: not in the configured list ({Env.CLUSTERS})"
        if not self.store.exists(cluster, region):
            return f"unmanaged cluster {cluster}: " + _NO_BASELINE.format(region=region)
        return None

    def _managed_clusters(self) -> list[str]:
        return sorted(c for c in self.index.versions(self.region) if self.config.manages(c))

    # --- baselines -----------------------------------------------------------------------------------------
    def _baseline(self, change: BaselineChange) -> Resolution:
        if change.operation == "Delete":
            if change.region != self.region or not self.config.manages(change.cluster):
                return Resolution(dropped=f"unmanaged cluster {change.cluster}: its baseline was deleted")
            who = self.store.retired_by(change.cluster, change.region)
            if who is not None:
                said = f"{change.cluster} ({change.region}) is no longer managed, by {who}"
                return Resolution(
                    dropped=f"{said}: its baseline was deleted on purpose",
                    notice=f"{said}. Its baseline was deleted on purpose ({change.parameter}); the guard "
                    "changes nothing on it from now. Push a baseline to manage it again.",
                )
            return Resolution(
                dropped=f"baseline of {change.cluster} deleted: nothing changed; an alert is raised",
                alert=(
                    f"The baseline of cluster {change.cluster} ({change.region}) was deleted "
                    f"({change.parameter}). The guard no longer keeps its access; nothing was changed on "
                    "the cluster. Push a baseline again to resume."
                ),
            )
        unmanaged = self._unmanaged(change.cluster, change.region)
        for delay in BASELINE_VISIBLE_RETRY_SECONDS:
            # The event says it was written: "no baseline" may be Parameter Store not showing it yet.
            if not unmanaged or not unmanaged.endswith(_NO_BASELINE.format(region=change.region)):
                break
            self._sleep(delay)
            unmanaged = self._unmanaged(change.cluster, change.region)
        return Resolution(dropped=unmanaged) if unmanaged else Resolution(work=work_for(change))

    # --- IAM principals ------------------------------------------------------------------------------------
    def _principal(self, change: PrincipalChange) -> Resolution:
        who = f"{change.kind} {change.name}"
        clusters = self._managed_clusters()
        if not clusters:
            return Resolution(dropped=f"{change.event_name} of {who}: no managed cluster in {self.region}")
        key = (change.account, change.kind, change.name)
        workers = min(self.concurrency, len(clusters))
        with ThreadPoolExecutor(workers, thread_name_prefix="intake") as pool:
            found = list(pool.map(lambda cluster: self._references(cluster, key, change), clusters))
        work = [
            principal_work(
                change,
                cluster=cluster,
                region=self.region,
                principal_arns=None if arns is _WHOLE else arns,  # type: ignore[arg-type]
            )
            for cluster, arns in zip(clusters, found, strict=True)
            if arns
        ]
        if not work:
            also = " and none is in CONFIG_MAP mode" if change.deleted else ""
            none = f"no managed cluster in {self.region} references it{also}"
            return Resolution(dropped=f"{change.event_name} of {who}: {none}")
        return Resolution(work=work)

    def _references(
        self, cluster: str, key: tuple[str, str, str], change: PrincipalChange
    ) -> tuple[str, ...] | _Whole | None:
        """The ARNs of the principal (any path) that the cluster's baseline or entries hold; _WHOLE for a
        CONFIG_MAP cluster when the principal was deleted; None when the cluster does not concern it."""
        mode = authentication_mode(self.eks, cluster)
        if mode is None:
            return None  # the cluster is gone: nothing to reconcile
        if change.deleted and mode == "CONFIG_MAP":
            return _WHOLE
        arns: set[str] = set()
        # an Identity Center role of a permission set the baseline names: the set's entries, and the new role
        permission_set = (
            identity_center.permission_set_of_role_name(change.name) if change.kind == "role" else None
        )
        of_set = False
        try:
            baseline = self.index.baseline(cluster, self.region)
            arns.update(e.principal_arn for e in baseline.entries if _is(e.principal_arn, key))
            of_set = permission_set in {s.name for s in baseline.permission_sets}
            if of_set and change.arn is not None and identity_center.permission_set_of(change.arn):
                arns.add(change.arn)
        except BaselineNotFound:
            return None  # deleted since it was listed
        except BaselineUnreadable:
            pass  # its entries still say; the remediator reports the baseline itself
        if mode != "CONFIG_MAP":
            arns.update(
                arn
                for arn in entry_principal_arns(self.eks, cluster)
                if _is(arn, key)
                or (of_set and identity_center.permission_set_of(arn, change.account) == permission_set)
            )
        return tuple(sorted(arns)) or None


_NO_BASELINE = "no baseline stored for it in {region}"


def _is(arn: str, key: tuple[str, str, str]) -> bool:
    principal = principals.parse(arn)
    return principal is not None and principal.key == key
