"""The service's settings: their names (environment variables, which the CDK sets) and one parse of them.

Pure: `Config.from_env(mapping)` reads the mapping it is given (handlers pass `os.environ`), never the
process environment itself. Every problem is reported at once, before any handler does anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import identity_center, principals
from .policies import KNOWN_POLICY_NAMES, POLICY_ARN_PREFIX

DEFAULT_PREFIX = "/eks-access-guard/"
# Every AWS client of the service carries this app id in its user agent (`app/eks-access-guard`), so the
# service's own calls are recognisable in CloudTrail, beside its roles' ARNs.
APP_ID = "eks-access-guard"
# The deployment's KMS key, by its alias (infra's BaselineKey default), and AWS's managed key for SSM:
# `baseline push` encrypts with the first it finds in the region.
BASELINE_KEY_ALIAS = f"alias/{APP_ID}"
AWS_MANAGED_SSM_KEY = "alias/aws/ssm"
SERVICE_NAME = "eks-access-guard"  # Powertools service name (logs, metrics dimension)
METRICS_NAMESPACE = "EksAccessGuard"
# What X-Ray traces in the Lambdas (Powertools Tracer's patch_modules): the AWS calls. Patching everything
# (patch_all) patched botocore and sqlite3, which the functions never use, and imported sqlite3 and a dozen
# X-Ray patch modules at each cold start.
TRACED_MODULES = ("botocore",)

DEFAULT_MAX_GRANT_MINUTES = 60
# No grant, whatever the deployment or a baseline says, lasts longer than a day: break glass is for hours.
MAX_GRANT_MINUTES_CEILING = 1440
DEFAULT_GRANT_POLICIES: tuple[str, ...] = tuple(
    POLICY_ARN_PREFIX + n
    for n in (
        "AmazonEKSClusterAdminPolicy",
        "AmazonEKSAdminPolicy",
        "AmazonEKSEditPolicy",
        "AmazonEKSViewPolicy",
        "AmazonEKSAdminViewPolicy",
    )
)
DEFAULT_RATE_LIMIT_PER_MINUTE = 10
DEFAULT_MODE_UPDATE_WAIT_SECONDS = 120.0
MAX_HOLD_NEW_ADMINS_MINUTES = 1440  # a held admin waits a day at most: holding is for catching mistakes
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")


class Env:
    """Environment variable names, one place for the runtime and the CDK."""

    PREFIX = "ACCESS_GUARD_PREFIX"  # SSM prefix of the baselines
    MODE = "ACCESS_GUARD_MODE"  # "detect": all clusters detect-only; "enforce": as each baseline says
    CLUSTERS = "ACCESS_GUARD_CLUSTERS"  # optional allow-list of managed cluster names (comma-separated)
    WORK_QUEUE_URL = "ACCESS_GUARD_WORK_QUEUE_URL"  # the FIFO queue of per-cluster work
    TOPIC_ARN = "ACCESS_GUARD_TOPIC_ARN"  # SNS topic for notifications
    IDEMPOTENCY_TABLE = "ACCESS_GUARD_IDEMPOTENCY_TABLE"
    STATE_TABLE = "ACCESS_GUARD_STATE_TABLE"  # per-cluster locks and per-caller rate limits
    GRANTS_TABLE = "ACCESS_GUARD_GRANTS_TABLE"
    AUDIT_TABLE = "ACCESS_GUARD_AUDIT_TABLE"
    ONCALL_PRINCIPALS = "ACCESS_GUARD_ONCALL_PRINCIPALS"  # comma-separated IAM role/user ARNs
    # comma-separated IAM Identity Center permission-set names: their roles' sessions are on call too
    ONCALL_PERMISSION_SETS = "ACCESS_GUARD_ONCALL_PERMISSION_SETS"
    REQUIRE_MFA = "ACCESS_GUARD_REQUIRE_MFA"  # "true" | "false"
    SELF_ROLE_ARNS = "ACCESS_GUARD_SELF_ROLE_ARNS"  # the service's own roles: their calls are ours
    SCHEDULE_GROUP = "ACCESS_GUARD_SCHEDULE_GROUP"  # EventBridge Scheduler group for grant expiries
    SCHEDULER_ROLE_ARN = "ACCESS_GUARD_SCHEDULER_ROLE_ARN"  # the role the scheduler invokes the expiry with
    EXPIRY_FUNCTION_ARN = "ACCESS_GUARD_EXPIRY_FUNCTION_ARN"
    MAX_GRANT_MINUTES = "ACCESS_GUARD_MAX_GRANT_MINUTES"  # ceiling for every cluster
    GRANT_POLICIES = "ACCESS_GUARD_GRANT_POLICIES"  # access policy ARNs a grant may ask for
    RATE_LIMIT_PER_MINUTE = "ACCESS_GUARD_RATE_LIMIT_PER_MINUTE"  # break-glass writes per caller
    MODE_UPDATE_WAIT_SECONDS = "ACCESS_GUARD_MODE_UPDATE_WAIT_SECONDS"  # bounded wait for a mode update
    # The service's account; optional: a handler reads it off its own function ARN when unset.
    ACCOUNT_ID = "ACCESS_GUARD_ACCOUNT_ID"
    # The baseline key's ARN: a baseline parameter that is not a SecureString under it is never applied.
    BASELINE_KEY_ARN = "ACCESS_GUARD_BASELINE_KEY_ARN"
    # Minutes a baseline change that adds a cluster admin waits after its note before the admin is given.
    HOLD_NEW_ADMINS_MINUTES = "ACCESS_GUARD_HOLD_NEW_ADMINS_MINUTES"
    # Local AWS only (never set by the CDK): a file holding the seconds the local services' clock is ahead
    # of real time (local/clock.py writes it; `POST /_emulator/clock` moves it). The handlers' clock
    # (wiring.now) and the locks' clock add it.
    LOCAL_CLOCK_FILE = "ACCESS_GUARD_LOCAL_CLOCK_FILE"
    # The SSM path of the settings too long for Lambda's 4 KB environment (PARAMETER_SETTINGS), and a digest
    # of them, so that a deploy that changes them also replaces warm execution environments.
    SETTINGS_PATH = "ACCESS_GUARD_SETTINGS_PATH"
    SETTINGS_DIGEST = "ACCESS_GUARD_SETTINGS_DIGEST"


class ConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


# Settings whose values grow with the deployment (the cluster list, the on-call list): the CDK writes them
# under one SSM path (`settings_path`) as standard parameters of at most SETTINGS_CHUNK_BYTES, each a JSON
# object of these variables' comma-separated values (a long list goes on in the next parameter), instead of
# into the functions' environments (Lambda allows 4 KB in all; core.limits). The handlers read the path at
# cold start and merge it in (`with_parameter_settings`); a variable set in the environment itself wins.
PARAMETER_SETTINGS = (Env.CLUSTERS, Env.ONCALL_PRINCIPALS)
SETTINGS_CHUNK_BYTES = 4_000  # under the standard tier's 4,096 bytes (core.limits)


class SettingsChanged(ConfigError):
    """The settings read do not match the function's digest: a deploy is writing them (retry shortly)."""


