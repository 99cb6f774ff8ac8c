"""The rules real EKS enforces on access entries, as pure functions over plain data.

Every check raises `RuleViolation(code, message)`; the HTTP shell turns it into the matching EKS error.
No moto, no clock, no I/O here (see /work/shared/reference/eks-access-entries.md, sections 1 and 2).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

INVALID_PARAMETER = "InvalidParameterException"
INVALID_REQUEST = "InvalidRequestException"
NOT_FOUND = "ResourceNotFoundException"
IN_USE = "ResourceInUseException"

CONFIG_MAP, API_AND_CONFIG_MAP, API = "CONFIG_MAP", "API_AND_CONFIG_MAP", "API"
MODES = (CONFIG_MAP, API_AND_CONFIG_MAP, API)
API_MODES = (API_AND_CONFIG_MAP, API)
CONFIG_MAP_MODES = (CONFIG_MAP, API_AND_CONFIG_MAP)

# The access policies EKS offers, from the fact sheet (section 2). Kept here, not imported from the product:
# the emulator judges the product, so it must not share its tables. AWS adds policies over time; the
# `extraAccessPolicies` setting adds more at run time.
POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
ADMIN_POLICY_ARN = POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"
ACCESS_POLICY_NAMES: tuple[str, ...] = (
    "AmazonAIOpsAssistantPolicy",
    "AmazonARCRegionSwitchScalingPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStorageClusterPolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSClusterInsightsPolicy",
    "AmazonEKSComputeClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSLoadBalancingClusterPolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingClusterPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSSecretReaderPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEMRJobPolicy",
    "AmazonSagemakerHyperpodClusterPolicy",
    "AmazonSagemakerHyperpodControllerPolicy",
    "AmazonSagemakerHyperpodSystemNamespacePolicy",
)

STANDARD = "STANDARD"
# The one table of node-entry types: type -> (username, kubernetesGroups) that EKS gives such an entry (node
# entries take neither from the caller). ENTRY_TYPES, the type checks and the error texts derive from it.
NODE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "EC2_LINUX": ("system:node:{{EC2PrivateDNSName}}", ("system:nodes",)),
    "EC2_WINDOWS": ("system:node:{{EC2PrivateDNSName}}", ("system:nodes", "system:nodes-windows")),
    "FARGATE_LINUX": ("system:node:{{SessionName}}", ("system:node-proxier", "system:nodes")),
    "HYBRID_LINUX": ("system:node:{{SessionName}}", ("system:nodes",)),
    "EC2": ("system:node:{{EC2PrivateDNSName}}", ()),
    "HYPERPOD_LINUX": ("system:node:{{EC2PrivateDNSName}}", ("system:nodes",)),
}
ENTRY_TYPES = (STANDARD, *NODE_TYPES)

MSG_MODE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
    "to perform this operation."
)
MSG_ENTRY_IN_USE = "The specified access entry resource is already in use on this cluster."
MSG_ENTRY_NOT_FOUND = (
    "The specified principalArn could not be found. You can view your available access entries with "
    "'list-access-entries'."
)
MSG_POLICY_NOT_ASSOCIATED = "The specified policyArn is not associated with the specified principalArn."
MSG_STANDARD_ONLY = 'This operation can only be performed on Access Entries with a type of "STANDARD".'
MSG_INVALID_PRINCIPAL = "The specified principalArn is invalid: invalid principal."
MSG_PRINCIPAL_FORMAT = "The principalArn parameter format is not valid"
MSG_SERVICE_LINKED = (
    "The specified principalArn is invalid: service-linked roles cannot be used in access entries."
)
MSG_BOOTSTRAP_CONFIG_MAP = (
    "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP"
)
MSG_UPDATE_IN_PROGRESS = (
    "An update is already in progress on this cluster; only one update can run at a time."
)
MSG_ONE_UPDATE_TYPE = "Only one type of update can be allowed."
MSG_NO_LOGGING_CHANGE = "No changes needed for the logging config provided"

RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
SESSION_PLACEHOLDERS = ("{{SessionName}}", "{{SessionNameRaw}}")
MAX_TAGS = 50
MAX_RESULTS = 100

_IAM_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):"
    r"(?P<kind>role|user)(?P<path>/(?:[\x21-\x7e]+/)?)(?P<name>[\w+=,.@-]{1,128})$"
)
_ROOT_ARN = re.compile(r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):root$")
_NAMESPACE = re.compile(r"^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?|[a-z0-9][-a-z0-9]*\*)$")
_POLICY_NAME = re.compile(r"^[A-Za-z0-9]{1,128}$")


class RuleViolation(Exception):
    """A request EKS refuses: `code` is the EKS error code, `message` its text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> RuleViolation:
    return RuleViolation(INVALID_PARAMETER, message)


