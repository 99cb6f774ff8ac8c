"""IAM, read-only: which roles and users of the cluster's account exist, and since when.

Two ways to ask, picked by how many principals are in question: one paginated pass over ListRoles and/or
ListUsers (a whole-cluster read: one pass answers for every entry), or one GetRole/GetUser per principal (a
targeted read of one or two entries costs one call each, whatever the account's size). Either way the answer
is `ARN -> CreateDate` for the principals that exist; an ARN looked up and absent does not exist. An IAM
error is raised, never read as "absent": a principal whose existence cannot be confirmed must not be
reported deleted (nor, by the core, counted as alive).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..core import principals
from ..core.identity_center import SSO_PATH_PREFIX
from .clients import error_code

_LIST = {"role": ("list_roles", "Roles"), "user": ("list_users", "Users")}
_GET = {"role": ("get_role", "RoleName", "Role"), "user": ("get_user", "UserName", "User")}


def list_created(iam: Any, kind: str) -> dict[str, datetime]:
    """ARN -> CreateDate of every role (or user) of the account: one paginated pass."""
    operation, key = _LIST[kind]
    found: dict[str, datetime] = {}
    for page in iam.get_paginator(operation).paginate(PaginationConfig={"PageSize": 1000}):
        for item in page.get(key, []):
            found[item["Arn"]] = item["CreateDate"]
    return found


def identity_center_roles(iam: Any) -> list[str]:
    """The ARNs of the account's IAM Identity Center roles (every role under its path, region segment or
    not): one paginated ListRoles with the path prefix, however many permission sets a baseline names."""
    found: list[str] = []
    pages = iam.get_paginator("list_roles").paginate(
        PathPrefix=SSO_PATH_PREFIX, PaginationConfig={"PageSize": 1000}
    )
    for page in pages:
        found.extend(item["Arn"] for item in page.get("Roles", []))
    return found


def get_created(iam: Any, arn: str) -> datetime | None:
    """The CreateDate of the role or user `arn` names, or None when IAM has no such principal.

    IAM names are unique per account and kind whatever the path, so a principal of that name under another
    path is not this ARN's principal: None.
    """
    principal = principals.parse(arn)
    if principal is None or principal.kind not in _GET:
        raise ValueError(f"not an IAM role or user ARN: {arn}")
    operation, parameter, key = _GET[principal.kind]
    try:
        item = getattr(iam, operation)(**{parameter: principal.name})[key]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return item["CreateDate"] if item.get("Arn") == arn else None


class PrincipalIndex:
    """`ARN -> CreateDate` for the principals of one account that are asked about, gathered in the background.

    `want(arn)` starts the lookup that will answer for `arn` (a listing of its kind, or a GetRole/GetUser
    when `targeted`), at most once per kind or ARN; `result()` waits for all of them. Principals of other
    accounts are never looked up (this account's IAM cannot see them).
    """

    def __init__(self, iam: Any, account: str, pool: ThreadPoolExecutor, *, targeted: bool = False) -> None:
        self._iam = iam
        self._account = account
        self._pool = pool
        self._targeted = targeted
        self._lock = threading.Lock()
        self._lists: dict[str, Future[dict[str, datetime]]] = {}
        self._gets: dict[str, Future[datetime | None]] = {}

    def want_all(self, arns: Iterable[str]) -> None:
        for arn in arns:
            self.want(arn)

    def want(self, arn: str) -> None:
        principal = principals.parse(arn)
        if principal is None or principal.account != self._account or principal.kind not in _LIST:
            return
        with self._lock:
            if self._targeted:
                if arn not in self._gets:
                    self._gets[arn] = self._pool.submit(get_created, self._iam, arn)
            elif principal.kind not in self._lists:
                self._lists[principal.kind] = self._pool.submit(list_created, self._iam, principal.kind)

    def result(self) -> dict[str, datetime]:
        with self._lock:
            lists = list(self._lists.values())
            gets = dict(self._gets)
        merged: dict[str, datetime] = {}
        for future in lists:
            merged.update(future.result())
        for arn, pending in gets.items():
            created = pending.result()
            if created is not None:
                merged[arn] = created
        return merged