def settings_path(prefix: str, region: str) -> str:
    """Where the deployment's settings parameters live in `region`: beside the baselines, not under them."""
    return f"{prefix if prefix.endswith('/') else prefix + '/'}deployment/{region}/settings"


def settings_chunks(settings: Mapping[str, str]) -> list[str]:
    """The values of PARAMETER_SETTINGS in `settings` as parameter values of at most SETTINGS_CHUNK_BYTES."""
    chunks: list[dict[str, list[str]]] = [{}]
    for name in PARAMETER_SETTINGS:
        for item in (v for v in (settings.get(name) or "").split(",") if v):
            chunks[-1].setdefault(name, []).append(item)
            if len(_chunk_text(chunks[-1]).encode()) > SETTINGS_CHUNK_BYTES:
                chunks[-1][name].pop()
                chunks[-1] = {k: v for k, v in chunks[-1].items() if v}
                chunks.append({name: [item]})
    return [_chunk_text(chunk) for chunk in chunks]


def _chunk_text(chunk: Mapping[str, list[str]]) -> str:
    return json.dumps({k: ",".join(v) for k, v in chunk.items()}, separators=(",", ":"), sort_keys=True)


def settings_digest(chunks: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(chunks).encode()).hexdigest()[:16]


def with_parameter_settings(env: Mapping[str, str], chunks: Sequence[str]) -> dict[str, str]:
    """`env` with the settings parameters' values (given in their names' order) added; a variable `env`
    sets itself is kept. Raises SettingsChanged when they do not match the environment's digest."""
    wanted = (env.get(Env.SETTINGS_DIGEST) or "").strip()
    if wanted and settings_digest(chunks) != wanted:
        raise SettingsChanged([f"{Env.SETTINGS_PATH}: the settings changed since this function was deployed"])
    found: dict[str, list[str]] = {}
    for chunk in chunks:
        try:
            settings = json.loads(chunk)
        except ValueError as exc:
            raise ConfigError([f"{Env.SETTINGS_PATH}: a settings parameter is not JSON ({exc})"]) from exc
        if not isinstance(settings, dict) or not all(
            k in PARAMETER_SETTINGS and isinstance(v, str) for k, v in settings.items()
        ):
            raise ConfigError(
                [f"{Env.SETTINGS_PATH}: a parameter must map {', '.join(PARAMETER_SETTINGS)} to strings"]
            )
        for name, value in settings.items():
            found.setdefault(name, []).append(value)
    merged = dict(env)
    for name, values in found.items():
        if not (merged.get(name) or "").strip():
            merged[name] = ",".join(values)
    return merged