@dataclass(frozen=True)
class Principal:
    """An IAM principal named by an ARN: kind is "user", "role" or "root"; path is "/" or "/a/b/"."""

    arn: str
    partition: str
    account: str
    kind: str
    path: str
    name: str

    @property
    def key(self) -> tuple[str, str, str]:
        """Who the principal is regardless of path: what aws-auth and IAM name uniqueness go by."""
        return (self.account, self.kind, self.name)


def parse_principal_arn(arn: Any) -> Principal:
    """Parse an access-entry principal ARN, or raise the error EKS gives for it."""
    if not isinstance(arn, str) or not arn:
        raise invalid(MSG_PRINCIPAL_FORMAT)
    root = _ROOT_ARN.match(arn)
    if root:
        return Principal(arn, root["partition"], root["account"], "root", "/", "root")
    match = _IAM_ARN.match(arn)
    if not match:
        raise invalid(MSG_PRINCIPAL_FORMAT)  # STS session ARNs, groups, policies, junk
    if match["kind"] == "role" and match["path"].startswith("/aws-service-role/"):
        raise invalid(MSG_SERVICE_LINKED)
    return Principal(arn, match["partition"], match["account"], match["kind"], match["path"], match["name"])


def parse_mapping_arn(arn: Any, kind: str) -> Principal:
    """A mapRoles `rolearn` / mapUsers `userarn`: an IAM ARN of the given kind (ValueError otherwise)."""
    match = _IAM_ARN.match(arn) if isinstance(arn, str) else None
    if not match or match["kind"] != kind:
        raise ValueError(f"not an IAM {kind} ARN: {arn!r}")
    return Principal(arn, match["partition"], match["account"], kind, match["path"], match["name"])


def check_entry_type(entry_type: Any) -> str:
    if entry_type is None:
        return STANDARD
    if entry_type not in ENTRY_TYPES:
        raise invalid(f"The type {entry_type} is not valid. Valid types are: {', '.join(ENTRY_TYPES)}.")
    return str(entry_type)


def check_node_principal(entry_type: str, principal: Principal, cluster_account: str) -> None:
    """Node entries take only roles of the cluster's own account."""
    if entry_type != STANDARD and (principal.kind != "role" or principal.account != cluster_account):
        raise invalid(
            f"The principalArn for an access entry of type {entry_type} must be an IAM role in the cluster's "
            f"account ({cluster_account})."
        )


def check_username(username: str) -> None:
    if not username:
        raise invalid("The username must not be empty.")
    for prefix in RESERVED_USERNAME_PREFIXES:
        if username.startswith(prefix):
            raise invalid(f"The username must not begin with {prefix}")
    for placeholder in SESSION_PLACEHOLDERS:
        at = username.find(placeholder)
        if at != -1 and ":" not in username[:at]:
            raise invalid(f"The username must have a colon before {placeholder}")


def check_groups(groups: Sequence[str]) -> list[str]:
    for group in groups:
        if not group:
            raise invalid("The kubernetes group name must not be empty.")
        if group.startswith("system:"):
            raise invalid(f"The kubernetes group name {group} is invalid, it cannot start with system:")
    return list(dict.fromkeys(groups))


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise invalid(f"A resource can have at most {MAX_TAGS} tags; {len(tags)} were given.")
    for key in tags:
        if not key or key.lower().startswith("aws:"):
            raise invalid(f"The tag key {key!r} is invalid.")
    return dict(tags)


def default_username(principal: Principal) -> str:
    """The username EKS generates: a user's (or root's) ARN; for a role, its session ARN without the path."""
    if principal.kind == "role":
        session = f"arn:{principal.partition}:sts::{principal.account}:assumed-role/{principal.name}"
        return session + "/{{SessionName}}"
    return principal.arn


