"""EKS writes: one plan action is exactly one call; authentication-mode updates and waiting on them.

A write answers an `ActionResult`, never raises for an AWS error: the service decides what a failure
means for the rest of the run. A create answered 409 (someone made the entry since we read) and a delete or
disassociate answered 404 (someone removed it) are not failures. Throttling and server errors are retried
by botocore (`clients.py`); a write retried after its first attempt committed comes back 409 or 404 and is
read the same way.

Waiting on a mode update uses a botocore waiter on DescribeUpdate, bounded by the caller.

IAM is eventually consistent: a role or user created moments ago is not yet known to EKS, and
CreateAccessEntry answers InvalidParameterException "invalid principal" for some seconds (botocore does
not retry a 400). The planner creates entries only for principals IAM says exist, so that answer means
"not yet": the create is retried with backoff (1, 2, 4, 8, 15 s) for up to `new_principal_retry_seconds`,
never past the run's deadline less `NEW_PRINCIPAL_DEADLINE_MARGIN_SECONDS` (adapters.deadline; with no
deadline known it is not retried), then reported as failed with EKS's message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

from ..core.model import (
    STANDARD,
    Action,
    AssociatePolicy,
    AuthenticationMode,
    CreateEntry,
    DeleteEntry,
    DisassociatePolicy,
    UpdateEntry,
)
from ..core.outcome import ActionResult
from .clients import error_code
from .deadline import remaining_seconds

# How long a principal new to IAM may stay unknown to EKS before the run reports it ("a few seconds").
NEW_PRINCIPAL_RETRY_SECONDS = 30.0
# What a run keeps for the rest of its work when it stops retrying at its deadline.
NEW_PRINCIPAL_DEADLINE_MARGIN_SECONDS = 10.0
_NEW_PRINCIPAL_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)

# DescribeUpdate until the update leaves InProgress (EKS ships no waiter for updates).
_WAITERS = WaiterModel(
    {
        "version": 2,
        "waiters": {
            "UpdateFinished": {
                "operation": "DescribeUpdate",
                "delay": 5,
                "maxAttempts": 24,
                "acceptors": [
                    {
                        "matcher": "path",
                        "argument": "update.status",
                        "expected": "Successful",
                        "state": "success",
                    },
                    {
                        "matcher": "path",
                        "argument": "update.status",
                        "expected": "Failed",
                        "state": "failure",
                    },
                    {
                        "matcher": "path",
                        "argument": "update.status",
                        "expected": "Cancelled",
                        "state": "failure",
                    },
                ],
            }
        },
    }
)


class ClusterBusy(Exception):
    """EKS refused an update because another one is running on the cluster (ResourceInUseException)."""


class WriteFailed(Exception):
    """An EKS write failed for another reason; the message says which (code: message)."""


def describe_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', str(exc))}"
    return f"{type(exc).__name__}: {exc}"


def _principal_not_yet_known(exc: ClientError) -> bool:
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return error_code(exc) == "InvalidParameterException" and "invalid principal" in message


class EksWriter:
    def __init__(
        self,
        eks: Any,
        *,
        new_principal_retry_seconds: float = NEW_PRINCIPAL_RETRY_SECONDS,
        remaining: Callable[[], float | None] = remaining_seconds,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._eks = eks
        self._retry_seconds = new_principal_retry_seconds
        self._remaining, self._sleep = remaining, sleep

    def _create(self, kwargs: dict[str, Any]) -> float:
        """CreateAccessEntry, retried while EKS does not know the principal yet; the seconds waited."""
        waited = 0.0
        allowed: float | None = None  # seconds this run may wait in all, fixed at the first refusal
        for delay in (*_NEW_PRINCIPAL_BACKOFF, None):
            try:
                self._eks.create_access_entry(**kwargs)
                return waited
            except ClientError as exc:
                if delay is None or not _principal_not_yet_known(exc):
                    raise
                if allowed is None:
                    left = self._remaining()  # no deadline known: do not wait
                    allowed = 0.0 if left is None else left - NEW_PRINCIPAL_DEADLINE_MARGIN_SECONDS
                    allowed = min(allowed, self._retry_seconds)
                budget = allowed - waited
                if budget <= 0:
                    raise
                delay = min(delay, budget)
                self._sleep(delay)
                waited += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def write(self, cluster: str, action: Action) -> tuple[ActionResult, bool]:
        """One EKS write. Returns the result and whether the live state needs a fresh read (a 409)."""
        eks = self._eks
        try:
            if isinstance(action, CreateEntry):
                spec = action.spec
                kwargs: dict[str, Any] = {
                    "clusterName": cluster,
                    "principalArn": spec.principal_arn,
                    "type": spec.type,
                }
                if spec.type == STANDARD:
                    if spec.username is not None:
                        kwargs["username"] = spec.username
                    if spec.kubernetes_groups:
                        kwargs["kubernetesGroups"] = list(spec.kubernetes_groups)
                try:
                    waited = self._create(kwargs)
                except ClientError as exc:
                    if error_code(exc) != "ResourceInUseException":
                        raise
                    # It exists (made since we read, or by our own attempt before a lost response): the
                    # fresh read that follows describes it, and the fresh plan compares and updates it.
                    return ActionResult(action, True, note="already existed; compared again"), True
                if waited:
                    note = f"created after {waited:g} s: the IAM principal was not yet known to EKS"
                    return ActionResult(action, True, note=note), False
            elif isinstance(action, UpdateEntry):
                eks.update_access_entry(
                    clusterName=cluster,
                    principalArn=action.principal_arn,
                    username=action.username,
                    kubernetesGroups=list(action.kubernetes_groups),
                )
            elif isinstance(action, AssociatePolicy):
                eks.associate_access_policy(
                    clusterName=cluster,
                    principalArn=action.principal_arn,
                    policyArn=action.association.policy_arn,
                    accessScope=action.association.scope.to_api(),
                )
            elif isinstance(action, DisassociatePolicy | DeleteEntry):
                try:
                    if isinstance(action, DeleteEntry):
                        eks.delete_access_entry(clusterName=cluster, principalArn=action.principal_arn)
                    else:
                        eks.disassociate_access_policy(
                            clusterName=cluster,
                            principalArn=action.principal_arn,
                            policyArn=action.policy_arn,
                        )
                except ClientError as exc:
                    if error_code(exc) != "ResourceNotFoundException":
                        raise
                    return ActionResult(action, True, note="already gone"), False
            else:  # pragma: no cover - UpgradeMode runs through start_mode_update
                raise TypeError(f"not an entry action: {action!r}")
        except (ClientError, BotoCoreError) as exc:
            return ActionResult(action, False, describe_error(exc)), False
        return ActionResult(action, True), False

    def start_mode_update(self, cluster: str, target: AuthenticationMode) -> str:
        """Start the move to `target`; the update's id. ClusterBusy when another update is running,
        WriteFailed for any other error."""
        try:
            response = self._eks.update_cluster_config(
                name=cluster, accessConfig={"authenticationMode": target}
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceInUseException":
                raise ClusterBusy(describe_error(exc)) from exc
            raise WriteFailed(describe_error(exc)) from exc
        except BotoCoreError as exc:
            raise WriteFailed(describe_error(exc)) from exc
        return str(response["update"]["id"])

    def running_mode_update(self, cluster: str) -> str | None:
        """The id of an authentication-mode update still running on the cluster, if any (None also when the
        updates cannot be read: the caller then treats the cluster as busy with something else)."""
        try:
            for page in self._eks.get_paginator("list_updates").paginate(name=cluster):
                for update_id in page.get("updateIds", []):
                    update = self._eks.describe_update(name=cluster, updateId=update_id)["update"]
                    if update.get("type") == "AccessConfigUpdate" and update.get("status") == "InProgress":
                        return str(update_id)
        except (ClientError, BotoCoreError):
            return None
        return None

    def wait_for_update(
        self, cluster: str, update_id: str, *, max_seconds: float, poll_seconds: float
    ) -> str | None:
        """Wait (bounded) for an update to finish. None when it succeeded; "InProgress" when it is still
        running at the bound; otherwise why it ended (Failed or Cancelled, with EKS's errors)."""
        waiter = create_waiter_with_client("UpdateFinished", _WAITERS, self._eks)
        attempts = max(1, int(max_seconds / poll_seconds) + 1) if poll_seconds > 0 else 1
        try:
            waiter.wait(
                name=cluster,
                updateId=update_id,
                WaiterConfig={"Delay": poll_seconds, "MaxAttempts": attempts},
            )
        except WaiterError as exc:
            update = (exc.last_response or {}).get("update") or {}
            status = update.get("status")
            if status in (None, "InProgress") and "Error" not in (exc.last_response or {}):
                return "InProgress"
            if status is None:
                return f"DescribeUpdate failed: {exc}"
            errors = "; ".join(str(e.get("errorMessage") or e) for e in update.get("errors") or [])
            return f"mode update {update_id} ended {status}" + (f": {errors}" if errors else "")
        return None
