"""The baseline document: an eksctl ClusterConfig plus Guard's own `accessGuard` section.

Pure code: text in, `Baseline` out (and back). `validate` never stops at the first problem: it lists every
one, each with the path where it is (`accessConfig.accessEntries[2].accessPolicies[0].policyARN`) and what
is wrong, so an operator fixes a document in one pass.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import identity_center, principals
from .config import MAX_GRANT_MINUTES_CEILING
from .model import (
    ENTRY_TYPES,
    MODE_ORDER,
    STANDARD,
    AccessScope,
    Baseline,
    EntrySpec,
    GuardSettings,
    KeepRule,
    LiveState,
    PermissionSetSpec,
    PolicyAssociation,
)
from .names import CLUSTER_NAME, REGION
from .policies import KNOWN_POLICY_NAMES, is_well_formed_policy_arn, policy_name

DOCUMENT = "<document>"

# eksctl's ClusterConfig top-level fields (pkg/apis/eksctl.io/v1alpha5 schema) that Guard accepts and ignores.
EKSCTL_IGNORED_TOP_LEVEL: frozenset[str] = frozenset(
    {
        "apiVersion",
        "kind",
        "addons",
        "addonsConfig",
        "autoModeConfig",
        "availabilityZones",
        "capabilities",
        "cloudWatch",
        "fargateProfiles",
        "git",
        "gitops",
        "iam",
        "iamIdentityMappings",
        "identityProviders",
        "karpenter",
        "kubernetesNetworkConfig",
        "localZones",
        "managedNodeGroups",
        "nodeGroups",
        "outpost",
        "privateCluster",
        "remoteNetworkConfig",
        "secretsEncryption",
        "status",
        "vpc",
        "zonalShiftConfig",
    }
)
TOP_LEVEL_FIELDS = frozenset({"metadata", "accessConfig", "accessGuard"}) | EKSCTL_IGNORED_TOP_LEVEL
METADATA_FIELDS = frozenset({"name", "region", "version", "tags", "annotations", "accountID"})
ACCESS_CONFIG_FIELDS = frozenset(
    {"authenticationMode", "accessEntries", "bootstrapClusterCreatorAdminPermissions"}
)
ENTRY_FIELDS = frozenset({"principalARN", "type", "kubernetesUsername", "kubernetesGroups", "accessPolicies"})
POLICY_FIELDS = frozenset({"policyARN", "accessScope"})
SCOPE_FIELDS = frozenset({"type", "namespaces"})
GUARD_FIELDS = frozenset({"mode", "prune", "maxDeletions", "keep", "breakGlass", "identityCenter"})
# accessGuard.identityCenter[]: a permission set's entry, with eksctl's access-entry field names.
PERMISSION_SET_FIELDS = frozenset(
    {"permissionSet", "type", "kubernetesUsername", "kubernetesGroups", "accessPolicies"}
)
BREAK_GLASS_FIELDS = frozenset({"maxMinutes"})
KEEP_FIELDS = frozenset({"principalARN", "type"})
GUARD_MODES = ("enforce", "detect")
SCOPE_TYPES = ("cluster", "namespace")

RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
SESSION_PLACEHOLDERS = ("{{SessionName}}", "{{SessionNameRaw}}")

# A Kubernetes namespace (DNS-1123 label) or a prefix with a trailing `*` wildcard, as EKS accepts.
_NAMESPACE = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_NAMESPACE_WILDCARD = re.compile(r"^[a-z0-9][-a-z0-9]{0,61}\*$")


# --- problems -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a baseline document: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class BaselineError(ValueError):
    """A baseline that cannot be used; `.problems` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        head = f"invalid baseline ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


# --- text in --------------------------------------------------------------------------------------------