@dataclass(frozen=True)
class Config:
    prefix: str = DEFAULT_PREFIX
    detect_only: bool = False
    clusters: frozenset[str] | None = None  # None: every cluster with a baseline is managed
    work_queue_url: str | None = None
    topic_arn: str | None = None
    idempotency_table: str | None = None
    state_table: str | None = None
    grants_table: str | None = None
    audit_table: str | None = None
    oncall_principals: tuple[str, ...] = ()
    oncall_permission_sets: tuple[str, ...] = ()
    require_mfa: bool = False
    self_role_arns: frozenset[str] = frozenset()
    schedule_group: str | None = None
    scheduler_role_arn: str | None = None
    expiry_function_arn: str | None = None
    max_grant_minutes: int = DEFAULT_MAX_GRANT_MINUTES
    grant_policies: tuple[str, ...] = DEFAULT_GRANT_POLICIES
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
    mode_update_wait_seconds: float = DEFAULT_MODE_UPDATE_WAIT_SECONDS
    baseline_key_arn: str | None = None  # None: baselines are not checked against a key (tests only)
    hold_new_admins_minutes: int = 0

    def manages(self, cluster: str) -> bool:
        return self.clusters is None or cluster in self.clusters

    @staticmethod
    def from_env(env: Mapping[str, str]) -> Config:
        problems: list[str] = []

        def text(name: str) -> str | None:
            value = (env.get(name) or "").strip()
            return value or None

        def listed(name: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v.strip() for v in (env.get(name) or "").split(",") if v.strip()))

        def number(name: str, default: float, *, low: float, high: float, whole: bool) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = int(raw) if whole else float(raw)
            except ValueError:
                problems.append(f"{name} must be a {'whole ' if whole else ''}number, got {raw!r}")
                return default
            if not low <= value <= high:
                problems.append(f"{name} must be between {low:g} and {high:g}, got {raw}")
                return default
            return value

        def flag(name: str) -> bool:
            raw = (text(name) or "false").lower()
            if raw not in ("true", "false"):
                problems.append(f"{name} must be true or false, got {raw!r}")
            return raw == "true"

        prefix = text(Env.PREFIX) or DEFAULT_PREFIX
        if not prefix.startswith("/"):
            problems.append(f"{Env.PREFIX} must start with '/', got {prefix!r}")
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        mode = (text(Env.MODE) or "enforce").lower()
        if mode not in ("enforce", "detect"):
            problems.append(f"{Env.MODE} must be enforce or detect, got {mode!r}")
        oncall = listed(Env.ONCALL_PRINCIPALS)
        for arn in oncall:
            principal = principals.parse(arn)
            if principal is None or principal.kind == "root":
                problems.append(f"{Env.ONCALL_PRINCIPALS}: {arn!r} is not an IAM role or user ARN")
        oncall_sets = listed(Env.ONCALL_PERMISSION_SETS)
        for name in oncall_sets:
            problem = identity_center.name_problem(name)
            if problem is not None:
                problems.append(f"{Env.ONCALL_PERMISSION_SETS}: {problem}")
        grant_policies = listed(Env.GRANT_POLICIES) or DEFAULT_GRANT_POLICIES
        for arn in grant_policies:
            if (
                not arn.startswith(POLICY_ARN_PREFIX)
                or arn[len(POLICY_ARN_PREFIX) :] not in KNOWN_POLICY_NAMES
            ):
                problems.append(f"{Env.GRANT_POLICIES}: {arn!r} is not a known EKS access policy ARN")
        clusters = listed(Env.CLUSTERS)
        key_arn = text(Env.BASELINE_KEY_ARN)
        if key_arn is not None and not _KMS_KEY_ARN.fullmatch(key_arn):
            problems.append(f"{Env.BASELINE_KEY_ARN} must be a KMS key ARN, got {key_arn!r}")
        config = Config(
            prefix=prefix,
            detect_only=mode == "detect",
            clusters=frozenset(clusters) if clusters else None,
            work_queue_url=text(Env.WORK_QUEUE_URL),
            topic_arn=text(Env.TOPIC_ARN),
            idempotency_table=text(Env.IDEMPOTENCY_TABLE),
            state_table=text(Env.STATE_TABLE),
            grants_table=text(Env.GRANTS_TABLE),
            audit_table=text(Env.AUDIT_TABLE),
            oncall_principals=oncall,
            oncall_permission_sets=oncall_sets,
            require_mfa=flag(Env.REQUIRE_MFA),
            self_role_arns=frozenset(listed(Env.SELF_ROLE_ARNS)),
            schedule_group=text(Env.SCHEDULE_GROUP),
            scheduler_role_arn=text(Env.SCHEDULER_ROLE_ARN),
            expiry_function_arn=text(Env.EXPIRY_FUNCTION_ARN),
            max_grant_minutes=int(
                number(
                    Env.MAX_GRANT_MINUTES,
                    DEFAULT_MAX_GRANT_MINUTES,
                    low=1,
                    high=MAX_GRANT_MINUTES_CEILING,
                    whole=True,
                )
            ),
            grant_policies=grant_policies,
            rate_limit_per_minute=int(
                number(Env.RATE_LIMIT_PER_MINUTE, DEFAULT_RATE_LIMIT_PER_MINUTE, low=1, high=1000, whole=True)
            ),
            mode_update_wait_seconds=number(
                Env.MODE_UPDATE_WAIT_SECONDS, DEFAULT_MODE_UPDATE_WAIT_SECONDS, low=0, high=600, whole=False
            ),
            baseline_key_arn=key_arn,
            hold_new_admins_minutes=int(
                number(Env.HOLD_NEW_ADMINS_MINUTES, 0, low=0, high=MAX_HOLD_NEW_ADMINS_MINUTES, whole=True)
            ),
        )
        if problems:
            raise ConfigError(problems)
        return config


