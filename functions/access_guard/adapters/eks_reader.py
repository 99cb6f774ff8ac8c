"""Reads a cluster's live access configuration from EKS (its principals' status from IAM) into a LiveState.

A whole-cluster read: one DescribeCluster; ListAccessEntries pages of 100; per entry one DescribeAccessEntry
and, for STANDARD entries only, ListAssociatedAccessPolicies. The per-entry calls run on a bounded thread
pool and start as soon as each list page arrives, so the serial list pages overlap the per-entry work; a
semaphore keeps at most `concurrency` EKS calls in flight in all. In CONFIG_MAP mode no entry call is made
(EKS refuses them; no entry can exist).

A targeted read (`only=`): DescribeCluster and the per-entry calls of just those principals, whatever the
cluster's size. The LiveState says which principals it covers, so nothing downstream mistakes an unread entry
for an absent one.

Principal status comes from IAM (`iam.PrincipalIndex`), asked beside the EKS reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar, cast

from botocore.exceptions import ClientError

from ..core import principals
from ..core.model import (
    MODE_ORDER,
    STANDARD,
    AccessScope,
    AuthenticationMode,
    LiveEntry,
    LiveState,
    PolicyAssociation,
)
from .clients import error_code
from .iam import PrincipalIndex

DEFAULT_CONCURRENCY = 10
PAGE_SIZE = 100
# A targeted read asks IAM per principal (GetRole/GetUser) up to this many; beyond, one listing is cheaper.
TARGETED_IAM_LIMIT = 20

T = TypeVar("T")


class ClusterNotFound(LookupError):
    """EKS has no cluster of this name in this region."""


def describe_cluster(eks: Any, cluster: str) -> dict[str, Any]:
    """DescribeCluster's cluster; ClusterNotFound when EKS has none of this name in the client's region."""
    try:
        return cast(dict[str, Any], eks.describe_cluster(name=cluster)["cluster"])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            region = getattr(getattr(eks, "meta", None), "region_name", "") or ""
            raise ClusterNotFound(f"no EKS cluster named {cluster!r} in {region}") from exc
        raise


def account_of_cluster_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def entry_from_api(entry: dict[str, Any], policies: Iterable[dict[str, Any]]) -> LiveEntry:
    """A LiveEntry from DescribeAccessEntry's accessEntry and ListAssociatedAccessPolicies' items.

    Policy ARNs are kept as read, known or not (AWS adds policies over time).
    """
    associations = []
    for item in policies:
        scope = item.get("accessScope") or {}
        associations.append(
            PolicyAssociation(
                item["policyArn"], AccessScope.of(scope.get("type", "cluster"), scope.get("namespaces"))
            )
        )
    return LiveEntry(
        principal_arn=entry["principalArn"],
        type=entry.get("type") or STANDARD,
        username=entry.get("username") or "",
        kubernetes_groups=tuple(sorted(set(entry.get("kubernetesGroups") or ()))),
        policies=tuple(sorted(set(associations))),
        created_at=entry.get("createdAt"),
    )


class EksReader:
    def __init__(self, *, eks: Any, iam: Any, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._eks = eks
        self._iam = iam
        self.concurrency = concurrency

    @property
    def region(self) -> str:
        return str(getattr(getattr(self._eks, "meta", None), "region_name", "") or "")

    def describe_cluster(self, cluster: str) -> dict[str, Any]:
        return describe_cluster(self._eks, cluster)

    def read(
        self,
        cluster: str,
        region: str,
        principals_of_interest: Iterable[str] = (),
        *,
        only: Iterable[str] | None = None,
    ) -> LiveState:
        """The live state: every entry, or with `only` just those principals' entries.

        `principals_of_interest` (the baseline's) are checked against IAM for `missing_principals`.
        """
        described = self.describe_cluster(cluster)
        account = account_of_cluster_arn(described.get("arn", ""))
        mode = (described.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP"
        if mode not in MODE_ORDER:
            raise ValueError(f"cluster {cluster} reports an unknown authentication mode {mode!r}")
        targeted = frozenset(only) if only is not None else None
        entries, missing = self._gather(cluster, account, mode, tuple(principals_of_interest), targeted)
        return LiveState(
            cluster=cluster,
            region=region,
            account_id=account,
            authentication_mode=cast(AuthenticationMode, mode),
            entries=dict(sorted(entries.items())),
            update_in_progress=described.get("status") == "UPDATING",
            missing_principals=missing,
            only_principals=targeted,
        )

    def reread(self, live: LiveState, arns: Iterable[str]) -> LiveState:
        """`live` with these principals' entries (and IAM's word on them) read again, the rest kept.

        No DescribeCluster: the cluster's mode only ever moves forward, and the older view of it is the
        more cautious one for every safety rule that reads it.

        An entry `live` saw absent (a run re-reads what it just created, before a removal depends on it) is
        read policies first: ListAssociatedAccessPolicies answers 404 when it is gone, and associated policies
        prove a STANDARD entry (only those take policies) holding them, which is all a safety gate asks; its
        username and groups are not read (left empty), and IAM's word on the principal is taken without the
        entry's creation time (the run created it after IAM confirmed the principal). An empty list says
        nothing of the type: DescribeAccessEntry then follows, as for any other entry.
        """
        targets = frozenset(arns)
        covered = live.only_principals
        created = frozenset(a for a in targets if a not in live.entries and (covered is None or a in covered))
        fresh, missing = self._gather(
            live.cluster, live.account_id, live.authentication_mode, tuple(targets), targets, created
        )
        entries = {arn: e for arn, e in live.entries.items() if arn not in targets}
        entries.update(fresh)
        return replace(
            live,
            entries=dict(sorted(entries.items())),
            missing_principals=(live.missing_principals - targets) | missing,
            only_principals=None if live.only_principals is None else live.only_principals | targets,
        )

    def _gather(
        self,
        cluster: str,
        account: str,
        mode: str,
        interest: tuple[str, ...],
        targeted: frozenset[str] | None,
        policies_first: frozenset[str] = frozenset(),
    ) -> tuple[dict[str, LiveEntry], frozenset[str]]:
        """The entries (all, or the targeted ones) with their principals' status, and which principals of
        interest IAM says do not exist."""
        semaphore = threading.BoundedSemaphore(self.concurrency)

        def call(fn: Callable[..., T], **kwargs: Any) -> T:
            with semaphore:
                return fn(**kwargs)

        few = targeted is not None and len(set(interest) | targeted) <= TARGETED_IAM_LIMIT
        with (
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="eks-read") as pool,
            ThreadPoolExecutor(2, thread_name_prefix="iam-read") as iam_pool,
        ):
            index = PrincipalIndex(self._iam, account, iam_pool, targeted=few)
            index.want_all(interest)
            futures: list[Future[LiveEntry | None]] = []
            if mode != "CONFIG_MAP":
                arns = sorted(targeted) if targeted is not None else self._list_entries(cluster, semaphore)
                for arn in arns:
                    index.want(arn)
                    read_one = self._read_policies_first if arn in policies_first else self._read_entry
                    futures.append(pool.submit(read_one, call, cluster, arn))
            read = [e for e in (f.result() for f in futures) if e is not None]
            iam_created = index.result()
        entries = {
            e.principal_arn: replace(
                e, principal_status=principals.status(e.principal_arn, e.created_at, account, iam_created)
            )
            for e in read
        }
        missing = frozenset(
            arn for arn in interest if principals.status(arn, None, account, iam_created) == "missing"
        )
        return entries, missing

    def _list_entries(self, cluster: str, semaphore: threading.BoundedSemaphore) -> Iterator[str]:
        """Entry ARNs page by page (each page fetched under the shared limit), as they arrive."""
        pages = iter(
            self._eks.get_paginator("list_access_entries").paginate(
                clusterName=cluster, PaginationConfig={"PageSize": PAGE_SIZE}
            )
        )
        while True:
            with semaphore:
                page = next(pages, None)
            if page is None:
                return
            yield from page.get("accessEntries", [])

    def _read_policies_first(self, call: Callable[..., Any], cluster: str, arn: str) -> LiveEntry | None:
        """One call for an entry with policies (see `reread`); an entry without any is described too."""
        try:
            paginator = self._eks.get_paginator("list_associated_access_policies")
            result = call(
                paginator.paginate(
                    clusterName=cluster, principalArn=arn, PaginationConfig={"PageSize": PAGE_SIZE}
                ).build_full_result
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            if error_code(exc) in ("InvalidRequestException", "InvalidParameterException"):
                return self._read_entry(call, cluster, arn)  # not a STANDARD entry: what it is decides
            raise
        policies = result.get("associatedAccessPolicies", [])
        if not policies:
            return self._read_entry(call, cluster, arn)
        return entry_from_api({"principalArn": arn, "type": STANDARD}, policies)

    def _read_entry(self, call: Callable[..., Any], cluster: str, arn: str) -> LiveEntry | None:
        try:
            described = call(self._eks.describe_access_entry, clusterName=cluster, principalArn=arn)
            entry = described["accessEntry"]
            policies: list[dict[str, Any]] = []
            if (entry.get("type") or STANDARD) == STANDARD:
                paginator = self._eks.get_paginator("list_associated_access_policies")
                result = call(
                    paginator.paginate(
                        clusterName=cluster, principalArn=arn, PaginationConfig={"PageSize": PAGE_SIZE}
                    ).build_full_result
                )
                policies = result.get("associatedAccessPolicies", [])
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None  # deleted between the list and the describe, or never there: not live
            raise
        return entry_from_api(entry, policies)
