"""Plain data shared by the core (baseline, planner) and the adapters (SSM store, EKS reader/applier).

Everything here is immutable and free of I/O, so the planner can be a pure function of
(Baseline, LiveState) and tests can build either side by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .unmanaged import UnmanagedEntry

AuthenticationMode = Literal["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]
# The one-way order EKS allows: CONFIG_MAP -> API_AND_CONFIG_MAP -> API.
MODE_ORDER: tuple[AuthenticationMode, ...] = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")

STANDARD = "STANDARD"
# Entries EKS makes (or users make) for nodes: they carry EKS's own username and groups, take no access
# policies, and Guard never deletes one the baseline does not name (the next node would be cut off).
NODE_ENTRY_TYPES: tuple[str, ...] = (
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
)
ENTRY_TYPES: tuple[str, ...] = (STANDARD, *NODE_ENTRY_TYPES)

GuardMode = Literal["enforce", "detect"]


@dataclass(frozen=True, order=True)
class AccessScope:
    """`{"type": "cluster"}` or `{"type": "namespace", "namespaces": [...]}`; namespaces kept sorted."""

    type: Literal["cluster", "namespace"] = "cluster"
    namespaces: tuple[str, ...] = ()

    @staticmethod
    def of(type_: str, namespaces: list[str] | tuple[str, ...] | None = None) -> AccessScope:
        return AccessScope(type_, tuple(sorted(set(namespaces or ()))))  # type: ignore[arg-type]

    def normal(self) -> AccessScope:
        """The form scopes are compared in: sorted unique namespaces, none for a cluster scope."""
        return _normal_scope(self)

    def to_api(self) -> dict[str, object]:
        if self.type == "cluster":
            return {"type": "cluster"}
        return {"type": "namespace", "namespaces": list(self.namespaces)}

    def union(self, other: AccessScope) -> AccessScope:
        """The scope that covers both: the cluster, or the union of the namespaces."""
        if self.type == "cluster" or other.type == "cluster":
            return AccessScope()
        return AccessScope.of("namespace", (*self.namespaces, *other.namespaces))

    def covers(self, other: AccessScope) -> bool:
        """Everything `other` reaches, this scope reaches too."""
        return self.union(other).normal() == self.normal()


@lru_cache(maxsize=8192)  # a cluster has few distinct scopes; planning 1,000 entries meets them over and over
def _normal_scope(scope: AccessScope) -> AccessScope:
    if scope.type == "cluster":
        return AccessScope()
    return AccessScope.of(scope.type, scope.namespaces)


@dataclass(frozen=True, order=True)
class PolicyAssociation:
    policy_arn: str
    scope: AccessScope = field(default_factory=AccessScope)


@dataclass(frozen=True)
class EntrySpec:
    """One access entry as the baseline wants it.

    `username=None` means "whatever EKS generates" (see `default_username`); groups and policies are
    compared as sets and stored sorted. Only STANDARD entries carry username, groups and policies.
    """

    principal_arn: str
    type: str = STANDARD
    username: str | None = None
    kubernetes_groups: tuple[str, ...] = ()
    policies: tuple[PolicyAssociation, ...] = ()
    # Set for the entry of a principal the baseline does not own, made for grants: only add (create the entry
    # if there is none, associate or widen these policies); never change its username, groups or other
    # policies, which are not the grant's to change.
    only_adds: bool = False
    # Set when the entry is a permission set's, resolved to its role's ARN this run (shown with the ARN).
    permission_set: str | None = None


@dataclass(frozen=True)
class PermissionSetSpec:
    """An IAM Identity Center permission set's entry as the baseline wants it (`accessGuard.identityCenter`):
    an EntrySpec without its principal, which each run resolves to the set's live role (core.identity_center).
    """

    name: str
    type: str = STANDARD
    username: str | None = None
    kubernetes_groups: tuple[str, ...] = ()
    policies: tuple[PolicyAssociation, ...] = ()

    def entry(self, principal_arn: str) -> EntrySpec:
        return EntrySpec(
            principal_arn=principal_arn,
            type=self.type,
            username=self.username,
            kubernetes_groups=self.kubernetes_groups,
            policies=self.policies,
            permission_set=self.name,
        )


@dataclass(frozen=True)
class KeepRule:
    """Entries matching a keep rule are never touched (not pruned, not changed) unless in the baseline.

    `principal_arn` is an fnmatch glob; `type` an entry type. A rule with both must match both.
    """

    principal_arn: str | None = None
    type: str | None = None

    def matches(self, principal_arn: str, entry_type: str) -> bool:
        """Its principalARN glob (fnmatch, case-sensitive) and/or its type match; an empty rule matches
        nothing (validation refuses one)."""
        if self.principal_arn is None and self.type is None:
            return False
        if self.type is not None and self.type != entry_type:
            return False
        return self.principal_arn is None or fnmatchcase(principal_arn, self.principal_arn)


@dataclass(frozen=True)
class GuardSettings:
    mode: GuardMode = "enforce"
    prune: bool = False
    keep: tuple[KeepRule, ...] = ()
    max_deletions: int = 5
    # The longest break-glass grant on this cluster (accessGuard.breakGlass.maxMinutes); None: the
    # deployment's maximum. Never more than the deployment's maximum, whatever the baseline says.
    break_glass_max_minutes: int | None = None

    def keeps(self, principal_arn: str, entry_type: str) -> bool:
        """Guard leaves this entry alone when the baseline does not name it: a node entry (EKS makes them for
        node groups and Fargate profiles; the next node would be cut off), or one a keep rule matches."""
        return entry_type in NODE_ENTRY_TYPES or any(r.matches(principal_arn, entry_type) for r in self.keep)


@dataclass(frozen=True)
class EndingGrant:
    """Access a grant gave that must go now that no grant gives it: the entry Guard made for it, or (when the
    entry stays) the policy it associated, or (when the policy was there at a narrower scope before) the
    widening: the policy goes back to `restore_scope`."""

    principal_arn: str
    policy_arn: str
    delete_entry: bool = False
    restore_scope: AccessScope | None = None


@dataclass(frozen=True)
class Baseline:
    """A cluster's desired access: as its baseline document says, plus (`core.grants`) its active grants."""

    cluster: str
    region: str
    # The least mode the cluster must have; None means the baseline does not care.
    authentication_mode: AuthenticationMode | None
    entries: tuple[EntrySpec, ...]
    settings: GuardSettings = field(default_factory=GuardSettings)
    # Principals whose entry, or whose cluster admin, comes from a grant only: never a verifier of safety.
    granted: frozenset[str] = frozenset()
    # Access of ended grants to take away (grant-made entries to delete, grant-associated policies to remove).
    ending: tuple[EndingGrant, ...] = ()
    # IAM Identity Center permission sets (accessGuard.identityCenter), resolved per run: `resolved` pairs a
    # set with its live role (its entry is then among `entries`); `unresolved` says, one line each, why a
    # set has no role to use (none, or several): a refused step, never a guess.
    permission_sets: tuple[PermissionSetSpec, ...] = ()
    resolved: tuple[tuple[str, str], ...] = ()
    unresolved: tuple[str, ...] = ()


