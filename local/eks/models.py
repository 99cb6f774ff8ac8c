"""moto's EKS backend, extended with access entries, access policies and asynchronous cluster updates.

State lives on `EmulatedCluster` (a moto `Cluster`); the rules live in `rules.py`; who really has access is
`oracle.compute_access`. Updates (authentication mode, version, logging, endpoint access, subnets) are
asynchronous without threads: an update records when it is due, every read derives the cluster's status,
mode, version and configuration from the clock, and what EKS does once when an update ends (the creator's
entry) is done by the first operation that finds it ended.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from moto.eks.models import CLUSTER_EXISTS_MSG, CLUSTER_NOT_FOUND_MSG, Cluster, EKSBackend
from moto.iam.models import iam_backends

from ..clock import SERVICE_CLOCK
from . import rules
from .oracle import AwsAuth, ClusterView, Creator, EntryView, IamView, compute_access
from .rules import RuleViolation
from .settings import SETTINGS

Clock = Callable[[], float]


@dataclass
class AssociatedPolicy:
    policy_arn: str
    scope: dict[str, Any]
    associated_at: float
    modified_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "policyArn": self.policy_arn,
            "accessScope": {"type": self.scope["type"], "namespaces": list(self.scope["namespaces"])},
            "associatedAt": self.associated_at,
            "modifiedAt": self.modified_at,
        }


@dataclass
class AccessEntry:
    principal: rules.Principal
    principal_id: str  # the unique id (AIDA.../AROA...) of the principal when the entry was made
    type: str
    username: str
    kubernetes_groups: list[str]
    tags: dict[str, str]
    arn: str
    created_at: float
    modified_at: float
    policies: dict[str, AssociatedPolicy] = field(default_factory=dict)

    def to_json(self, cluster_name: str) -> dict[str, Any]:
        return {
            "clusterName": cluster_name,
            "principalArn": self.principal.arn,
            "kubernetesGroups": list(self.kubernetes_groups),
            "accessEntryArn": self.arn,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "tags": dict(self.tags),
            "username": self.username,
            "type": self.type,
        }


@dataclass
class ClusterUpdate:
    """One asynchronous cluster update (botocore's `Update`): InProgress until it is due, then Successful,
    or Failed with `errors` and no change to the cluster.

    `changes` is what the cluster takes on when the update succeeds, by the cluster attribute it changes
    (`authentication_mode`, `version`, `logging`, `resources_vpc_config`).
    """

    id: str
    type: str
    params: list[dict[str, str]]
    changes: dict[str, Any]
    created_at: float
    due_at: float
    errors: list[dict[str, Any]] = field(default_factory=list)
    settled: bool = False  # what EKS does once, when the update ends, has been done

    def status(self, now: float) -> str:
        if now < self.due_at:
            return "InProgress"
        return "Failed" if self.errors else "Successful"

    def to_json(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        return {
            "id": self.id,
            "status": status,
            "type": self.type,
            "params": [dict(p) for p in self.params],
            "createdAt": self.created_at,
            "errors": [dict(e) for e in self.errors] if status == "Failed" else [],
        }


class EmulatedCluster(Cluster):
    """A moto cluster that also has an access configuration, access entries, an aws-auth ConfigMap, and
    asynchronous updates.

    What an update changes (mode, version, logging, VPC configuration) is read through the updates that have
    succeeded by the clock, so a cluster is never seen half-updated and no thread is needed.
    """

    def __init__(
        self,
        *args: Any,
        clock: Clock,
        authentication_mode: str,
        bootstrap_creator_admin: bool,
        creator: Creator | None,
        **kwargs: Any,
    ) -> None:
        self._clock = clock
        self._status = "ACTIVE"
        self.updates: list[ClusterUpdate] = []
        super().__init__(*args, **kwargs)
        self.initial_mode = authentication_mode
        self.bootstrap_creator_admin = bootstrap_creator_admin
        self.creator = creator
        self.entries: dict[str, AccessEntry] = {}
        self.aws_auth = AwsAuth()

    def pending_update(self) -> ClusterUpdate | None:
        now = self._clock()
        return next((u for u in self.updates if u.status(now) == "InProgress"), None)

    def _current(self, attribute: str, initial: Any) -> Any:
        """The attribute as the last update that changed it and succeeded left it, else as created."""
        now = self._clock()
        for update in reversed(self.updates):
            if attribute in update.changes and update.status(now) == "Successful":
                return update.changes[attribute]
        return initial

    @property
    def authentication_mode(self) -> str:
        return str(self._current("authentication_mode", self.initial_mode))

    # moto's Cluster sets these in its __init__ (and its own update_cluster_config): that is the value as
    # created; an update that succeeds overrides it.
    @property
    def version(self) -> str:  # type: ignore[override]
        return str(self._current("version", self._version))

    @version.setter
    def version(self, value: str) -> None:
        self._version = value

    @property
    def logging(self) -> dict[str, Any]:  # type: ignore[override]
        return self._current("logging", self._logging)  # type: ignore[no-any-return]

    @logging.setter
    def logging(self, value: dict[str, Any]) -> None:
        self._logging = value

    @property
    def resources_vpc_config(self) -> dict[str, Any]:  # type: ignore[override]
        return self._current("resources_vpc_config", self._resources_vpc_config)  # type: ignore[no-any-return]

    @resources_vpc_config.setter
    def resources_vpc_config(self, value: dict[str, Any]) -> None:
        self._resources_vpc_config = value

    @property
    def status(self) -> str:  # type: ignore[override]
        return "UPDATING" if self._status == "ACTIVE" and self.pending_update() else self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    @property
    def access_config(self) -> dict[str, Any]:
        return {
            "bootstrapClusterCreatorAdminPermissions": self.bootstrap_creator_admin,
            "authenticationMode": self.authentication_mode,
        }


class EmulatedEKSBackend(EKSBackend):
    """EKS with access entries. One lock per backend: the local server is threaded."""

    # the local services' clock: moving it ahead ends an update of minutes (a mode update) at once
    clock: Clock = staticmethod(SERVICE_CLOCK.time)  # type: ignore[assignment]

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()

    # --- clusters ------------------------------------------------------------------------------
    def create_cluster(  # type: ignore[override]
        self,
        name: str,
        role_arn: str,
        resources_vpc_config: dict[str, Any],
        version: str | None = None,
        kubernetes_network_config: dict[str, str] | None = None,
        logging: dict[str, Any] | None = None,
        client_request_token: str | None = None,
        tags: dict[str, str] | None = None,
        encryption_config: list[dict[str, Any]] | None = None,
        remote_network_config: dict[str, list[dict[str, list[str]]]] | None = None,
        access_config: Any = None,
        creator: Creator | None = None,
    ) -> EmulatedCluster:
        from moto.eks.exceptions import ResourceInUseException

        mode, bootstrap = rules.create_access_config(access_config)
        with self.lock:
            if name in self.clusters:
                raise ResourceInUseException(
                    clusterName=name,
                    nodegroupName=None,
                    addonName=None,
                    message=CLUSTER_EXISTS_MSG.format(clusterName=name),
                )
            validate_role_arn(role_arn)
            cluster = EmulatedCluster(
                name=name,
                role_arn=role_arn,
                resources_vpc_config=resources_vpc_config,
                version=version or rules.DEFAULT_VERSION,
                kubernetes_network_config=kubernetes_network_config,
                logging=logging,
                client_request_token=client_request_token,
                tags=tags,
                encryption_config=encryption_config,
                remote_network_config=remote_network_config,
                account_id=self.account_id,
                region_name=self.region_name,
                aws_partition=self.partition,
                clock=self.clock,
                authentication_mode=mode,
                bootstrap_creator_admin=bootstrap,
                creator=creator,
            )
            if mode in rules.API_MODES and bootstrap and creator is not None:
                self._add_creator_admin_entry(cluster, creator, self.clock())
            self.clusters[name] = cluster
            self.cluster_count += 1
            return cluster

    # --- cluster updates -----------------------------------------------------------------------
    def update_access_config(self, name: str, access_config: Any) -> ClusterUpdate:
        """UpdateClusterConfig(accessConfig): one step forward; ends Failed if failModeUpdates says so."""
        with self.lock:
            cluster = self._cluster(name)
            if not isinstance(access_config, dict) or "authenticationMode" not in access_config:
                raise rules.invalid("accessConfig must specify an authenticationMode.")
            if set(access_config) - {"authenticationMode"}:
                raise rules.invalid("Only authenticationMode can be updated in accessConfig.")
            self._check_no_update_running(cluster)
            mode = rules.check_mode_transition(
                cluster.authentication_mode, access_config["authenticationMode"]
            )
            errors = []
            if SETTINGS.take_mode_failure():
                errors.append(
                    {
                        "errorCode": "Unknown",
                        "errorMessage": (
                            f"The authentication mode update to {mode} failed (injected by the emulator's "
                            "failModeUpdates setting)."
                        ),
                        "resourceIds": [cluster.name],
                    }
                )
            return self._start_update(
                cluster,
                rules.ACCESS_CONFIG_UPDATE,
                [{"type": "AuthenticationMode", "value": mode}],
                {"authentication_mode": mode},
                SETTINGS.get().mode_update_seconds,
                errors,
            )

    def update_cluster_version(self, name: str, version: Any) -> ClusterUpdate:
        """UpdateClusterVersion: one Kubernetes minor version up."""
        with self.lock:
            cluster = self._cluster(name)
            self._check_no_update_running(cluster)
            wanted, params = rules.check_version_update(cluster.version, version)
            return self._start_update(
                cluster,
                rules.VERSION_UPDATE,
                params,
                {"version": wanted},
                SETTINGS.get().other_update_seconds,
            )

    def update_logging(self, name: str, logging: Any) -> ClusterUpdate:
        """UpdateClusterConfig(logging): a LoggingUpdate."""
        with self.lock:
            cluster = self._cluster(name)
            self._check_no_update_running(cluster)
            new, params = rules.logging_update(cluster.logging, logging)
            return self._start_update(
                cluster, rules.LOGGING_UPDATE, params, {"logging": new}, SETTINGS.get().other_update_seconds
            )

    def update_vpc_config(self, name: str, resources_vpc_config: Any) -> ClusterUpdate:
        """UpdateClusterConfig(resourcesVpcConfig): an EndpointAccessUpdate or a VpcConfigUpdate."""
        with self.lock:
            cluster = self._cluster(name)
            self._check_no_update_running(cluster)
            kind, new, params = rules.vpc_config_update(cluster.resources_vpc_config, resources_vpc_config)
            return self._start_update(
                cluster, kind, params, {"resources_vpc_config": new}, SETTINGS.get().other_update_seconds
            )

    def check_no_update_running(self, name: str) -> None:
        """ResourceInUseException if an update of the cluster is in progress (for updates moto applies)."""
        with self.lock:
            self._check_no_update_running(self._cluster(name))

    def describe_update(self, name: str, update_id: str) -> ClusterUpdate:
        with self.lock:
            cluster = self._cluster(name)
            for update in cluster.updates:
                if update.id == update_id:
                    return update
            raise RuleViolation(rules.NOT_FOUND, f"No update found for ID: {update_id}.")

    def list_updates(
        self, name: str, max_results: Any, next_token: str | None
    ) -> tuple[list[str], str | None]:
        """The cluster's update ids, oldest first."""
        with self.lock:
            cluster = self._cluster(name)
            return rules.paginate_in_order([u.id for u in cluster.updates], max_results, next_token)

    def _check_no_update_running(self, cluster: EmulatedCluster) -> None:
        if cluster.pending_update() is not None:
            raise RuleViolation(rules.IN_USE, rules.MSG_UPDATE_IN_PROGRESS)

    def _start_update(
        self,
        cluster: EmulatedCluster,
        kind: str,
        params: list[dict[str, str]],
        changes: dict[str, Any],
        seconds: float,
        errors: list[dict[str, Any]] | None = None,
    ) -> ClusterUpdate:
        now = self.clock()
        update = ClusterUpdate(str(uuid.uuid4()), kind, params, changes, now, now + seconds, errors or [])
        cluster.updates.append(update)
        return update

    def _settle(self, cluster: EmulatedCluster) -> None:
        """Do, once, what EKS does when an update ends: today, the cluster creator's entry when a cluster
        created in CONFIG_MAP gains access entries.

        AWS's documentation: "When you enable EKS access entries on clusters created before this feature was
        introduced [...], EKS automatically creates an access entry that reflects pre-existing permissions.
        This access entry shows: The IAM identity that originally created the cluster; The administrative
        permissions granted to that identity during cluster creation. [...] Previously, this administrative
        access was granted automatically and couldn't be modified. With EKS access entries enabled, you can
        now view and delete this legacy access configuration."
        (https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html, "Legacy cluster access
        configuration"). The API reference says of bootstrapClusterCreatorAdminPermissions, which CONFIG_MAP
        requires to be true, that it "Specifies whether or not the cluster creator IAM principal was set as a
        cluster admin access entry during cluster creation time"
        (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessConfigRequest.html).

        Modelled: when CONFIG_MAP -> API_AND_CONFIG_MAP succeeds, EKS creates a STANDARD entry for the creator
        with AmazonEKSClusterAdminPolicy at cluster scope, bound to the creator's identity at cluster creation
        (a deleted or recreated creator gets an entry that grants nothing). From then on, in
        API_AND_CONFIG_MAP and in API, that entry is the creator's only admin access: the invisible admin is
        gone, and deleting the entry takes the creator's access away.

        The documentation is explicit only for clusters created before access entries existed, and silent on
        whether any invisible access survives the entry's deletion. The reading modelled is the conservative
        one: a remediator that prunes the creator's entry (it is in no baseline) locks the creator out.
        """
        now = self.clock()
        for update in cluster.updates:
            if update.settled or update.status(now) == "InProgress":
                continue
            update.settled = True
            creator = cluster.creator
            if (
                update.status(now) == "Successful"
                and update.changes.get("authentication_mode") == rules.API_AND_CONFIG_MAP
                and cluster.initial_mode == rules.CONFIG_MAP
                and cluster.bootstrap_creator_admin
                and creator is not None
                and creator.principal.arn not in cluster.entries
            ):
                self._add_creator_admin_entry(cluster, creator, update.due_at)

    def _add_creator_admin_entry(self, cluster: EmulatedCluster, creator: Creator, at: float) -> None:
        """A STANDARD entry for the creator with the cluster-admin policy at cluster scope, made at `at`."""
        username, groups = rules.entry_identity(rules.STANDARD, creator.principal, None, None)
        entry = self._new_entry(
            cluster, creator.principal, creator.principal_id, rules.STANDARD, username, groups, {}, at=at
        )
        entry.policies[rules.ADMIN_POLICY_ARN] = AssociatedPolicy(
            rules.ADMIN_POLICY_ARN, {"type": "cluster", "namespaces": []}, at, at
        )
        cluster.entries[entry.principal.arn] = entry

    # --- access entries ------------------------------------------------------------------------
    def create_access_entry(
        self,
        cluster_name: str,
        principal_arn: Any,
        kubernetes_groups: list[str] | None,
        tags: dict[str, str] | None,
        username: str | None,
        entry_type: Any,
    ) -> AccessEntry:
        with self.lock:
            cluster = self._entries_cluster(cluster_name)
            principal = rules.parse_principal_arn(principal_arn)
            kind = rules.check_entry_type(entry_type)
            rules.check_node_principal(kind, principal, self.account_id)
            username, groups = rules.entry_identity(kind, principal, username, kubernetes_groups)
            checked_tags = rules.check_tags(tags or {})
            if principal.arn in cluster.entries:
                raise RuleViolation(rules.IN_USE, rules.MSG_ENTRY_IN_USE)
            found = iam_view([principal.account]).lookup(principal)
            if found is None or found[0] != principal.arn:
                raise rules.invalid(rules.MSG_INVALID_PRINCIPAL)
            entry = self._new_entry(cluster, principal, found[1], kind, username, groups, checked_tags)
            cluster.entries[principal.arn] = entry
            return entry

    def describe_access_entry(self, cluster_name: str, principal_arn: str) -> AccessEntry:
        with self.lock:
            return self._entry(self._entries_cluster(cluster_name), principal_arn)

    def update_access_entry(
        self, cluster_name: str, principal_arn: str, kubernetes_groups: list[str] | None, username: str | None
    ) -> AccessEntry:
        with self.lock:
            entry = self._entry(self._entries_cluster(cluster_name), principal_arn)
            if entry.type != rules.STANDARD:
                if username is not None or kubernetes_groups is not None:
                    raise rules.invalid(rules.MSG_STANDARD_ONLY)
                return entry
            if username is not None:
                rules.check_username(username)
            groups = rules.check_groups(kubernetes_groups) if kubernetes_groups is not None else None
            if username is not None:
                entry.username = username
            if groups is not None:
                entry.kubernetes_groups = groups
            entry.modified_at = self.clock()
            return entry

    def delete_access_entry(self, cluster_name: str, principal_arn: str) -> None:
        with self.lock:
            cluster = self._entries_cluster(cluster_name)
            self._entry(cluster, principal_arn)
            del cluster.entries[principal_arn]  # its associations go with it

    def list_access_entries(
        self, cluster_name: str, associated_policy_arn: str | None, max_results: Any, next_token: str | None
    ) -> tuple[list[str], str | None]:
        with self.lock:
            cluster = self._entries_cluster(cluster_name)
            arns = [
                arn
                for arn, entry in cluster.entries.items()
                if associated_policy_arn is None or associated_policy_arn in entry.policies
            ]
            return rules.paginate(arns, max_results, next_token)

    # --- access policies -----------------------------------------------------------------------
    def access_policies(self) -> dict[str, str]:
        return rules.policy_arns(SETTINGS.get().extra_access_policies)

    def associate_access_policy(
        self, cluster_name: str, principal_arn: str, policy_arn: Any, access_scope: Any
    ) -> AccessEntry:
        with self.lock:
            entry = self._entry(self._entries_cluster(cluster_name), principal_arn)
            if entry.type != rules.STANDARD:
                raise rules.invalid(rules.MSG_STANDARD_ONLY)
            arn = rules.check_policy_arn(policy_arn, self.access_policies().values())
            scope = rules.check_scope(access_scope)
            now = self.clock()
            existing = entry.policies.get(arn)
            associated_at = existing.associated_at if existing else now
            entry.policies[arn] = AssociatedPolicy(arn, scope, associated_at, now)
            return entry

    def disassociate_access_policy(self, cluster_name: str, principal_arn: str, policy_arn: str) -> None:
        with self.lock:
            entry = self._entry(self._entries_cluster(cluster_name), principal_arn)
            if policy_arn not in entry.policies:
                raise RuleViolation(rules.NOT_FOUND, rules.MSG_POLICY_NOT_ASSOCIATED)
            del entry.policies[policy_arn]

    def list_associated_access_policies(
        self, cluster_name: str, principal_arn: str, max_results: Any, next_token: str | None
    ) -> tuple[list[AssociatedPolicy], str | None]:
        with self.lock:
            entry = self._entry(self._entries_cluster(cluster_name), principal_arn)
            page, token = rules.paginate(entry.policies, max_results, next_token)
            return [entry.policies[arn] for arn in page], token

    # --- the emulator's own view (control API) --------------------------------------------------
    def access(self, cluster_name: str) -> dict[str, Any]:
        with self.lock:
            view = self._view(self._known_cluster(cluster_name))
        accounts = {self.account_id, *(e.principal.account for e in view.entries)}
        if view.creator:
            accounts.add(view.creator.principal.account)
        auth = view.aws_auth
        accounts.update(auth.map_accounts)
        accounts.update(rules.parse_mapping_arn(m["rolearn"], "role").account for m in auth.map_roles)
        accounts.update(rules.parse_mapping_arn(m["userarn"], "user").account for m in auth.map_users)
        return compute_access(view, iam_view(sorted(accounts)))

    def set_aws_auth(self, cluster_name: str, aws_auth: AwsAuth) -> None:
        with self.lock:
            self._known_cluster(cluster_name).aws_auth = aws_auth

    def get_aws_auth(self, cluster_name: str) -> AwsAuth:
        with self.lock:
            return self._known_cluster(cluster_name).aws_auth

    # --- helpers -------------------------------------------------------------------------------
    def _new_entry(
        self,
        cluster: EmulatedCluster,
        principal: rules.Principal,
        principal_id: str,
        kind: str,
        username: str,
        groups: list[str],
        tags: dict[str, str],
        at: float | None = None,
    ) -> AccessEntry:
        now = self.clock() if at is None else at
        arn = rules.entry_arn(
            self.partition, self.region_name, self.account_id, cluster.name, principal, str(uuid.uuid4())
        )
        return AccessEntry(principal, principal_id, kind, username, groups, tags, arn, now, now)

    def _cluster(self, name: str) -> EmulatedCluster:
        cluster = self.clusters.get(name)
        if not isinstance(cluster, EmulatedCluster):
            raise RuleViolation(rules.NOT_FOUND, CLUSTER_NOT_FOUND_MSG.format(clusterName=name))
        self._settle(cluster)
        return cluster

    def _known_cluster(self, name: str) -> EmulatedCluster:
        cluster = self.clusters.get(name)
        if not isinstance(cluster, EmulatedCluster):
            raise LookupError(f"no cluster {name!r} in {self.account_id}/{self.region_name}")
        self._settle(cluster)
        return cluster

    def _entries_cluster(self, name: str) -> EmulatedCluster:
        cluster = self._cluster(name)
        if cluster.authentication_mode not in rules.API_MODES:
            raise RuleViolation(rules.INVALID_REQUEST, rules.MSG_MODE)
        return cluster

    @staticmethod
    def _entry(cluster: EmulatedCluster, principal_arn: str) -> AccessEntry:
        entry = cluster.entries.get(principal_arn)
        if entry is None:
            raise RuleViolation(rules.NOT_FOUND, rules.MSG_ENTRY_NOT_FOUND)
        return entry

    @staticmethod
    def _view(cluster: EmulatedCluster) -> ClusterView:
        entries = tuple(
            EntryView(
                e.principal,
                e.principal_id,
                e.username,
                tuple(e.kubernetes_groups),
                {arn: dict(p.scope) for arn, p in e.policies.items()},
            )
            for e in cluster.entries.values()
        )
        return ClusterView(
            cluster.name,
            cluster.authentication_mode,
            cluster.initial_mode,
            cluster.creator,
            entries,
            cluster.aws_auth,
        )


@cache
def _partitions() -> frozenset[str]:
    import boto3

    return frozenset(boto3.Session().get_available_partitions())


_ROLE_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::\d{12}:role/.+")


def validate_role_arn(arn: Any) -> None:
    """moto's check (same message), without building a boto3 Session per call (0.15 s each)."""
    from moto.eks.exceptions import InvalidParameterException

    match = _ROLE_ARN.match(arn) if isinstance(arn, str) else None
    if not match or match["partition"] not in _partitions():
        raise InvalidParameterException(message=f"Invalid Role Arn: '{arn}'")


def iam_view(accounts: list[str]) -> IamView:
    """Which IAM users and roles exist right now in these accounts (moto's IAM), with their unique ids."""
    principals: dict[tuple[str, str, str], tuple[str, str]] = {}
    for account in accounts:
        iam = iam_backends[account]["aws"]
        for user in list(iam.users.values()):
            principals[(account, "user", user.name)] = (user.arn, user.id)
        for role in list(iam.roles.values()):
            principals[(account, "role", role.name)] = (role.arn, role.id)
    return IamView(principals)