def entry_identity(
    entry_type: str, principal: Principal, username: str | None, groups: Sequence[str] | None
) -> tuple[str, list[str]]:
    """(username, kubernetesGroups) of a new entry, after EKS's checks; node types get theirs from EKS."""
    if entry_type != STANDARD:
        if username is not None or groups:
            raise invalid(MSG_STANDARD_ONLY)
        node_username, node_groups = NODE_TYPES[entry_type]
        return node_username, list(node_groups)
    if username is not None:
        check_username(username)
    return (username if username is not None else default_username(principal)), check_groups(groups or [])


def entry_arn(
    partition: str, region: str, cluster_account: str, cluster: str, principal: Principal, entry_id: str
) -> str:
    """`arn:<partition>:eks:<region>:<cluster account>:access-entry/<cluster>/<type>/<principal account>/
    <name>/<uuid>` (fact sheet, section 1): the cluster's account first, the principal's after its type;
    a role's path is left out.

    The account root (`arn:aws:iam::<account>:root`, whose entry EKS makes when root creates a cluster in an
    API mode) has no documented form. The emulator gives it the same five segments with type and name both
    `root` (`.../access-entry/<cluster>/root/<account>/root/<uuid>`), so a parser that splits the ARN on `/`
    finds every part where it finds a role's or a user's.
    """
    return (
        f"arn:{partition}:eks:{region}:{cluster_account}:access-entry/{cluster}/"
        f"{principal.kind}/{principal.account}/{principal.name}/{entry_id}"
    )


def check_mode_transition(current: str, wanted: Any) -> str:
    """CONFIG_MAP -> API_AND_CONFIG_MAP -> API, one step at a time, never back."""
    if wanted not in MODES:
        raise invalid(f"The authenticationMode {wanted} is not valid. Valid modes are: {', '.join(MODES)}.")
    if MODES.index(wanted) != MODES.index(current) + 1:
        raise invalid(f"Unsupported authentication mode update from {current} to {wanted}")
    return str(wanted)


# --- other cluster updates (UpdateClusterVersion, UpdateClusterConfig logging / resourcesVpcConfig) -------

# botocore's UpdateType and UpdateParamType values.
ACCESS_CONFIG_UPDATE = "AccessConfigUpdate"
VERSION_UPDATE = "VersionUpdate"
LOGGING_UPDATE = "LoggingUpdate"
ENDPOINT_ACCESS_UPDATE = "EndpointAccessUpdate"
VPC_CONFIG_UPDATE = "VpcConfigUpdate"

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ENDPOINT_FIELDS = ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs")
NETWORK_FIELDS = ("subnetIds", "securityGroupIds")
_MINOR_VERSION = re.compile(r"^1\.(\d{1,3})$")
NEW_PLATFORM_VERSION = "eks.1"  # a cluster starts every Kubernetes version on its first platform version
# The version a cluster created without one gets: CreateCluster uses "the default version available in
# Amazon EKS", which is not always the latest (EKS API reference, CreateCluster `version`; today's default is
# what `aws eks describe-cluster-versions --default-only` answers). 1.34 at the last check: re-check it when
# EKS moves its default. (moto's own default, 1.19, is a version EKS no longer creates.)
DEFAULT_VERSION = "1.34"

Params = list[dict[str, str]]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def check_version_update(current: str, wanted: Any) -> tuple[str, Params]:
    """UpdateClusterVersion goes one minor version up at a time: (version, the Update's params)."""
    if not isinstance(wanted, str) or not _MINOR_VERSION.match(wanted):
        raise invalid(f"The version {wanted} is not a valid Kubernetes version.")
    now, then = _MINOR_VERSION.match(current), _MINOR_VERSION.match(wanted)
    if now is None or then is None or int(then[1]) != int(now[1]) + 1:
        raise invalid(f"Unsupported Kubernetes minor version update from {current} to {wanted}")
    return wanted, [
        {"type": "Version", "value": wanted},
        {"type": "PlatformVersion", "value": NEW_PLATFORM_VERSION},
    ]


def _log_states(logging: Any) -> dict[str, bool]:
    states = dict.fromkeys(LOG_TYPES, False)
    for setup in (logging or {}).get("clusterLogging") or []:
        for log_type in setup.get("types") or []:
            states[log_type] = bool(setup.get("enabled"))
    return states


