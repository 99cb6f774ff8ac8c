"""IAM Identity Center permission sets as principals: their names, their roles, and resolution. Pure.

Identity Center makes one IAM role per permission set per account:
`arn:aws:iam::ACCOUNT:role/aws-reserved/sso.amazonaws.com/[REGION/]AWSReservedSSO_<PermissionSet>_<16 hex>`
(the REGION segment appears when the Identity Center instance is outside us-east-1; fact sheet, section 6).
The suffix is unpredictable and changes when the permission set is re-provisioned, so a baseline names the
permission set and every run resolves it to the one live role of the cluster's account. Exactly one role is
expected: none, or several, is a refusal with the reason, never a guess.

The one place the product knows these names; `adapters.iam` lists the roles, the baseline validates names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from . import principals
from .model import Baseline, EntrySpec

# Where Identity Center puts its roles (IAM path prefix, as ListRoles' PathPrefix takes it).
SSO_PATH_PREFIX = "/aws-reserved/sso.amazonaws.com/"
SSO_ROLE_PREFIX = "AWSReservedSSO_"
SSO_SUFFIX_HEX = 16
# Permission-set names: 1-32 characters of [\w+=,.@-] (IAM Identity Center API Reference,
# CreatePermissionSet, Name: "Length Constraints: Minimum length of 1. Maximum length of 32. Pattern:
# [\w+=,.@-]+"; https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreatePermissionSet.html).
MAX_PERMISSION_SET_CHARS = 32
PERMISSION_SET_NAME = re.compile(r"^[\w+=,.@-]{1,32}$", re.ASCII)
_ROLE_NAME = re.compile(r"^AWSReservedSSO_(?P<set>[\w+=,.@-]{1,32})_(?P<suffix>[0-9a-fA-F]{16})$", re.ASCII)
_SSO_PATH = re.compile(r"^/aws-reserved/sso\.amazonaws\.com/(?:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d{1,2})/)?$")


def is_permission_set_name(value: object) -> bool:
    return isinstance(value, str) and PERMISSION_SET_NAME.fullmatch(value) is not None


def name_problem(value: str) -> str | None:
    """Why Identity Center would not allow `value` as a permission-set name (one line), or None."""
    if len(value) > MAX_PERMISSION_SET_CHARS:
        return f"{value[:40]!r}... is {len(value)} characters; a permission-set name has at most 32"
    if not is_permission_set_name(value):
        return (
            f"{value!r} is not a permission-set name Identity Center allows (1-32 letters, digits and "
            "+=,.@_-)"
        )
    return None


def permission_set_of_role_name(role_name: str) -> str | None:
    """The permission set an `AWSReservedSSO_<set>_<16 hex>` role name is for, or None."""
    found = _ROLE_NAME.fullmatch(role_name)
    return found["set"] if found else None


def permission_set_of(arn: str, account: str | None = None) -> str | None:
    """The permission set of an Identity Center role ARN (under its path; of `account` if given), or None."""
    principal = principals.parse(arn)
    if principal is None or principal.kind != "role" or not _SSO_PATH.fullmatch(principal.path):
        return None
    if account is not None and principal.account != account:
        return None
    return permission_set_of_role_name(principal.name)


def role_arn(account: str, permission_set: str, suffix: str, region: str | None = None) -> str:
    """The ARN of a permission set's role (for tests and the emulator's mirror; the product reads them)."""
    segment = f"{region}/" if region else ""
    return f"arn:aws:iam::{account}:role{SSO_PATH_PREFIX}{segment}{SSO_ROLE_PREFIX}{permission_set}_{suffix}"


def role_arn_patterns(account: str, permission_set: str) -> tuple[str, str]:
    """ArnLike patterns of the set's role in `account`, without and with the region segment (IAM policies
    match a session by its role's ARN, `aws:PrincipalArn`)."""
    base = f"arn:aws:iam::{account}:role{SSO_PATH_PREFIX}"
    name = f"{SSO_ROLE_PREFIX}{permission_set}_*"
    return base + name, base + "*/" + name


def candidates(permission_set: str, role_arns: Iterable[str], account: str | None = None) -> list[str]:
    """The roles among `role_arns` that are `permission_set`'s (of `account` when given), sorted."""
    return sorted({arn for arn in role_arns if permission_set_of(arn, account) == permission_set})


# --- resolution ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """One permission set's resolution: its role, or why there is none to use."""

    permission_set: str
    arn: str | None
    problem: str | None = None


