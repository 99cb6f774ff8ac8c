"""IAM principal ARNs: what they name, what EKS makes of them, and whether IAM says they are alive.

The one place the product parses a principal ARN. Pure: text in, facts out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .model import PrincipalStatus

_PARTITION = r"aws(?:-cn|-us-gov|-iso(?:-[a-z])?|-eusc)?"
ARN = re.compile(
    rf"^arn:(?P<partition>{_PARTITION}):(?P<service>[a-z0-9-]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)$"
)
_IAM_NAME = r"[\w+=,.@-]{1,128}"
_IAM_PATH = r"(?:/[\x21-\x7e]*?)?/"  # "/" or "/some/path/"
_ROLE = re.compile(rf"^role(?P<path>{_IAM_PATH})(?P<name>{_IAM_NAME})$", re.ASCII)
_USER = re.compile(rf"^user(?P<path>{_IAM_PATH})(?P<name>{_IAM_NAME})$", re.ASCII)
_ACCOUNT = re.compile(r"^\d{12}$")
_SESSION = re.compile(rf"^assumed-role/(?P<name>{_IAM_NAME})/(?P<session>[\w+=,.@-]{{2,64}})$", re.ASCII)


@dataclass(frozen=True)
class Principal:
    """An IAM role, user or account root named by an ARN. `path` is "/" or "/a/b/" ("/" for root)."""

    arn: str
    partition: str
    account: str
    kind: str  # "role" | "user" | "root"
    path: str
    name: str

    @property
    def key(self) -> tuple[str, str, str]:
        """Who it is regardless of path (IAM names are unique per account and kind)."""
        return (self.account, self.kind, self.name)


def parse(arn: str) -> Principal | None:
    """The principal an IAM role, user or root ARN names; None for anything else (STS sessions included)."""
    match = ARN.match(arn)
    if match is None or match["service"] != "iam" or match["region"] or not _ACCOUNT.match(match["account"]):
        return None
    partition, account, resource = match["partition"], match["account"], match["resource"]
    if resource == "root":
        return Principal(arn, partition, account, "root", "/", "root")
    for kind, pattern in (("role", _ROLE), ("user", _USER)):
        found = pattern.match(resource)
        if found:
            return Principal(arn, partition, account, kind, found["path"], found["name"])
    return None


@dataclass(frozen=True)
class Session:
    """An STS assumed-role session ARN: arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION (no role path)."""

    partition: str
    account: str
    role_name: str
    session_name: str


def parse_session(arn: str) -> Session | None:
    match = ARN.match(arn)
    if match is None or match["service"] != "sts" or not _ACCOUNT.match(match["account"]):
        return None
    found = _SESSION.match(match["resource"])
    if found is None:
        return None
    return Session(match["partition"], match["account"], found["name"], found["session"])


def problem(arn: str) -> str | None:
    """Why `arn` cannot be an access entry's principal (one line), or None when it can."""
    match = ARN.match(arn)
    if match is None:
        return (
            f"{arn!r} is not a well-formed ARN (arn:aws:iam::<12-digit account>:role/<name> or user/<name>)"
        )
    service, account, resource = match["service"], match["account"], match["resource"]
    if service == "sts":
        hint = ""
        session = parse_session(arn)
        if session is not None:
            hint = f" (arn:{session.partition}:iam::{account}:role/{session.role_name}, with its path if any)"
        return f"an STS session ARN is not an IAM principal; use the role ARN{hint}"
    if service != "iam":
        return f"{arn!r} is not an IAM ARN; principals are IAM roles or users"
    if match["region"]:
        return f"{arn!r} has a region; IAM ARNs have none (arn:aws:iam::<account>:...)"
    if not _ACCOUNT.match(account):
        return f"{arn!r}: the account must be 12 digits, got {account!r}"
    if resource.startswith("role/aws-service-role/"):
        return "service-linked roles (role/aws-service-role/...) cannot have access entries"
    if parse(arn) is None:
        return f"{arn!r} is not an IAM role or user ARN (role/[path/]name or user/[path/]name)"
    return None


def default_username(principal_arn: str) -> str:
    """The username EKS generates: a user's (or root's) ARN; for a role, its session ARN with {{SessionName}}.

    The role's path is dropped, as EKS does:
    arn:aws:iam::1:role/a/b/name -> arn:aws:sts::1:assumed-role/name/{{SessionName}}
    """
    principal = parse(principal_arn)
    if principal is None or principal.kind != "role":
        return principal_arn
    session = f"arn:{principal.partition}:sts::{principal.account}:assumed-role/{principal.name}"
    return session + "/{{SessionName}}"


def status(
    arn: str, entry_created_at: datetime | None, account: str, iam_created: Mapping[str, datetime]
) -> PrincipalStatus:
    """What IAM says about an entry's principal, given `iam_created` (ARN -> IAM CreateDate) for the
    principals of `account` that were looked up.

    "ok" only when IAM confirms the principal exists (root always does) and, for an entry, that it was not
    created after the entry (EKS binds an entry to the principal's unique id at creation, so an entry older
    than its principal is bound to a dead identity: "recreated"). Another account's principal, or one that
    was not looked up, is "unknown", and "unknown" never counts as a working principal.
    """
    principal = parse(arn)
    if principal is None or principal.account != account:
        return "unknown"
    if principal.kind == "root":
        return "ok"
    if arn not in iam_created:
        return "missing"
    if entry_created_at is not None and iam_created[arn] > entry_created_at:
        return "recreated"
    return "ok"


# IAM Identity Center's roles: role/aws-reserved/sso.amazonaws.com/[REGION/]AWSReservedSSO_<set>_<16 hex>;
# the REGION segment appears when the Identity Center instance is outside us-east-1 (reference, section 6).
IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/"


def identity_center(arn: str) -> bool:
    """An IAM Identity Center role (with or without the region segment). Its sessions come from
    AssumeRoleWithSAML, which never carries aws:MultiFactorAuthPresent: their MFA is Identity Center's."""
    principal = parse(arn)
    return (
        principal is not None and principal.kind == "role" and principal.path.startswith(IDENTITY_CENTER_PATH)
    )


def identity_center_pattern(arn: str) -> str:
    """An ArnLike pattern matching this Identity Center role with or without the region segment."""
    principal = parse(arn)
    if principal is None or not identity_center(arn):
        raise ValueError(f"{arn!r} is not an IAM Identity Center role ARN")
    return f"arn:{principal.partition}:iam::{principal.account}:role{IDENTITY_CENTER_PATH}*{principal.name}"