@functools.cache
def _yaml() -> tuple[Any, type[Any]]:
    """PyYAML and a safe loader that refuses duplicate keys (PyYAML silently keeps the last one).

    Imported on first use: JSON documents (what the store holds, what the event path reads) never need it,
    and importing it costs a Lambda's cold start.
    """
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the generic constructor reports it
                continue
            if duplicate:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
            seen[key] = True
        return loader.construct_mapping(node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return yaml, StrictLoader


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_text(text: str) -> object:
    """YAML or JSON text to a plain document. Syntax errors and duplicate keys raise BaselineError."""
    stripped = text.lstrip()
    json_error: str | None = None
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_pairs)
        except json.JSONDecodeError as exc:
            json_error = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        except ValueError as exc:
            raise BaselineError([Problem(DOCUMENT, f"not valid JSON: {exc}")]) from None
    yaml, loader = _yaml()
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        if json_error is not None:
            raise BaselineError([Problem(DOCUMENT, json_error)]) from None
        raise BaselineError([Problem(DOCUMENT, f"not valid YAML: {_yaml_reason(exc)}")]) from None


def _yaml_reason(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or str(exc)
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


# --- validation -----------------------------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _one_of(choices: Iterable[str]) -> str:
    return ", ".join(choices)


class _Checker:
    """Walks a document once, collecting every problem."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def fields(self, path: str, value: Mapping[Any, Any], allowed: frozenset[str], what: str) -> None:
        for key in value:
            if not isinstance(key, str):
                self.add(_join(path, str(key)), f"field names must be strings, got {_kind(key)} {key!r}")
            elif key not in allowed:
                self.add(_join(path, key), f"unknown field in {what}{_suggest(key, allowed)}")

    def mapping(self, path: str, value: object, *, required: bool = False) -> Mapping[Any, Any] | None:
        if value is None:
            if required:
                self.add(path, "is required (a mapping)")
            return None
        if not isinstance(value, Mapping):
            self.add(path, f"must be a mapping, got {_kind(value)}")
            return None
        return value

    def string(self, path: str, value: object, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.add(path, "is required")
            return None
        if not isinstance(value, str):
            self.add(path, f"must be a string, got {_kind(value)}")
            return None
        if not value:
            self.add(path, "must not be empty")
            return None
        return value

    def choice(self, path: str, value: object, choices: tuple[str, ...], what: str) -> str | None:
        """A string that must be one of `choices`; a near miss gets a "did you mean" hint."""
        checked = self.string(path, value)
        if checked is not None and checked not in choices:
            self.add(
                path, f"{checked!r} is not {what} (one of {_one_of(choices)}){_suggest(checked, choices)}"
            )
            return None
        return checked

    def list_(self, path: str, value: object) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list, got {_kind(value)}")
            return []
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def validate(doc: object) -> list[Problem]:
    """Every problem with a baseline document (empty when it is valid)."""
    check = _Checker()
    if doc is None:
        check.add(
            DOCUMENT, "the document is empty; a baseline needs at least metadata.name and metadata.region"
        )
        return check.problems
    if not isinstance(doc, Mapping):
        check.add(DOCUMENT, f"a baseline must be a mapping (an eksctl ClusterConfig), got {_kind(doc)}")
        return check.problems
    check.fields("", doc, TOP_LEVEL_FIELDS, "the baseline (eksctl ClusterConfig fields and accessGuard)")
    _check_metadata(check, doc.get("metadata"))
    _check_access_config(check, doc.get("accessConfig"))
    _check_guard(check, doc.get("accessGuard"))
    _check_sets_named_twice(check, doc)
    return check.problems


def _check_sets_named_twice(check: _Checker, doc: Mapping[Any, Any]) -> None:
    """A permission set's role named in accessEntries too: two entries for one principal, once resolved."""
    guard, config = doc.get("accessGuard"), doc.get("accessConfig")
    sets = guard.get("identityCenter") if isinstance(guard, Mapping) else None
    entries = config.get("accessEntries") if isinstance(config, Mapping) else None
    if sets and isinstance(sets, list) and not entries and isinstance(config, Mapping):
        mode = config.get("authenticationMode")
    else:
        mode = None
    if mode == "CONFIG_MAP":
        check.add(
            "accessConfig.authenticationMode",
            "CONFIG_MAP cannot have accessGuard.identityCenter entries (EKS refuses every access-entry "
            "call in CONFIG_MAP); use API_AND_CONFIG_MAP or API",
        )
    if not isinstance(sets, list) or not isinstance(entries, list):
        return
    names = {s.get("permissionSet") for s in sets if isinstance(s, Mapping)}
    for i, entry in enumerate(entries):
        arn = entry.get("principalARN") if isinstance(entry, Mapping) else None
        name = identity_center.permission_set_of(arn) if isinstance(arn, str) else None
        if name is not None and name in names:
            check.add(
                f"accessConfig.accessEntries[{i}].principalARN",
                f"this is a role of permission set {name}, which accessGuard.identityCenter names too; "
                "name it once (the permission set follows re-provisioning, the ARN does not)",
            )


def _check_metadata(check: _Checker, value: object) -> None:
    meta = check.mapping("metadata", value, required=True)
    if meta is None:
        return
    check.fields("metadata", meta, METADATA_FIELDS, "metadata")
    name = check.string("metadata.name", meta.get("name"), required=True)
    if name is not None and not CLUSTER_NAME.match(name):
        check.add(
            "metadata.name",
            f"{name!r} is not a valid EKS cluster name (1-100 letters, digits, hyphens and underscores, "
            "starting with a letter or digit)",
        )
    region = check.string("metadata.region", meta.get("region"), required=True)
    if region is not None and not REGION.match(region):
        check.add("metadata.region", f"{region!r} is not a well-formed AWS region (like us-east-1)")


def _check_access_config(check: _Checker, value: object) -> None:
    config = check.mapping("accessConfig", value)
    if config is None:
        return
    check.fields("accessConfig", config, ACCESS_CONFIG_FIELDS, "accessConfig")
    mode = check.choice(
        "accessConfig.authenticationMode",
        config.get("authenticationMode"),
        MODE_ORDER,
        "an authentication mode",
    )
    entries = check.list_("accessConfig.accessEntries", config.get("accessEntries"))
    if mode == "CONFIG_MAP" and entries:
        check.add(
            "accessConfig.authenticationMode",
            "CONFIG_MAP cannot have accessEntries (EKS refuses every access-entry call in CONFIG_MAP); "
            "use API_AND_CONFIG_MAP or API",
        )
    first_seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        path = f"accessConfig.accessEntries[{i}]"
        arn = _check_entry(check, path, entry)
        if arn is None:
            continue
        if arn in first_seen:
            check.add(
                f"{path}.principalARN",
                f"duplicate principal {arn} (already at accessConfig.accessEntries[{first_seen[arn]}]); "
                "EKS allows one entry per principal",
            )
        else:
            first_seen[arn] = i


def _check_entry(check: _Checker, path: str, value: object) -> str | None:
    entry = check.mapping(path, value, required=True)
    if entry is None:
        return None
    check.fields(path, entry, ENTRY_FIELDS, "an access entry")
    arn = check.string(f"{path}.principalARN", entry.get("principalARN"), required=True)
    principal = None
    if arn is not None:
        problem = principals.problem(arn)
        if problem is not None:
            check.add(f"{path}.principalARN", problem)
        else:
            principal = principals.parse(arn)
    entry_type = (
        check.choice(f"{path}.type", entry.get("type"), ENTRY_TYPES, "an access entry type") or STANDARD
    )
    if entry_type != STANDARD and principal is not None and principal.kind != "role":
        check.add(
            f"{path}.principalARN", f"{entry_type} entries need an IAM role ARN, not a {principal.kind}"
        )
    _check_entry_body(check, path, entry, entry_type)
    return arn


def _check_entry_body(check: _Checker, path: str, entry: Mapping[Any, Any], entry_type: str) -> None:
    """An entry's type-dependent fields: username, groups and policies (STANDARD only)."""
    if entry_type != STANDARD:
        for field in ("kubernetesUsername", "kubernetesGroups", "accessPolicies"):
            if entry.get(field) not in (None, "", []):
                check.add(
                    f"{path}.{field}",
                    f"only STANDARD entries take {field}; EKS sets it for {entry_type} entries",
                )
        return
    _check_username(check, f"{path}.kubernetesUsername", entry.get("kubernetesUsername"))
    for j, group in enumerate(check.list_(f"{path}.kubernetesGroups", entry.get("kubernetesGroups"))):
        gpath = f"{path}.kubernetesGroups[{j}]"
        name = check.string(gpath, group, required=True)
        if name is not None and name.startswith("system:"):
            check.add(gpath, f"group {name!r} cannot start with system: (EKS refuses it)")
    seen_policies: dict[str, int] = {}
    for j, policy in enumerate(check.list_(f"{path}.accessPolicies", entry.get("accessPolicies"))):
        ppath = f"{path}.accessPolicies[{j}]"
        policy_arn = _check_policy(check, ppath, policy)
        if policy_arn is None:
            continue
        if policy_arn in seen_policies:
            check.add(
                f"{ppath}.policyARN",
                f"duplicate policy {policy_name(policy_arn)} on this entry (already at accessPolicies"
                f"[{seen_policies[policy_arn]}]); one association per policy, give it one scope",
            )
        else:
            seen_policies[policy_arn] = j


def _check_username(check: _Checker, path: str, value: object) -> None:
    username = check.string(path, value)
    if username is None:
        return
    for prefix in RESERVED_USERNAME_PREFIXES:
        if username.startswith(prefix):
            check.add(path, f"username {username!r} must not begin with {prefix} (reserved by EKS)")
    for placeholder in SESSION_PLACEHOLDERS:
        at = username.find(placeholder)
        while at >= 0:
            if ":" not in username[:at]:
                check.add(path, f"a colon must come before {placeholder} in the username {username!r}")
                break
            at = username.find(placeholder, at + 1)


def _check_policy(check: _Checker, path: str, value: object) -> str | None:
    policy = check.mapping(path, value, required=True)
    if policy is None:
        return None
    check.fields(path, policy, POLICY_FIELDS, "an access policy")
    arn = check.string(f"{path}.policyARN", policy.get("policyARN"), required=True)
    if arn is not None:
        if not is_well_formed_policy_arn(arn):
            check.add(
                f"{path}.policyARN",
                f"{arn!r} is not a well-formed access policy ARN "
                "(arn:aws:eks::aws:cluster-access-policy/<Name>)",
            )
            arn = None
        elif policy_name(arn) not in KNOWN_POLICY_NAMES:
            name = policy_name(arn)
            check.add(
                f"{path}.policyARN", f"unknown access policy {name!r}{_suggest(name, KNOWN_POLICY_NAMES)}"
            )
            arn = None
    scope_path = f"{path}.accessScope"
    scope = check.mapping(scope_path, policy.get("accessScope"), required=True)
    if scope is None:
        return arn
    check.fields(scope_path, scope, SCOPE_FIELDS, "an access scope")
    scope_type = check.string(f"{scope_path}.type", scope.get("type"), required=True)
    if scope_type is not None and scope_type not in SCOPE_TYPES:
        check.add(f"{scope_path}.type", f"{scope_type!r} is not a scope type (cluster or namespace)")
        scope_type = None
    raw_namespaces = scope.get("namespaces")
    namespaces = check.list_(f"{scope_path}.namespaces", raw_namespaces)
    if (
        scope_type == "namespace"
        and not namespaces
        and (raw_namespaces is None or isinstance(raw_namespaces, list))
    ):
        check.add(f"{scope_path}.namespaces", "a namespace scope needs at least one namespace")
    if scope_type == "cluster" and namespaces:
        check.add(f"{scope_path}.namespaces", "a cluster scope takes no namespaces (use type: namespace)")
    for k, ns in enumerate(namespaces):
        npath = f"{scope_path}.namespaces[{k}]"
        namespace = check.string(npath, ns, required=True)
        if namespace is not None and not is_namespace(namespace):
            check.add(npath, f"{namespace!r} is not a Kubernetes namespace name (or a prefix ending in *)")
    return arn


def _check_guard(check: _Checker, value: object) -> None:
    guard = check.mapping("accessGuard", value)
    if guard is None:
        return
    check.fields("accessGuard", guard, GUARD_FIELDS, "accessGuard")
    check.choice("accessGuard.mode", guard.get("mode"), GUARD_MODES, "a mode")
    prune = guard.get("prune")
    if prune is not None and not isinstance(prune, bool):
        check.add("accessGuard.prune", f"must be true or false, got {_kind(prune)}")
    limit = guard.get("maxDeletions")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            check.add("accessGuard.maxDeletions", f"must be an integer, got {_kind(limit)}")
        elif limit < 0:
            check.add("accessGuard.maxDeletions", f"must be 0 or more, got {limit}")
    for i, rule in enumerate(check.list_("accessGuard.keep", guard.get("keep"))):
        path = f"accessGuard.keep[{i}]"
        keep = check.mapping(path, rule, required=True)
        if keep is None:
            continue
        check.fields(path, keep, KEEP_FIELDS, "a keep rule")
        glob = check.string(f"{path}.principalARN", keep.get("principalARN"))
        check.choice(f"{path}.type", keep.get("type"), ENTRY_TYPES, "an access entry type")
        if keep.get("principalARN") is None and keep.get("type") is None:
            check.add(path, "a keep rule needs principalARN (a glob), type, or both")
        elif glob is not None and not glob.startswith(("arn:", "*")):
            check.add(
                f"{path}.principalARN", f"{glob!r} can never match a principal ARN (they start with arn:)"
            )
    _check_break_glass(check, guard.get("breakGlass"))
    _check_identity_center(check, guard.get("identityCenter"))


def _check_identity_center(check: _Checker, value: object) -> None:
    first_seen: dict[str, int] = {}
    for i, item in enumerate(check.list_("accessGuard.identityCenter", value)):
        path = f"accessGuard.identityCenter[{i}]"
        entry = check.mapping(path, item, required=True)
        if entry is None:
            continue
        check.fields(path, entry, PERMISSION_SET_FIELDS, "a permission set's entry")
        name = check.string(f"{path}.permissionSet", entry.get("permissionSet"), required=True)
        if name is not None:
            problem = identity_center.name_problem(name)
            if problem is not None:
                check.add(f"{path}.permissionSet", problem)
            elif name in first_seen:
                check.add(
                    f"{path}.permissionSet",
                    f"permission set {name} is named twice (already at accessGuard.identityCenter"
                    f"[{first_seen[name]}]); one entry per permission set",
                )
            else:
                first_seen[name] = i
        entry_type = (
            check.choice(f"{path}.type", entry.get("type"), ENTRY_TYPES, "an access entry type") or STANDARD
        )
        _check_entry_body(check, path, entry, entry_type)


def _check_break_glass(check: _Checker, value: object) -> None:
    section = check.mapping("accessGuard.breakGlass", value)
    if section is None:
        return
    check.fields("accessGuard.breakGlass", section, BREAK_GLASS_FIELDS, "accessGuard.breakGlass")
    minutes = section.get("maxMinutes")
    if minutes is None:
        return
    path = "accessGuard.breakGlass.maxMinutes"
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        check.add(path, f"must be a whole number of minutes, got {_kind(minutes)}")
    elif not 1 <= minutes <= MAX_GRANT_MINUTES_CEILING:
        check.add(path, f"must be between 1 and {MAX_GRANT_MINUTES_CEILING} minutes, got {minutes}")


def is_namespace(name: object) -> bool:
    """A Kubernetes namespace name, or a prefix with a trailing `*` wildcard, as EKS accepts in a scope."""
    return isinstance(name, str) and bool(_NAMESPACE.match(name) or _NAMESPACE_WILDCARD.match(name))


# --- document <-> Baseline ------------------------------------------------------------------------------


def from_document(doc: object) -> Baseline:
    """A validated Baseline from a parsed document; raises BaselineError listing every problem."""
    problems = validate(doc)
    if problems:
        raise BaselineError(problems)
    assert isinstance(doc, Mapping)
    meta = doc["metadata"]
    config = doc.get("accessConfig") or {}
    entries = tuple(_entry_spec(e) for e in config.get("accessEntries") or ())
    mode = config.get("authenticationMode")
    if mode is None and (entries or (doc.get("accessGuard") or {}).get("identityCenter")):
        mode = "API_AND_CONFIG_MAP"  # eksctl's default when it creates access entries
    return Baseline(
        cluster=meta["name"],
        region=meta["region"],
        authentication_mode=mode,
        entries=entries,
        settings=_settings(doc.get("accessGuard") or {}),
        permission_sets=tuple(
            _permission_set_spec(s) for s in (doc.get("accessGuard") or {}).get("identityCenter") or ()
        ),
    )


def _permission_set_spec(item: Mapping[str, Any]) -> PermissionSetSpec:
    spec = _entry_spec({**item, "principalARN": ""})
    return PermissionSetSpec(
        name=item["permissionSet"],
        type=spec.type,
        username=spec.username,
        kubernetes_groups=spec.kubernetes_groups,
        policies=spec.policies,
    )


def _entry_spec(entry: Mapping[str, Any]) -> EntrySpec:
    entry_type = entry.get("type") or STANDARD
    if entry_type != STANDARD:
        return EntrySpec(principal_arn=entry["principalARN"], type=entry_type)
    policies = []
    for policy in entry.get("accessPolicies") or ():
        scope = policy["accessScope"]
        policies.append(
            PolicyAssociation(policy["policyARN"], AccessScope.of(scope["type"], scope.get("namespaces")))
        )
    return EntrySpec(
        principal_arn=entry["principalARN"],
        type=STANDARD,
        username=entry.get("kubernetesUsername") or None,
        kubernetes_groups=tuple(sorted(set(entry.get("kubernetesGroups") or ()))),
        policies=tuple(sorted(policies)),
    )


def _settings(guard: Mapping[str, Any]) -> GuardSettings:
    defaults = GuardSettings()
    keep = tuple(
        KeepRule(principal_arn=r.get("principalARN"), type=r.get("type")) for r in guard.get("keep") or ()
    )
    prune = guard.get("prune")
    limit = guard.get("maxDeletions")
    break_glass = guard.get("breakGlass") or {}
    return GuardSettings(
        mode=guard.get("mode") or defaults.mode,
        prune=defaults.prune if prune is None else prune,
        keep=keep,
        max_deletions=defaults.max_deletions if limit is None else limit,
        break_glass_max_minutes=break_glass.get("maxMinutes"),
    )


def load(text: str) -> Baseline:
    """Parse and validate baseline text (YAML or JSON)."""
    return from_document(parse_text(text))


def to_document(baseline: Baseline) -> dict[str, Any]:
    """The baseline as an eksctl-compatible ClusterConfig document with the accessGuard section."""
    access_config: dict[str, Any] = {}
    if baseline.authentication_mode is not None:
        access_config["authenticationMode"] = baseline.authentication_mode
    written = [e for e in baseline.entries if e.permission_set is None]  # resolved ones are the sets'
    if written:
        access_config["accessEntries"] = [_entry_document(e) for e in written]
    doc: dict[str, Any] = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": baseline.cluster, "region": baseline.region},
    }
    if access_config:
        doc["accessConfig"] = access_config
    doc["accessGuard"] = _settings_document(baseline.settings)
    if baseline.permission_sets:
        doc["accessGuard"]["identityCenter"] = [_permission_set_document(s) for s in baseline.permission_sets]
    return doc