def logging_update(current: Any, wanted: Any) -> tuple[dict[str, Any], Params]:
    """The cluster's logging once `wanted` is applied (enabled types, then disabled ones, as EKS lists them),
    and the Update's params; refuses a malformed request and one that changes nothing."""
    setups = wanted.get("clusterLogging") if isinstance(wanted, dict) else None
    if not isinstance(setups, list) or set(wanted) - {"clusterLogging"}:
        raise invalid("logging must be an object with a clusterLogging list.")
    before = _log_states(current)
    after = dict(before)
    for setup in setups:
        types = setup.get("types") if isinstance(setup, dict) else None
        enabled = setup.get("enabled") if isinstance(setup, dict) else None
        if not isinstance(types, list) or not isinstance(enabled, bool) or set(setup) - {"types", "enabled"}:
            raise invalid("Each clusterLogging item must have a list of types and an enabled boolean.")
        for log_type in types:
            if log_type not in LOG_TYPES:
                raise invalid(
                    f"The type {log_type} is not a valid log type. Valid types are: {', '.join(LOG_TYPES)}."
                )
            after[log_type] = enabled
    if after == before:
        raise invalid(MSG_NO_LOGGING_CHANGE)
    groups = [
        {"types": [t for t in LOG_TYPES if after[t] is state], "enabled": state} for state in (True, False)
    ]
    new = {"clusterLogging": [g for g in groups if g["types"]]}
    return new, [{"type": "ClusterLogging", "value": _compact(wanted)}]


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid(f"{name} must be a list of strings.")
    return list(value)


def vpc_config_update(current: Any, wanted: Any) -> tuple[str, dict[str, Any], Params]:
    """(update type, the cluster's resourcesVpcConfig once applied, the Update's params) for a
    resourcesVpcConfig update: endpoint access (EndpointAccessUpdate) or subnets and security groups
    (VpcConfigUpdate), one kind per request."""
    if not isinstance(wanted, dict) or not wanted or set(wanted) - {*ENDPOINT_FIELDS, *NETWORK_FIELDS}:
        raise invalid(
            "resourcesVpcConfig must set one or more of: "
            + ", ".join((*ENDPOINT_FIELDS, *NETWORK_FIELDS))
            + "."
        )
    endpoint = [f for f in ENDPOINT_FIELDS if f in wanted]
    network = [f for f in NETWORK_FIELDS if f in wanted]
    if endpoint and network:
        raise invalid(MSG_ONE_UPDATE_TYPE)
    config = dict(current or {})
    if network:
        params = []
        for field, param in (("subnetIds", "Subnets"), ("securityGroupIds", "SecurityGroups")):
            if field in wanted:
                config[field] = _strings(wanted[field], field)
                params.append({"type": param, "value": _compact(config[field])})
        return VPC_CONFIG_UPDATE, config, params
    public = config.get("endpointPublicAccess", True)
    private = config.get("endpointPrivateAccess", False)
    cidrs = config.get("publicAccessCidrs", ["0.0.0.0/0"])
    for field in ("endpointPublicAccess", "endpointPrivateAccess"):
        if field in wanted and not isinstance(wanted[field], bool):
            raise invalid(f"{field} must be a boolean.")
    new_public = wanted.get("endpointPublicAccess", public)
    new_private = wanted.get("endpointPrivateAccess", private)
    new_cidrs = (
        _strings(wanted["publicAccessCidrs"], "publicAccessCidrs") if "publicAccessCidrs" in wanted else cidrs
    )
    if not new_public and not new_private:
        raise invalid("Public and private endpoint access cannot both be disabled.")
    if (new_public, new_private, new_cidrs) == (public, private, cidrs):
        raise invalid(
            f"Cluster is already at the desired configuration with endpointPrivateAccess: "
            f"{str(private).lower()} , endpointPublicAccess: {str(public).lower()}, and Public Endpoint "
            f"Restrictions: [{', '.join(cidrs)}]"
        )
    config.update(
        endpointPublicAccess=new_public, endpointPrivateAccess=new_private, publicAccessCidrs=new_cidrs
    )
    params = [
        {"type": "EndpointPublicAccess", "value": str(new_public).lower()},
        {"type": "EndpointPrivateAccess", "value": str(new_private).lower()},
        {"type": "PublicAccessCidrs", "value": _compact(new_cidrs)},
    ]
    return ENDPOINT_ACCESS_UPDATE, config, params


