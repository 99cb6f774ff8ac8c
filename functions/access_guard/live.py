"""Reads a cluster's live access configuration from EKS (and principal status from IAM) into a LiveState.

Calls: one DescribeCluster; ListAccessEntries pages of 100; per entry one DescribeAccessEntry and, for
STANDARD entries only, ListAssociatedAccessPolicies (one page unless an entry has more than 100 policies).
The per-entry calls run on a bounded thread pool and start as soon as each list page arrives, so the serial
list pages overlap the per-entry work; a semaphore keeps at most `concurrency` EKS calls in flight in all.
In CONFIG_MAP mode no entry call is made (EKS refuses them; no entry can exist).

Principal status takes one paginated pass over IAM ListRoles and/or ListUsers, only for the kinds of
principal of the cluster's own account that appear in the baseline or on the cluster, run beside the EKS
reads. EKS binds an entry to the principal's unique id at creation, so an entry whose IAM principal was
created after the entry ("recreated") grants nothing, and one whose principal is gone ("missing") neither.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar, cast

from botocore.exceptions import ClientError

from .clients import error_code
from .model import (
    STANDARD,
    AccessScope,
    AuthenticationMode,
    LiveEntry,
    LiveState,
    PolicyAssociation,
    PrincipalStatus,
)

DEFAULT_CONCURRENCY = 10
PAGE_SIZE = 100
_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")

T = TypeVar("T")


def parse_principal(arn: str) -> tuple[str, str] | None:
    """(account, "role" | "user") of an IAM role or user ARN, else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return None
    kind = parts[5].split("/", 1)[0]
    if kind not in ("role", "user") or "/" not in parts[5]:
        return None
    return parts[4], kind


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


def principal_status(
    arn: str, created_at: datetime | None, account: str, iam_index: dict[str, datetime]
) -> PrincipalStatus:
    """Pure: what IAM says about an entry's principal. `iam_index` maps ARN -> IAM CreateDate."""
    parsed = parse_principal(arn)
    if parsed is None or parsed[0] != account:
        return "unknown"
    if arn not in iam_index:
        return "missing"
    if created_at is not None and iam_index[arn] > created_at:
        return "recreated"
    return "ok"


class _IamIndex:
    """ARN -> CreateDate of the account's roles and/or users, each listed at most once, in the background."""

    def __init__(self, iam: Any, account: str, pool: ThreadPoolExecutor) -> None:
        self._iam = iam
        self._account = account
        self._pool = pool
        self._lock = threading.Lock()
        self._futures: dict[str, Future[dict[str, datetime]]] = {}

    def want(self, arn: str) -> None:
        parsed = parse_principal(arn)
        if parsed is None or parsed[0] != self._account:
            return
        kind = parsed[1]
        with self._lock:
            if kind not in self._futures:
                self._futures[kind] = self._pool.submit(self._list, kind)

    def _list(self, kind: str) -> dict[str, datetime]:
        operation, key = ("list_roles", "Roles") if kind == "role" else ("list_users", "Users")
        found: dict[str, datetime] = {}
        for page in self._iam.get_paginator(operation).paginate(PaginationConfig={"PageSize": 1000}):
            for item in page.get(key, []):
                found[item["Arn"]] = item["CreateDate"]
        return found

    def result(self) -> dict[str, datetime]:
        merged: dict[str, datetime] = {}
        with self._lock:
            futures = list(self._futures.values())
        for future in futures:
            merged.update(future.result())
        return merged


class LiveReader:
    def __init__(self, *, eks: Any, iam: Any, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._eks = eks
        self._iam = iam
        self.concurrency = concurrency

    def describe_cluster(self, cluster: str) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], self._eks.describe_cluster(name=cluster)["cluster"])
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                from .reconciler import ClusterNotFound  # defined there, where callers look for it

                raise ClusterNotFound(f"no EKS cluster named {cluster!r} in {self._region()}") from exc
            raise

    def _region(self) -> str:
        return str(getattr(getattr(self._eks, "meta", None), "region_name", "") or "")

    def read(self, cluster: str, region: str, principals: Iterable[str] = ()) -> LiveState:
        """The live state; `principals` (the baseline's) are checked against IAM for `missing_principals`."""
        described = self.describe_cluster(cluster)
        account = account_of_cluster_arn(described.get("arn", ""))
        mode = (described.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP"
        if mode not in _MODES:
            raise ValueError(f"cluster {cluster} reports an unknown authentication mode {mode!r}")
        principals = tuple(principals)
        semaphore = threading.BoundedSemaphore(self.concurrency)

        def call(fn: Callable[..., T], **kwargs: Any) -> T:
            with semaphore:
                return fn(**kwargs)

        with (
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="eks-read") as pool,
            ThreadPoolExecutor(2, thread_name_prefix="iam-read") as iam_pool,
        ):
            index = _IamIndex(self._iam, account, iam_pool)
            for arn in principals:
                index.want(arn)
            futures: list[Future[LiveEntry | None]] = []
            if mode != "CONFIG_MAP":
                token: str | None = None
                while True:
                    kwargs: dict[str, Any] = {"clusterName": cluster, "maxResults": PAGE_SIZE}
                    if token:
                        kwargs["nextToken"] = token
                    page = call(self._eks.list_access_entries, **kwargs)
                    for arn in page.get("accessEntries", []):
                        index.want(arn)
                        futures.append(pool.submit(self._read_entry, call, cluster, arn))
                    token = page.get("nextToken")
                    if not token:
                        break
            entries = [e for e in (f.result() for f in futures) if e is not None]
            iam_index = index.result()

        live_entries = {}
        for entry in entries:
            status = principal_status(entry.principal_arn, entry.created_at, account, iam_index)
            live_entries[entry.principal_arn] = LiveEntry(
                principal_arn=entry.principal_arn,
                type=entry.type,
                username=entry.username,
                kubernetes_groups=entry.kubernetes_groups,
                policies=entry.policies,
                created_at=entry.created_at,
                principal_status=status,
            )
        missing = frozenset(
            arn for arn in principals if principal_status(arn, None, account, iam_index) == "missing"
        )
        return LiveState(
            cluster=cluster,
            region=region,
            account_id=account,
            authentication_mode=cast(AuthenticationMode, mode),
            entries=dict(sorted(live_entries.items())),
            update_in_progress=described.get("status") == "UPDATING",
            missing_principals=missing,
        )

    def _read_entry(self, call: Callable[..., Any], cluster: str, arn: str) -> LiveEntry | None:
        try:
            entry = call(self._eks.describe_access_entry, clusterName=cluster, principalArn=arn)[
                "accessEntry"
            ]
            policies: list[dict[str, Any]] = []
            if (entry.get("type") or STANDARD) == STANDARD:
                token: str | None = None
                while True:
                    kwargs: dict[str, Any] = {
                        "clusterName": cluster,
                        "principalArn": arn,
                        "maxResults": PAGE_SIZE,
                    }
                    if token:
                        kwargs["nextToken"] = token
                    page = call(self._eks.list_associated_access_policies, **kwargs)
                    policies.extend(page.get("associatedAccessPolicies", []))
                    token = page.get("nextToken")
                    if not token:
                        break
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None  # deleted between the list and the describe: it is not live any more
            raise
        return entry_from_api(entry, policies)