def _permission_set_document(spec: PermissionSetSpec) -> dict[str, Any]:
    entry = _entry_document(spec.entry(""))
    del entry["principalARN"]
    return {"permissionSet": spec.name, **entry}


def _entry_document(spec: EntrySpec) -> dict[str, Any]:
    out: dict[str, Any] = {"principalARN": spec.principal_arn}
    if spec.type != STANDARD:
        out["type"] = spec.type
        return out
    if spec.username is not None:
        out["kubernetesUsername"] = spec.username
    if spec.kubernetes_groups:
        out["kubernetesGroups"] = sorted(set(spec.kubernetes_groups))
    if spec.policies:
        out["accessPolicies"] = [
            {"policyARN": p.policy_arn, "accessScope": p.scope.to_api()} for p in sorted(set(spec.policies))
        ]
    return out


def _settings_document(settings: GuardSettings) -> dict[str, Any]:
    keep = []
    for rule in settings.keep:
        item: dict[str, str] = {}
        if rule.principal_arn is not None:
            item["principalARN"] = rule.principal_arn
        if rule.type is not None:
            item["type"] = rule.type
        keep.append(item)
    document: dict[str, Any] = {
        "mode": settings.mode,
        "prune": settings.prune,
        "maxDeletions": settings.max_deletions,
        "keep": keep,
    }
    if settings.break_glass_max_minutes is not None:
        document["breakGlass"] = {"maxMinutes": settings.break_glass_max_minutes}
    return document