PrincipalStatus = Literal["ok", "missing", "recreated", "unknown"]


@dataclass(frozen=True)
class LiveEntry:
    principal_arn: str
    type: str
    username: str
    kubernetes_groups: tuple[str, ...]
    policies: tuple[PolicyAssociation, ...]
    created_at: datetime | None = None
    # "ok": the IAM principal exists and predates the entry; "missing": deleted; "recreated": the IAM
    # principal was created after the entry, so the entry is bound to a dead identity and grants
    # nothing; "unknown": not checked (e.g. another account's principal).
    principal_status: PrincipalStatus = "unknown"


@dataclass(frozen=True)
class LiveState:
    cluster: str
    region: str
    account_id: str
    authentication_mode: AuthenticationMode
    entries: dict[str, LiveEntry]
    # A mode update is running (cluster UPDATING): no further mode update can start.
    update_in_progress: bool = False
    # Baseline principals that IAM says do not exist (an entry cannot be created for them).
    missing_principals: frozenset[str] = frozenset()
    # A targeted read covers only these principals' entries (an entry outside them was not looked at, so
    # its absence here means nothing); None: every entry was read.
    only_principals: frozenset[str] | None = None


# --- The plan: one action is exactly one EKS write call -------------------------------------------------


@dataclass(frozen=True)
class UpgradeMode:
    """UpdateClusterConfig(accessConfig.authenticationMode=target); one step forward only."""

    current: AuthenticationMode
    target: AuthenticationMode


@dataclass(frozen=True)
class CreateEntry:
    """CreateAccessEntry with type, username and groups; policies follow as AssociatePolicy actions."""

    spec: EntrySpec


@dataclass(frozen=True)
class UpdateEntry:
    """UpdateAccessEntry: set username and replace kubernetesGroups (STANDARD entries only)."""

    principal_arn: str
    username: str
    kubernetes_groups: tuple[str, ...]
    # What the entry had, for the plan's `~ before -> after` display.
    before_username: str = ""
    before_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssociatePolicy:
    """AssociateAccessPolicy; associating again replaces the scope (a re-scope)."""

    principal_arn: str
    association: PolicyAssociation
    before_scope: AccessScope | None = None  # set when this re-scopes an existing association


@dataclass(frozen=True)
class DisassociatePolicy:
    principal_arn: str
    policy_arn: str


DeleteReason = Literal[
    "not-in-baseline", "principal-recreated", "type-changed", "grant-ended", "permission-set-moved"
]


@dataclass(frozen=True)
class DeleteEntry:
    principal_arn: str
    reason: DeleteReason
    entry_type: str = STANDARD
    # "permission-set-moved": the permission set and the role its entry moved to (the resolved ARN).
    permission_set: str | None = None
    moved_to: str | None = None


Action = UpgradeMode | CreateEntry | UpdateEntry | AssociatePolicy | DisassociatePolicy | DeleteEntry


@dataclass(frozen=True)
class Plan:
    """What it takes to bring a cluster to its baseline, in the order it must be applied.

    `warnings` are things the plan cannot fix (a baseline principal deleted from IAM); `refusals` say, one
    line each, why the safety rules held back the actions in `held`.
    """

    cluster: str
    region: str
    actions: tuple[Action, ...] = ()
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    held: tuple[Action, ...] = ()
    # Entries outside the baseline that Guard keeps (prune off, keep rules): `core.unmanaged`. Not drift.
    unmanaged: tuple[UnmanagedEntry, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.actions
