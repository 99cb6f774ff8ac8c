"""The deployment's settings: read from cdk.json context (or a JSON file it names), checked in one pass.

Every problem is reported at once, before any construct is made, so bad input changes nothing. The
settings the runtime reads from its environment (prefix, mode, on-call principals, grant policies and
limits) are checked by the runtime's own parser (`access_guard.core.config.Config.from_env`), so the
deployment cannot accept a value the Lambdas would refuse at their first cold start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from access_guard.core import principals
from access_guard.core.config import (
    DEFAULT_GRANT_POLICIES,
    DEFAULT_MAX_GRANT_MINUTES,
    DEFAULT_PREFIX,
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    MAX_HOLD_NEW_ADMINS_MINUTES,
    Config,
    ConfigError,
    Env,
)

CONTEXT_KEY = "accessGuard"  # cdk.json: {"context": {"accessGuard": {...} | "path/to/config.json"}}

# CloudWatch Logs accepts only these retention periods: days -> the name of CDK's RetentionDays member.
LOG_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip
LOG_RETENTION_DAYS = tuple(LOG_RETENTION)

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}-[a-z]+-\d$")  # aws partition only: the runtime knows no other
_CLUSTER = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")  # EKS cluster names
_TAG_KEY = re.compile(r"^[\w.:/=+@ -]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w.:/=+@ -]{0,256}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Config keys that end up in the runtime's environment, by the variable they feed (for error messages).
_RUNTIME_KEYS = {
    Env.PREFIX: "prefix",
    Env.MODE: "mode",
    Env.CLUSTERS: "clusters",
    Env.ONCALL_PRINCIPALS: "oncallPrincipals",
    Env.ONCALL_PERMISSION_SETS: "oncallPermissionSets",
    Env.REQUIRE_MFA: "requireMfa",
    Env.MAX_GRANT_MINUTES: "maxGrantMinutes",
    Env.GRANT_POLICIES: "grantPolicies",
    Env.RATE_LIMIT_PER_MINUTE: "rateLimitPerMinute",
    Env.HOLD_NEW_ADMINS_MINUTES: "holdNewAdminsMinutes",
}

KNOWN_KEYS = frozenset(
    {
        "account",
        "regions",
        "clusters",
        "clusterTag",
        "prefix",
        "oncallPrincipals",
        "oncallPermissionSets",
        "requireMfa",
        "notificationEmails",
        "mode",
        "sweepIntervalMinutes",
        "fullSweepIntervalHours",
        "maxGrantMinutes",
        "grantPolicies",
        "rateLimitPerMinute",
        "nodeRoleArns",
        "logRetentionDays",
        "apiThrottle",
        "baselineWriters",
        "holdNewAdminsMinutes",
    }
)


class DeployConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "invalid EKS Access Guard configuration (cdk.json context "
            f"'{CONTEXT_KEY}'):\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class ClusterTag:
    key: str
    value: str


@dataclass(frozen=True)
class GuardConfig:
    """One deployment: an account, its service regions, and what the guard manages there."""

    account: str
    regions: tuple[str, ...]
    # Managed clusters by region; None when they are chosen by `cluster_tag` instead.
    clusters: Mapping[str, tuple[str, ...]] | None
    cluster_tag: ClusterTag | None
    prefix: str
    oncall_principals: tuple[str, ...]
    require_mfa: bool
    notification_emails: tuple[str, ...]
    mode: str
    sweep_interval_minutes: int
    full_sweep_interval_hours: int  # the sweep's full read (usernames, groups, scopes); the list check above
    max_grant_minutes: int
    grant_policies: tuple[str, ...]
    rate_limit_per_minute: int
    node_role_arns: tuple[str, ...]
    log_retention_days: int
    api_rate_limit: int
    api_burst_limit: int
    # IAM roles and users that may write baselines: the only principals the baseline key lets encrypt
    # through SSM, so the only ones whose writes the guard applies.
    baseline_writers: tuple[str, ...] = ()
    hold_new_admins_minutes: int = 0
    # IAM Identity Center permission sets whose roles' sessions are on call (in this account)
    oncall_permission_sets: tuple[str, ...] = ()

    def clusters_in(self, region: str) -> tuple[str, ...] | None:
        """The managed cluster names in `region` (None: chosen by tag)."""
        return None if self.clusters is None else self.clusters.get(region, ())

    def notes(self) -> list[str]:
        """What the deployer should know about this config that is not a mistake (printed at synth)."""
        found = []
        identity_center = [a for a in self.oncall_principals if principals.identity_center(a)]
        if self.require_mfa and identity_center:
            found.append(
                f"requireMfa: the {len(identity_center)} IAM Identity Center on-call role(s) "
                f"({', '.join(identity_center)}) are exempt from the API's MFA deny: their sessions come "
                "from AssumeRoleWithSAML, which never carries aws:MultiFactorAuthPresent; require MFA in "
                "Identity Center's own sign-in settings instead (README, Deploy: MFA with Identity Center)"
            )
        return found

    def runtime_env(self, region: str) -> dict[str, str]:
        """The runtime settings every function shares (resource names are added by the stack)."""
        env = {
            Env.PREFIX: self.prefix,
            Env.MODE: self.mode,
            Env.ONCALL_PRINCIPALS: ",".join(self.oncall_principals),
            Env.REQUIRE_MFA: "true" if self.require_mfa else "false",
            Env.MAX_GRANT_MINUTES: str(self.max_grant_minutes),
            Env.GRANT_POLICIES: ",".join(self.grant_policies),
            Env.RATE_LIMIT_PER_MINUTE: str(self.rate_limit_per_minute),
            Env.HOLD_NEW_ADMINS_MINUTES: str(self.hold_new_admins_minutes),
        }
        if self.oncall_permission_sets:
            env[Env.ONCALL_PERMISSION_SETS] = ",".join(self.oncall_permission_sets)
        names = self.clusters_in(region)
        if names is not None:
            env[Env.CLUSTERS] = ",".join(names)
        return env


def from_context(value: Any, *, base_dir: Path) -> GuardConfig:
    """The config from the context value: an object, or the path (relative to `base_dir`) of a JSON file."""
    if value is None:
        raise DeployConfigError(
            [f"no configuration: set context '{CONTEXT_KEY}' in cdk.json (see the README, Deploy)"]
        )
    if isinstance(value, str):
        path = (base_dir / value).resolve()
        try:
            value = json.loads(path.read_text())
        except OSError as exc:
            raise DeployConfigError([f"cannot read the config file {path}: {exc.strerror}"]) from exc
        except ValueError as exc:
            raise DeployConfigError([f"the config file {path} is not JSON: {exc}"]) from exc
    return parse(value)


def parse(raw: Any) -> GuardConfig:
    """Check every setting; raise DeployConfigError listing all problems, or return the config."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise DeployConfigError([f"the configuration must be a JSON object, got {type(raw).__name__}"])
    for key in sorted(set(raw) - KNOWN_KEYS):
        problems.append(f"unknown setting {key!r} (known: {', '.join(sorted(KNOWN_KEYS))})")

    def strings(key: str, *, required: bool = False) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            problems.append(f"{key} must be a list of non-empty strings")
            return ()
        if required and not value:
            problems.append(f"{key} must name at least one")
        if len(set(value)) != len(value):
            problems.append(f"{key} lists a value twice")
        return tuple(v.strip() for v in value)

    def whole(key: str, default: int, *, low: int, high: int) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(f"{key} must be a whole number from {low} to {high}, got {value!r}")
            return default
        return value

    def flag(key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            problems.append(f"{key} must be true or false, got {value!r}")
            return default
        return value

    account = raw.get("account")
    if not isinstance(account, str) or not _ACCOUNT.match(account):
        problems.append(f"account must be the 12-digit AWS account id to deploy to, got {account!r}")
        account = "000000000000"

    regions = strings("regions", required=True)
    for region in regions:
        if not _REGION.match(region) or region.startswith("cn-"):
            problems.append(f"regions: {region!r} is not a region of the aws partition")

    clusters: dict[str, tuple[str, ...]] | None = None
    cluster_tag: ClusterTag | None = None
    if ("clusters" in raw) == ("clusterTag" in raw):
        problems.append(
            "set exactly one of clusters (names) or clusterTag ({key, value}): which clusters are managed"
        )
    elif "clusters" in raw:
        value = raw["clusters"]
        if isinstance(value, list):
            names = strings("clusters", required=True)
            clusters = {region: names for region in regions}
        elif isinstance(value, dict):
            clusters = {}
            for region, names in value.items():
                if region not in regions:
                    problems.append(f"clusters: {region!r} is not one of regions")
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    problems.append(f"clusters[{region!r}] must be a list of cluster names")
                    continue
                clusters[region] = tuple(names)
        else:
            problems.append("clusters must be a list of names, or an object of region -> list of names")
        for region in regions:
            if clusters is not None and not clusters.get(region):
                problems.append(f"clusters: no cluster named for {region} (drop the region, or name one)")
        for region, names in (clusters or {}).items():
            for name in names:
                if not _CLUSTER.match(name):
                    problems.append(f"clusters: {name!r} ({region}) is not an EKS cluster name")
    else:
        tag = raw["clusterTag"]
        key = tag.get("key") if isinstance(tag, dict) else None
        value = tag.get("value") if isinstance(tag, dict) else None
        if not isinstance(tag, dict) or set(tag) != {"key", "value"}:
            problems.append("clusterTag must be an object with exactly a key and a value")
        elif not isinstance(key, str) or not _TAG_KEY.match(key) or key.startswith("aws:"):
            problems.append(f"clusterTag.key {key!r} is not a usable tag key")
        elif not isinstance(value, str) or not _TAG_VALUE.match(value):
            problems.append(f"clusterTag.value {value!r} is not a tag value")
        else:
            cluster_tag = ClusterTag(key, value)

    prefix = raw.get("prefix", DEFAULT_PREFIX)
    if not isinstance(prefix, str) or not re.fullmatch(r"/[A-Za-z0-9_.\-/]*", prefix) or "//" in prefix:
        problems.append(f"prefix must be an SSM path such as {DEFAULT_PREFIX!r}, got {prefix!r}")
        prefix = DEFAULT_PREFIX
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    if prefix.lower().startswith(("/aws", "/ssm")):
        problems.append(f"prefix {prefix!r} is reserved by AWS (paths may not start with /aws or /ssm)")

    oncall_sets = strings("oncallPermissionSets")
    oncall = strings("oncallPrincipals", required=not oncall_sets)
    emails = strings("notificationEmails")
    for email in emails:
        if not _EMAIL.match(email):
            problems.append(f"notificationEmails: {email!r} is not an e-mail address")

    mode = raw.get("mode", "enforce")
    if not isinstance(mode, str):
        problems.append(f"mode must be enforce or detect, got {mode!r}")
        mode = "enforce"

    node_roles = strings("nodeRoleArns")
    for arn in node_roles:
        principal = principals.parse(arn)
        if principal is None or principal.kind != "role" or principal.account != account:
            problems.append(f"nodeRoleArns: {arn!r} is not an IAM role ARN of account {account}")

    retention = raw.get("logRetentionDays", 90)
    if retention not in LOG_RETENTION_DAYS or isinstance(retention, bool):
        problems.append(
            f"logRetentionDays must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}, got {retention!r}"
        )
        retention = 90

    # Who may change cluster access through the guard: without them, nobody's baseline would be trusted.
    writers = strings("baselineWriters")
    if not writers and isinstance(raw.get("baselineWriters", []), list):
        problems.append(
            "baselineWriters must name at least one IAM role or user ARN: the only principals whose "
            "baselines the guard applies (the platform team, the CI pipeline)"
        )
    for arn in writers:
        principal = principals.parse(arn)
        if principal is None or principal.kind not in ("role", "user"):
            problems.append(f"baselineWriters: {arn!r} is not an IAM role or user ARN")

    throttle = raw.get("apiThrottle", {})
    rate, burst = 5, 10
    if not isinstance(throttle, dict) or set(throttle) - {"rateLimit", "burstLimit"}:
        problems.append("apiThrottle must be an object with rateLimit and/or burstLimit")
    else:
        rate, burst = throttle.get("rateLimit", rate), throttle.get("burstLimit", burst)
        for name, value in (("rateLimit", rate), ("burstLimit", burst)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
                problems.append(f"apiThrottle.{name} must be a whole number from 1 to 10000, got {value!r}")
        if isinstance(rate, int) and isinstance(burst, int) and burst < rate:
            problems.append("apiThrottle.burstLimit must be at least apiThrottle.rateLimit")

    config = GuardConfig(
        account=account,
        regions=regions,
        clusters=clusters,
        cluster_tag=cluster_tag,
        prefix=prefix,
        oncall_principals=oncall,
        oncall_permission_sets=oncall_sets,
        require_mfa=flag("requireMfa", True),
        notification_emails=emails,
        mode=mode.strip().lower(),
        sweep_interval_minutes=whole("sweepIntervalMinutes", 15, low=1, high=1440),
        full_sweep_interval_hours=whole("fullSweepIntervalHours", 24, low=1, high=168),
        max_grant_minutes=whole("maxGrantMinutes", DEFAULT_MAX_GRANT_MINUTES, low=1, high=1440),
        grant_policies=strings("grantPolicies") or DEFAULT_GRANT_POLICIES,
        rate_limit_per_minute=whole("rateLimitPerMinute", DEFAULT_RATE_LIMIT_PER_MINUTE, low=1, high=1000),
        node_role_arns=node_roles,
        log_retention_days=retention,
        api_rate_limit=rate if isinstance(rate, int) else 5,
        api_burst_limit=burst if isinstance(burst, int) else 10,
        baseline_writers=writers,
        hold_new_admins_minutes=whole("holdNewAdminsMinutes", 0, low=0, high=MAX_HOLD_NEW_ADMINS_MINUTES),
    )
    # The runtime's own parser judges what the runtime will read (one definition of those rules).
    for region in regions:
        try:
            Config.from_env(config.runtime_env(region))
        except ConfigError as exc:
            for problem in exc.problems:
                for env_name, key in _RUNTIME_KEYS.items():
                    problem = problem.replace(env_name, key)
                if problem not in problems:
                    problems.append(problem)
    if problems:
        raise DeployConfigError(problems)
    return config