def resolve_one(permission_set: str, role_arns: Iterable[str], account: str | None = None) -> Resolution:
    """Exactly one role is the answer; none or several is a refusal that says what was found."""
    found = candidates(permission_set, role_arns, account)
    where = f" in account {account}" if account else ""
    if len(found) == 1:
        return Resolution(permission_set, found[0])
    if not found:
        return Resolution(
            permission_set,
            None,
            f"{permission_set}: no role {SSO_ROLE_PREFIX}{permission_set}_<16 hex> under {SSO_PATH_PREFIX}"
            f"{where} (is the permission set provisioned to this account?); its entry is left as it is",
        )
    return Resolution(
        permission_set,
        None,
        f"{permission_set}: {len(found)} roles{where} ({', '.join(found)}); Guard does not guess which is "
        "live, its entry is left as it is until one remains",
    )


def resolve(baseline: Baseline, role_arns: Iterable[str], account: str | None = None) -> Baseline:
    """The baseline with each permission set resolved against `role_arns` (the account's Identity Center
    roles): a resolved set's entry is added on its role's ARN; an unresolved set adds a refusal line.

    A set whose role the baseline's accessEntries also name keeps the accessEntries one (validation refuses
    that baseline when it can tell from the names alone)."""
    if not baseline.permission_sets or baseline.resolved or baseline.unresolved:
        return baseline  # nothing to resolve, or resolved already (this run)
    roles = tuple(role_arns)
    named = {s.principal_arn for s in baseline.entries}
    added: list[EntrySpec] = []
    resolved: list[tuple[str, str]] = []
    unresolved: list[str] = []
    for spec in baseline.permission_sets:
        answer = resolve_one(spec.name, roles, account)
        if answer.arn is None:
            unresolved.append(answer.problem or f"{spec.name}: not resolved")
            continue
        if answer.arn in named:
            unresolved.append(
                f"{spec.name}: its role {answer.arn} is also named in accessConfig.accessEntries; "
                "that entry is kept as written there"
            )
            continue
        resolved.append((spec.name, answer.arn))
        added.append(spec.entry(answer.arn))
    return replace(
        baseline,
        entries=(*baseline.entries, *added),
        resolved=tuple(resolved),
        unresolved=tuple(unresolved),
    )


def widen(baseline: Baseline, only: Iterable[str]) -> frozenset[str]:
    """A targeted run's principals, plus the resolved role of every permission set one of them belongs to:
    an event about a permission set's old or new role reconciles the set's entry wherever it now lives."""
    targets = frozenset(only)
    sets = {s for arn in targets if (s := permission_set_of(arn)) is not None}
    return targets | {arn for name, arn in baseline.resolved if name in sets}


def moved_from(baseline: Baseline, live_arns: Iterable[str], account: str) -> list[tuple[str, str, str]]:
    """(permission set, old ARN, new ARN) for each live entry of a resolved permission set's role that is
    not the resolved role (a re-provisioned set leaves its old role's entry behind) and that the baseline
    does not name itself."""
    named = {s.principal_arn for s in baseline.entries}
    current = dict(baseline.resolved)
    out = []
    for arn in sorted(live_arns):
        name = permission_set_of(arn, account)
        if name is None or name not in current or arn == current[name] or arn in named:
            continue
        out.append((name, arn, current[name]))
    return out


def unresolved_entries(baseline: Baseline, live_arns: Iterable[str], account: str | None = None) -> list[str]:
    """The live entries on a role of a permission set the baseline names that are none of the baseline's
    entries (a resolved set's entry is one, on its role): a re-provisioned set's old role, or the roles of a
    set that resolves to no role or to several. A run must look at them (to move the set, or to say why it
    cannot)."""
    named = {s.principal_arn for s in baseline.entries}
    sets = {s.name for s in baseline.permission_sets}
    out = []
    for arn in sorted(live_arns):
        name = permission_set_of(arn, account)
        if name is None or name not in sets or arn in named:
            continue
        out.append(arn)
    return out


def session_permission_set(role_name: str) -> str | None:
    """The permission set of an assumed-role session's role name (API Gateway gives no path), or None."""
    return permission_set_of_role_name(role_name)


def short(arn: str) -> str:
    """A role ARN cut to its name, for one-line notes: `..._0123456789abcdef` stays readable."""
    principal = principals.parse(arn)
    return principal.name if principal is not None else arn
