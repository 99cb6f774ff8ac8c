"""A small client for the emulator's control API (`/_emulator/`), used by tests, the demo and benches."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

DEFAULT_ACCOUNT = "123456789012"


class EmulatorError(RuntimeError):
    pass


class Emulator:
    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")

    def _call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = f"{self.endpoint_url}/_emulator/{path}"
        query = {k: v for k, v in query.items() if v is not None}
        if query:
            url += "?" + urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise EmulatorError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from exc

    # --- lifecycle -------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def reset(self) -> None:
        """Forget every resource in every service (moto's reset) and every emulator setting."""
        self._call("POST", "reset")

    # --- faults ----------------------------------------------------------------------------------
    def set_fault(
        self,
        operation: str,
        *,
        latency_ms: float = 0,
        throttle: int = 0,
        error_status: int = 0,
        error_count: int = 0,
        commit_then_error: int = 0,
        commit_then_drop: int = 0,
        throttle_rate: float = 0,
        error_rate: float = 0,
        seed: int = 0,
    ) -> None:
        """`operation` is `Name`, `service:Name` or `*`. Counted faults apply to the next N matching calls:
        throttle (429) and error_count (error_status) fail them before they run, changing nothing;
        commit_then_error lets them run (state changes, CloudTrail records the success) then answers
        error_status (500 if unset); commit_then_drop lets them run then closes the connection unanswered.
        After the counts, throttle_rate and error_rate fail that share of calls at random (error_status, 503
        if unset), drawn from a generator seeded with `seed`."""
        body = {
            "latencyMs": latency_ms,
            "throttle": throttle,
            "errorStatus": error_status,
            "errorCount": error_count,
            "commitThenError": commit_then_error,
            "commitThenDrop": commit_then_drop,
            "throttleRate": throttle_rate,
            "errorRate": error_rate,
            "seed": seed,
        }
        self._call("PUT", f"faults/{operation}", body)

    def faults(self) -> dict[str, dict[str, Any]]:
        """The faults set now, by key, with what is left of their counts."""
        return self._call("GET", "faults")

    def clear_faults(self, operation: str | None = None) -> None:
        self._call("DELETE", f"faults/{operation}" if operation else "faults")

    # --- EKS: settings, the access oracle, aws-auth -----------------------------------------------
    def set_eks_settings(
        self,
        *,
        mode_update_seconds: float | None = None,
        other_update_seconds: float | None = None,
        fail_mode_updates: int | None = None,
        extra_access_policies: list[str] | None = None,
    ) -> dict[str, Any]:
        """Change the EKS emulator's settings (only those given); returns all of them.

        mode_update_seconds: how long an authentication-mode update stays InProgress.
        other_update_seconds: how long any other cluster update (UpdateClusterVersion, UpdateClusterConfig
            logging / resourcesVpcConfig) stays InProgress.
        fail_mode_updates: the next N authentication-mode updates end Failed (errors set, mode unchanged).
        extra_access_policies: access-policy names AWS 'added' since the fact sheet.
        """
        body: dict[str, Any] = {}
        if mode_update_seconds is not None:
            body["modeUpdateSeconds"] = mode_update_seconds
        if other_update_seconds is not None:
            body["otherUpdateSeconds"] = other_update_seconds
        if fail_mode_updates is not None:
            body["failModeUpdates"] = fail_mode_updates
        if extra_access_policies is not None:
            body["extraAccessPolicies"] = extra_access_policies
        return self._call("PUT", "eks/settings", body)

    def eks_settings(self) -> dict[str, Any]:
        """The EKS emulator's settings now (failModeUpdates counts down as mode updates fail)."""
        return self._call("GET", "eks/settings")

    def access(
        self, cluster: str, *, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT
    ) -> dict[str, Any]:
        """Who can really authenticate to `cluster`, and with what (see local/eks/oracle.py)."""
        return self._call("GET", "eks/access", cluster=cluster, region=region, account=account)

    def admins(self, cluster: str, *, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT) -> list[str]:
        """Principal ARNs that can administer the whole cluster right now."""
        return sorted(
            p["principalArn"]
            for p in self.access(cluster, region=region, account=account)["principals"]
            if p["clusterAdmin"]
        )

    def set_aws_auth(
        self,
        cluster: str,
        *,
        map_roles: list[dict[str, Any]] | None = None,
        map_users: list[dict[str, Any]] | None = None,
        map_accounts: list[str] | None = None,
        region: str = "us-east-1",
        account: str = DEFAULT_ACCOUNT,
    ) -> dict[str, Any]:
        body = {"mapRoles": map_roles or [], "mapUsers": map_users or [], "mapAccounts": map_accounts or []}
        return self._call("PUT", "eks/aws-auth", body, cluster=cluster, region=region, account=account)

    def aws_auth(
        self, cluster: str, *, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT
    ) -> dict[str, Any]:
        return self._call("GET", "eks/aws-auth", cluster=cluster, region=region, account=account)

    # --- CloudTrail ------------------------------------------------------------------------------
    def provision_permission_set(
        self, name: str, *, account: str = DEFAULT_ACCOUNT, region: str | None = None
    ) -> dict[str, Any]:
        """(Re-)provision IAM Identity Center permission set `name` to `account`: its roles are deleted and a
        new `AWSReservedSSO_<name>_<16 hex>` is created (under the region segment `region` when given), by
        Identity Center's service-linked role, CloudTrail records included.
        Returns {permissionSet, deleted: [ARN], created: ARN}."""
        path = f"identity-center/permission-sets/{quote(name, safe='')}/provision"
        return dict(self._call("POST", path, {"account": account, "region": region}))

    def permission_set_roles(self, name: str, *, account: str = DEFAULT_ACCOUNT) -> list[str]:
        """The ARNs of permission set `name`'s roles in `account` (normally one)."""
        path = f"identity-center/permission-sets/{quote(name, safe='')}/roles"
        return list(self._call("GET", path, account=account)["roles"])

    def cloudtrail_records(self) -> list[dict[str, Any]]:
        """Every CloudTrail record made so far, oldest first (the real LookupEvents API works too)."""
        return self._call("GET", "cloudtrail/records")

    def set_cloudtrail_delivery(
        self,
        *,
        delay_seconds: float | None = None,
        late_next: int | None = None,
        late_seconds: float | None = None,
        twice_next: int | None = None,
        reverse_next: int | None = None,
        drop_next: int | None = None,
    ) -> dict[str, Any]:
        """How CloudTrail events reach EventBridge (only the settings given change); returns them all, with
        how many events are `waiting` for their delay and `held` for a reversal.

        delay_seconds: every event is delivered this long after its call (default 0: at once).
        late_next, late_seconds: the next N events are delivered late_seconds after their call instead.
        twice_next: the next N events are delivered twice (the same event, the same id).
        reverse_next: the next N events are held, then delivered newest first when the Nth arrives.
        drop_next: the next N events are never delivered (CloudTrail, LookupEvents still have them).
        Reset with the emulator; flush_cloudtrail_delivery() delivers whatever waits, now.
        """
        fields = {
            "delaySeconds": delay_seconds,
            "lateNext": late_next,
            "lateSeconds": late_seconds,
            "twiceNext": twice_next,
            "reverseNext": reverse_next,
            "dropNext": drop_next,
        }
        return self._call("PUT", "cloudtrail/settings", {k: v for k, v in fields.items() if v is not None})

    def cloudtrail_delivery(self) -> dict[str, Any]:
        """The delivery settings now, with the counts left and the events `waiting` and `held`."""
        return self._call("GET", "cloudtrail/settings")

    def flush_cloudtrail_delivery(self) -> int:
        """Deliver now every event waiting for its delay (in due order), then the held ones newest first;
        returns how many deliveries were made."""
        return int(self._call("POST", "cloudtrail/flush")["delivered"])

    # --- the services' clock ---------------------------------------------------------------------
    def enforce_iam(self, roles: dict[str, list[dict[str, Any]]] | None) -> dict[str, Any]:
        """Enforce these roles' identity policies ({role ARN: [statement, ...]}) on every call their sessions
        make (local/iam_policies.py); None enforces nothing."""
        if roles is None:
            return self._call("DELETE", "iam")  # type: ignore[no-any-return]
        return self._call("PUT", "iam", {"roles": roles})  # type: ignore[no-any-return]

    def iam_enforcement(self) -> dict[str, Any]:
        """The roles whose policies are enforced and every call refused since they were given:
        {"roles": [ARN, ...], "denied": [{"action", "resource", "role", "caller"}, ...]}."""
        return self._call("GET", "iam")  # type: ignore[no-any-return]

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the local services' clock `seconds` ahead and fire what is then due (schedules, the sweep);
        returns {"offsetSeconds", "now", "realNow"}."""
        return self._call("POST", "clock", {"advanceSeconds": seconds})  # type: ignore[no-any-return]

    def clock(self) -> dict[str, Any]:
        """{"offsetSeconds": how far the services' clock is ahead of real time, "now", "realNow"}."""
        return self._call("GET", "clock")  # type: ignore[no-any-return]

    # --- AWS's limits and eventual consistency (local/strict.py) ----------------------------------
    def set_strict(
        self,
        *,
        ssm_get_tps: float | None = None,
        new_principal_seconds: float | None = None,
        parameter_visible_after_seconds: float | None = None,
    ) -> dict[str, float]:
        """Parameter Store throttling (GetParameter* calls a second; 0: off), how long a new IAM principal
        is refused by CreateAccessEntry, how long a parameter just written reads as missing."""
        fields = {
            "ssmGetTps": ssm_get_tps,
            "newPrincipalSeconds": new_principal_seconds,
            "parameterVisibleAfterSeconds": parameter_visible_after_seconds,
        }
        return self._call("PUT", "strict", {k: v for k, v in fields.items() if v is not None})  # type: ignore[no-any-return]

    def strict(self) -> dict[str, float]:
        return self._call("GET", "strict")  # type: ignore[no-any-return]
