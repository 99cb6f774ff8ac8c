"""The access oracle: who can really authenticate to a cluster right now, and with what.

A pure function over plain data: the cluster's mode and entries, its creator, its aws-auth ConfigMap, and a
view of IAM (which principals exist, with which unique ids). "An entry exists for this ARN" is not "this ARN
has access": an entry is bound to the unique id its principal had when the entry was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .rules import (
    API_MODES,
    CONFIG_MAP,
    CONFIG_MAP_MODES,
    Principal,
    is_cluster_admin_policy,
    parse_mapping_arn,
)

MASTERS = "system:masters"


@dataclass(frozen=True)
class EntryView:
    principal: Principal
    principal_id: str
    username: str
    kubernetes_groups: tuple[str, ...]
    # policyArn -> {"type", "namespaces"}
    policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Creator:
    principal: Principal
    principal_id: str


@dataclass(frozen=True)
class AwsAuth:
    map_roles: tuple[Mapping[str, Any], ...] = ()
    map_users: tuple[Mapping[str, Any], ...] = ()
    map_accounts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "mapRoles": [dict(m) for m in self.map_roles],
            "mapUsers": [dict(m) for m in self.map_users],
            "mapAccounts": list(self.map_accounts),
        }


@dataclass(frozen=True)
class IamView:
    """Existing IAM principals: (account, kind, name) -> (arn, unique id). Root always exists."""

    principals: Mapping[tuple[str, str, str], tuple[str, str]]

    def lookup(self, principal: Principal) -> tuple[str, str] | None:
        if principal.kind == "root":
            return principal.arn, principal.account
        return self.principals.get(principal.key)

    def status(self, principal: Principal, bound_id: str) -> str | None:
        """None while the principal named by the ARN is the one bound; else why it grants nothing."""
        found = self.lookup(principal)
        if found is None or (principal.kind != "root" and found[0] != principal.arn):
            return "principal-deleted"
        return None if found[1] == bound_id else "principal-recreated"


@dataclass(frozen=True)
class ClusterView:
    name: str
    mode: str
    created_in_mode: str
    creator: Creator | None
    entries: tuple[EntryView, ...]
    aws_auth: AwsAuth


def parse_aws_auth(body: Any) -> AwsAuth:
    """Validate a ConfigMap body {mapRoles, mapUsers, mapAccounts}; ValueError on anything else."""
    if not isinstance(body, dict):
        raise ValueError("the aws-auth body must be an object with mapRoles, mapUsers, mapAccounts")
    unknown = set(body) - {"mapRoles", "mapUsers", "mapAccounts"}
    if unknown:
        raise ValueError(f"unknown aws-auth keys: {sorted(unknown)}")

    def mappings(key: str, arn_key: str, kind: str) -> tuple[dict[str, Any], ...]:
        items = body.get(key) or []
        if not isinstance(items, list):
            raise ValueError(f"{key} must be a list")
        result = []
        for item in items:
            if not isinstance(item, dict) or set(item) - {arn_key, "username", "groups"}:
                raise ValueError(f"each {key} item must be {{{arn_key}, username, groups}}: {item!r}")
            parse_mapping_arn(item.get(arn_key), kind.rstrip("s"))
            username = item.get("username", "")
            groups = item.get("groups", [])
            if not isinstance(username, str):
                raise ValueError(f"{key} username must be a string: {item!r}")
            if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
                raise ValueError(f"{key} groups must be a list of strings: {item!r}")
            result.append({arn_key: item[arn_key], "username": username, "groups": list(groups)})
        return tuple(result)

    accounts = body.get("mapAccounts") or []
    if not isinstance(accounts, list) or not all(
        isinstance(a, str) and len(a) == 12 and a.isdigit() for a in accounts
    ):
        raise ValueError("mapAccounts must be a list of 12-digit account ids")
    return AwsAuth(
        map_roles=mappings("mapRoles", "rolearn", "roles"),
        map_users=mappings("mapUsers", "userarn", "users"),
        map_accounts=tuple(accounts),
    )


def _grant(
    arn: str, source: str, username: str, groups: list[str], policies: list[dict[str, Any]], admin: bool
) -> dict[str, Any]:
    return {
        "principalArn": arn,
        "source": source,
        "username": username,
        "kubernetesGroups": groups,
        "accessPolicies": policies,
        "clusterAdmin": admin,
    }


def compute_access(cluster: ClusterView, iam: IamView) -> dict[str, Any]:
    """Who can authenticate to the cluster: entries (API modes), the creator's invisible admin (a cluster
    still in CONFIG_MAP), aws-auth mappings (ConfigMap modes); first source wins.

    Once a CONFIG_MAP cluster gains access entries, EKS turns the creator's invisible admin into an access
    entry (see EmulatedEKSBackend._settle, which cites AWS's documentation): from then on the creator is an
    admin through that entry only, so deleting it takes the creator's access away."""
    granted: dict[tuple[str, str, str], dict[str, Any]] = {}
    inactive: list[dict[str, str]] = []

    for entry in cluster.entries:
        reason = iam.status(entry.principal, entry.principal_id)
        if reason is not None:
            inactive.append({"principalArn": entry.principal.arn, "reason": reason})
            continue
        if cluster.mode not in API_MODES:
            continue
        policies = [
            {"policyArn": arn, "accessScope": {"type": s["type"], "namespaces": list(s["namespaces"])}}
            for arn, s in sorted(entry.policies.items())
        ]
        admin = any(is_cluster_admin_policy(arn, scope) for arn, scope in entry.policies.items())
        granted[entry.principal.key] = _grant(
            entry.principal.arn,
            "access-entry",
            entry.username,
            list(entry.kubernetes_groups),
            policies,
            admin,
        )

    creator = cluster.creator
    if (
        creator is not None
        and cluster.created_in_mode == CONFIG_MAP
        and cluster.mode == CONFIG_MAP
        and creator.principal.key not in granted
        and iam.status(creator.principal, creator.principal_id) is None
    ):
        granted[creator.principal.key] = _grant(
            creator.principal.arn, "cluster-creator", creator.principal.arn, [MASTERS], [], True
        )

    if cluster.mode in CONFIG_MAP_MODES:
        auth = cluster.aws_auth
        for mappings, arn_key, kind in (
            (auth.map_roles, "rolearn", "role"),
            (auth.map_users, "userarn", "user"),
        ):
            for mapping in mappings:
                mapped = parse_mapping_arn(mapping[arn_key], kind)
                found = iam.lookup(mapped)  # matched by account + name: mapRoles ARNs carry no path
                if found is None or mapped.key in granted:
                    continue
                groups = list(mapping.get("groups", []))
                username = mapping.get("username") or found[0]
                granted[mapped.key] = _grant(found[0], "aws-auth", username, groups, [], MASTERS in groups)
        for account in auth.map_accounts:
            for key, (arn, _id) in sorted(iam.principals.items()):
                if key[0] == account and key not in granted:
                    granted[key] = _grant(arn, "aws-auth", arn, [], [], False)

    return {
        "cluster": cluster.name,
        "authenticationMode": cluster.mode,
        "principals": sorted(granted.values(), key=lambda p: p["principalArn"]),
        "inactiveEntries": sorted(inactive, key=lambda p: p["principalArn"]),
    }