# --- resources the CDK makes and the adapters use: their key attributes and metric names, defined once ---


@dataclass(frozen=True)
class TableKeys:
    """A DynamoDB table's key schema (all string attributes), its TTL attribute and its global indexes."""

    partition: str
    sort: str | None = None
    ttl: str | None = None
    indexes: tuple[tuple[str, str, str], ...] = ()  # (index name, partition attribute, sort attribute)


# Powertools' DynamoDBPersistenceLayer defaults: partition key `id`, TTL attribute `expiration`.
IDEMPOTENCY_TABLE_KEYS = TableKeys("id", ttl="expiration")
# Per-cluster locks (`lock#REGION#CLUSTER`) and per-caller rate-limit windows.
STATE_TABLE_KEYS = TableKeys("pk", ttl="ttl")
# Grants of one cluster (`REGION#CLUSTER`), each by its id; kept a while after they end, for the record.
GRANTS_TABLE_KEYS = TableKeys("cluster", "grantId", ttl="ttl")
# Audit records of one cluster (`REGION#CLUSTER`, or `-` for calls about no cluster), newest last by `at`;
# the `all` index (one `feed` partition) lists every cluster's records in time order.
AUDIT_TABLE_KEYS = TableKeys("cluster", "at", ttl="ttl", indexes=(("all", "feed", "at"),))


class Metrics:
    """CloudWatch metric names (namespace METRICS_NAMESPACE, dimension service=SERVICE_NAME)."""

    DRIFT_DETECTED = "DriftDetected"  # runs that found the cluster away from its desired state
    ACTIONS_APPLIED = "ActionsApplied"  # EKS writes that succeeded
    FAILURES = "RemediationFailures"  # runs with a failed write or an error
    REFUSED_STEPS = "RefusedSteps"  # steps the safety rules held back
    REMEDIATION_DELAY = "EventToRemediatedSeconds"  # CloudTrail event time to the end of the run
    BREAK_GLASS_REQUESTS = "BreakGlassRequests"  # authorized break-glass API calls
    REVOCATION_FAILURES = "RevocationFailures"  # grant revocations that failed (retried; alarmed)
    WORK_ITEMS_QUEUED = "WorkItemsQueued"  # per-cluster work items the intake queued
    EVENTS_DROPPED = "EventsDropped"  # events the intake acknowledged without work (ignored, unmanaged)
    BASELINE_DELETED = "BaselineDeleted"  # managed baselines deleted (an alert each)
    BASELINE_REJECTED = "BaselineRejected"  # baselines from outside the trust boundary (an alert each)