def dump(baseline: Baseline, fmt: str = "yaml") -> str:
    """The baseline as text: "yaml" (default) or "json"."""
    doc = to_document(baseline)
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "yaml":
        yaml, _ = _yaml()
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)
    raise ValueError(f"unknown baseline format {fmt!r} (yaml or json)")


def capture_document(
    live: LiveState, settings: GuardSettings | None = None, *, keep_arns: bool = False
) -> dict[str, Any]:
    """The live access configuration written out as a baseline document.

    Left out: entries bound to a deleted or recreated IAM principal (they grant nothing, and writing them
    down would either warn forever or hand a new identity the old one's access) and entries matching the
    settings' keep rules (Guard leaves those alone; in a baseline they would be recreated if EKS removed
    them, e.g. with their node group). Usernames equal to what EKS generates are omitted, so the baseline
    keeps meaning "the generated one".

    An IAM Identity Center role's entry (of the cluster's account) is written as its permission set
    (accessGuard.identityCenter), which follows the role when the set is re-provisioned; `keep_arns` writes
    the ARN instead. Two live entries of one permission set stay ARNs (which of them is meant is the
    reviewer's call).
    """
    settings = settings or GuardSettings()
    specs = []
    for arn in sorted(live.entries):
        entry = live.entries[arn]
        if entry.principal_status in ("missing", "recreated") or arn in live.missing_principals:
            continue
        if settings.keeps(arn, entry.type):
            continue
        if entry.type != STANDARD:
            specs.append(EntrySpec(principal_arn=arn, type=entry.type))
            continue
        username = None if entry.username == principals.default_username(arn) else entry.username
        specs.append(
            EntrySpec(
                principal_arn=arn,
                username=username,
                kubernetes_groups=tuple(sorted(set(entry.kubernetes_groups))),
                policies=tuple(
                    sorted(PolicyAssociation(p.policy_arn, p.scope.normal()) for p in entry.policies)
                ),
            )
        )
    sets: tuple[PermissionSetSpec, ...] = ()
    if not keep_arns:
        specs, sets = _as_permission_sets(specs, live.account_id)
    baseline = Baseline(
        cluster=live.cluster,
        region=live.region,
        authentication_mode=live.authentication_mode,
        entries=tuple(specs),
        settings=settings,
        permission_sets=sets,
    )
    return to_document(baseline)


def _as_permission_sets(
    specs: list[EntrySpec], account: str
) -> tuple[list[EntrySpec], tuple[PermissionSetSpec, ...]]:
    by_set: dict[str, list[EntrySpec]] = {}
    for spec in specs:
        name = identity_center.permission_set_of(spec.principal_arn, account)
        if name is not None:
            by_set.setdefault(name, []).append(spec)
    single = {name: found[0] for name, found in by_set.items() if len(found) == 1}
    moved = {s.principal_arn for s in single.values()}
    sets = tuple(
        PermissionSetSpec(
            name=name,
            type=spec.type,
            username=spec.username,
            kubernetes_groups=spec.kubernetes_groups,
            policies=spec.policies,
        )
        for name, spec in sorted(single.items())
    )
    return [s for s in specs if s.principal_arn not in moved], sets