def create_access_config(access_config: Any) -> tuple[str, bool]:
    """(authenticationMode, bootstrapClusterCreatorAdminPermissions) for CreateCluster."""
    if access_config is None:
        return CONFIG_MAP, True
    if not isinstance(access_config, dict):
        raise invalid("accessConfig must be an object.")
    mode = access_config.get("authenticationMode", CONFIG_MAP)
    bootstrap = access_config.get("bootstrapClusterCreatorAdminPermissions", True)
    if mode not in MODES:
        raise invalid(f"The authenticationMode {mode} is not valid. Valid modes are: {', '.join(MODES)}.")
    if not isinstance(bootstrap, bool):
        raise invalid("bootstrapClusterCreatorAdminPermissions must be a boolean.")
    if mode == CONFIG_MAP and not bootstrap:
        raise invalid(MSG_BOOTSTRAP_CONFIG_MAP)
    return mode, bootstrap


def policy_arns(extra_names: Iterable[str] = ()) -> dict[str, str]:
    """name -> ARN of every access policy the emulated EKS offers, sorted by name."""
    names = sorted({*ACCESS_POLICY_NAMES, *extra_names})
    return {name: POLICY_ARN_PREFIX + name for name in names}


def check_policy_name(name: Any) -> str:
    if not isinstance(name, str) or not _POLICY_NAME.match(name):
        raise ValueError(f"not an access policy name: {name!r}")
    return name


def check_policy_arn(policy_arn: Any, known: Iterable[str]) -> str:
    if not isinstance(policy_arn, str) or policy_arn not in set(known):
        raise invalid(f"The policyArn {policy_arn} is not a valid access policy ARN.")
    return policy_arn


def check_scope(scope: Any) -> dict[str, Any]:
    """The normalized access scope: cluster -> namespaces []; namespace -> its (deduplicated) namespaces."""
    if not isinstance(scope, dict):
        raise invalid("accessScope must be an object.")
    scope_type = scope.get("type")
    namespaces = scope.get("namespaces", [])
    if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
        raise invalid("accessScope.namespaces must be a list of strings.")
    if scope_type == "cluster":
        if namespaces:
            raise invalid("Namespaces cannot be specified with an access scope of type cluster.")
        return {"type": "cluster", "namespaces": []}
    if scope_type == "namespace":
        if not namespaces:
            raise invalid("At least one namespace must be specified with an access scope of type namespace.")
        for namespace in namespaces:
            if len(namespace) > 63 or not _NAMESPACE.match(namespace):
                raise invalid(f"The namespace {namespace} is not a valid Kubernetes namespace name.")
        return {"type": "namespace", "namespaces": list(dict.fromkeys(namespaces))}
    raise invalid(f"The access scope type {scope_type} is not valid. Valid types are: cluster, namespace.")


def is_cluster_admin_policy(policy_arn: str, scope: dict[str, Any]) -> bool:
    return policy_arn == ADMIN_POLICY_ARN and scope.get("type") == "cluster"


# --- pagination ---------------------------------------------------------------------------------


def check_max_results(value: Any) -> int:
    if value is None:
        return MAX_RESULTS
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid("maxResults must be an integer between 1 and 100.") from None
    if not 1 <= number <= MAX_RESULTS:
        raise invalid("maxResults must be an integer between 1 and 100.")
    return number


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise invalid("The nextToken is not valid.") from None
    if not isinstance(after, str):
        raise invalid("The nextToken is not valid.")
    return after


def paginate_in_order(
    keys: Sequence[str], max_results: Any, next_token: str | None
) -> tuple[list[str], str | None]:
    """One page of `keys` in their own order (ListUpdates lists oldest first), after the token's key."""
    size = check_max_results(max_results)
    after = decode_token(next_token)
    start = 0
    if after is not None:
        if after not in keys:
            raise invalid("The nextToken is not valid.")
        start = list(keys).index(after) + 1
    page = list(keys[start : start + size])
    return page, (encode_token(page[-1]) if start + size < len(keys) else None)


def paginate(keys: Iterable[str], max_results: Any, next_token: str | None) -> tuple[list[str], str | None]:
    """One page of the sorted keys after the token's key, and the token for the next page (or None)."""
    size = check_max_results(max_results)
    after = decode_token(next_token)
    ordered = sorted(keys)
    remaining = [k for k in ordered if after is None or k > after]
    page = remaining[:size]
    return page, (encode_token(page[-1]) if len(remaining) > size else None)
