"""Break glass, decided: who may call, what a request may ask, what a grant may not do, what is kept. Pure.

The API's bodies are parsed here into request models (unknown fields, wrong types, a missing reason, a
duration out of bounds, an unknown policy are refused with the reason, all at once). Authorization beyond
the SigV4 signature is decided here too:

WHO MAY CALL. Only the configured on-call principals (`ACCESS_GUARD_ONCALL_PRINCIPALS`: IAM role and user
ARNs, role paths allowed). API Gateway names an assumed role by its session,
`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`, without the role's path: it matches the configured role of
that partition, account and NAME (IAM role names are unique per account, whatever the path). An IAM user
matches by its ARN. Nothing else (root, federated users, another account's role of the same name) is on call.
A session of an IAM Identity Center role `AWSReservedSSO_<set>_<hex>` of one of the on-call permission sets
(`ACCESS_GUARD_ONCALL_PERMISSION_SETS`) is on call when that role is one of the deployment's account's
Identity Center roles (under `/aws-reserved/sso.amazonaws.com/`, as IAM lists them: `sso_roles`); its
on-call principal is that role's ARN, path included, whatever its suffix today.

MFA. With MFA required, the API's resource policy denies every request without MFA; here, a long-term access
key (AKIA..., which never carries MFA) is refused again. Session keys are trusted to the resource policy.

WHOSE ACCESS. A grant is for the caller's own on-call principal (the configured ARN, with its path, which an
access entry needs; never the session ARN) unless it names `principalArn`. It may name only another
on-call principal: break glass hands access to the people the deployment trusts to break glass, and no one
else; anyone else gets access through the baseline, which is reviewed.

WHAT A GRANT MAY NOT DO. Only add: a grant on a node entry is refused (node entries take no policies), and
so is one the baseline already covers at the same or a wider scope (a grant never narrows a baseline path,
and that one would add nothing). The merge itself (`core.grants`) only ever adds.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import identity_center, principals, text
from .baseline import is_namespace
from .grants import Grant, widest
from .model import STANDARD, AccessScope, Baseline, LiveEntry
from .names import is_cluster_name
from .policies import KNOWN_POLICY_NAMES, POLICY_ARN_PREFIX, is_well_formed_policy_arn, policy_name
from .report import Notification

# --- the API's shape: routes, stage, and where the CLI finds it (the CDK makes the same; tests compare) ---

API_ROUTES: tuple[tuple[str, str], ...] = (
    ("/clusters", "GET"),
    ("/clusters/{cluster}/drift", "GET"),
    ("/clusters/{cluster}/restore", "POST"),
    ("/clusters/{cluster}/grants", "GET"),
    ("/clusters/{cluster}/grants", "POST"),
    ("/clusters/{cluster}/grants/{id}", "DELETE"),
    ("/audit", "GET"),
    ("/clusters/{cluster}/held-admins/release", "POST"),
)
API_STAGE = "v1"
SERVICE_STACK_NAME = "EksAccessGuard-{region}"  # the service stack of a region; its output ApiUrl
API_URL_OUTPUT = "ApiUrl"
API_URL_ENV = "ACCESS_GUARD_API_URL"  # the CLI's setting, beside --api-url

MAX_BODY_BYTES = 16 * 1024  # a grant request is a few hundred bytes
REASON_MAX_CHARS = 500
MAX_NAMESPACES = 25
AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX = 25, 100
MAX_TOKEN_CHARS = 2048
# Policies modelled on Kubernetes' user-facing admin/edit/view roles, which are meant for namespaces: a
# grant may scope them to namespaces. Every other policy (cluster admin, the AdminView "see everything"
# policy, the service policies) is granted at cluster scope only.
NAMESPACE_SCOPABLE_POLICY_NAMES: frozenset[str] = frozenset(
    {"AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy", "AmazonEKSSecretReaderPolicy"}
)
_GRANT_ID = re.compile(r"^[0-9a-f]{32}$")


# --- errors the API answers with (JSON {"message"}, the status) ---------------------------------------------


class ApiError(Exception):
    status = 500

    def __init__(self, message: str, *, problems: Sequence[str] = (), grant_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)
        self.grant_id = grant_id  # the grant the error is about (one that could not be given)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.problems:
            body["problems"] = list(self.problems)
        if self.grant_id:
            body["grantId"] = self.grant_id
        return body


class BadRequest(ApiError):
    status = 400


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class TooManyRequests(ApiError):
    status = 429


class Unprocessable(ApiError):
    """The request is valid but cannot be carried out on this cluster (a grant that cannot be given)."""

    status = 422


class Failed(ApiError):
    """The request was right but what it asked could not be done (an AWS write failed): nothing dangles."""

    status = 500


# --- bodies ----------------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadRequest(f"the body has the field {key!r} twice")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise BadRequest(f"the body is not valid JSON: {name} is not a JSON number")


def decode_body(text: str | None, *, base64_encoded: bool = False) -> object:
    """The JSON document of a request body; BadRequest when there is none or it is not JSON, PayloadTooLarge
    over MAX_BODY_BYTES."""
    if text is None or not text.strip():
        raise BadRequest("a JSON body is required")
    if base64_encoded:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is not valid JSON: it is not UTF-8 text") from None
    else:
        raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid JSON: it is not UTF-8 text") from None
    try:
        return json.loads(decoded, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _fields(doc: object, allowed: tuple[str, ...], what: str, problems: list[str]) -> Mapping[str, Any]:
    if not isinstance(doc, dict):
        raise BadRequest(f"the body must be a JSON object ({what}), got {_kind(doc)}")
    for key in doc:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f" (fields: {', '.join(allowed)})"
            problems.append(f"unknown field {key!r} in {what}{hint}")
    return doc


def _reason(doc: Mapping[str, Any], problems: list[str]) -> str:
    value = doc.get("reason")
    if value is None:
        problems.append("reason is required: say why (an incident, a ticket)")
        return ""
    if not isinstance(value, str):
        problems.append(f"reason must be a string, got {_kind(value)}")
        return ""
    reason = value.strip()
    if not reason:
        problems.append("reason must not be empty")
    elif len(reason) > REASON_MAX_CHARS:
        problems.append(f"reason must be at most {REASON_MAX_CHARS} characters, got {len(reason)}")
    elif (bad := text.first_unsafe(reason)) is not None:
        problems.append(
            f"reason must be one line of text: {bad} is not allowed (no control, format or line-separator "
            "characters)"
        )
    return reason


def _refuse(problems: list[str], what: str) -> None:
    if problems:
        raise BadRequest(f"invalid {what}: " + "; ".join(problems), problems=problems)


@dataclass(frozen=True)
class RestoreRequest:
    reason: str
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "dryRun": self.dry_run}


RESTORE_FIELDS = ("reason", "dryRun")


def parse_restore(doc: object) -> RestoreRequest:
    problems: list[str] = []
    body = _fields(doc, RESTORE_FIELDS, "a restore request", problems)
    reason = _reason(body, problems)
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        problems.append(f"dryRun must be true or false, got {_kind(dry_run)}")
    _refuse(problems, "restore request")
    return RestoreRequest(reason, bool(dry_run))


@dataclass(frozen=True)
class ReleaseRequest:
    """Give a cluster admin a baseline change holds back (holdNewAdminsMinutes) now: one, or every one."""

    reason: str
    principal_arn: str | None = None  # None: every held admin of the cluster

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "principalArn": self.principal_arn}


RELEASE_FIELDS = ("reason", "principalArn")


def parse_release(doc: object) -> ReleaseRequest:
    problems: list[str] = []
    body = _fields(doc, RELEASE_FIELDS, "a release request", problems)
    reason = _reason(body, problems)
    arn = body.get("principalArn")
    if arn is not None and (not isinstance(arn, str) or principals.parse(arn) is None):
        problems.append(f"principalArn must be an IAM role or user ARN, got {arn!r}"[:300])
    _refuse(problems, "release request")
    return ReleaseRequest(reason, arn)


@dataclass(frozen=True)
class RevokeRequest:
    """An early revocation: its reason (the CLI always sends one; an empty body, as older clients send, is
    accepted and recorded as giving none)."""

    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason}


REVOKE_FIELDS = ("reason",)


def parse_revoke(text: str | None, *, base64_encoded: bool = False) -> RevokeRequest:
    if text is None or not text.strip():
        return RevokeRequest()
    problems: list[str] = []
    doc = decode_body(text, base64_encoded=base64_encoded)
    body = _fields(doc, REVOKE_FIELDS, "a revoke request", problems)
    reason = _reason(body, problems)
    _refuse(problems, "revoke request")
    return RevokeRequest(reason)


@dataclass(frozen=True)
class GrantRequest:
    policy_arn: str
    scope: AccessScope
    duration_minutes: int
    reason: str
    principal_arn: str | None = None  # None: the caller's own on-call principal

    def to_json(self) -> dict[str, Any]:
        return {
            "principalArn": self.principal_arn,
            "accessPolicy": self.policy_arn,
            "namespaces": list(self.scope.namespaces) if self.scope.type == "namespace" else None,
            "durationMinutes": self.duration_minutes,
            "reason": self.reason,
        }


GRANT_FIELDS = ("principalArn", "accessPolicy", "namespaces", "durationMinutes", "reason")


def resolve_policy(value: object, allowed: Sequence[str]) -> tuple[str | None, str | None]:
    """(policy ARN, None) for a known policy ARN or name among `allowed`; (None, why) otherwise."""
    names = ", ".join(policy_name(a) for a in allowed)
    if not isinstance(value, str) or not value:
        return None, f"accessPolicy must be an access policy name or ARN, got {_kind(value)}"
    if value.startswith("arn:"):
        if not is_well_formed_policy_arn(value):
            return None, f"accessPolicy {value!r} is not an access policy ARN ({POLICY_ARN_PREFIX}<Name>)"
        name = policy_name(value)
    else:
        name = value
    if name not in KNOWN_POLICY_NAMES:
        close = difflib.get_close_matches(name, KNOWN_POLICY_NAMES, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        return None, f"unknown access policy {value!r}{hint} (grants may use: {names})"
    arn = value if value.startswith("arn:") else POLICY_ARN_PREFIX + name
    if arn not in allowed:
        return None, f"{name} is not a policy this deployment grants (grants may use: {names})"
    return arn, None


def parse_grant(doc: object, *, allowed_policies: Sequence[str], max_minutes: int) -> GrantRequest:
    """A grant request; `max_minutes` is the deployment's ceiling (a cluster's baseline may lower it)."""
    problems: list[str] = []
    body = _fields(doc, GRANT_FIELDS, "a grant request", problems)
    reason = _reason(body, problems)
    policy_arn, why = resolve_policy(body.get("accessPolicy"), allowed_policies)
    if body.get("accessPolicy") is None:
        why = "accessPolicy is required (an access policy name or ARN)"
    if why:
        problems.append(why)
    scope = AccessScope()
    raw_namespaces = body.get("namespaces")
    if raw_namespaces is not None:
        if not isinstance(raw_namespaces, list) or not all(isinstance(n, str) for n in raw_namespaces):
            problems.append(f"namespaces must be a list of namespace names, got {_kind(raw_namespaces)}")
        elif not raw_namespaces:
            problems.append("namespaces must name at least one namespace (leave it out for the cluster)")
        elif len(raw_namespaces) > MAX_NAMESPACES:
            problems.append(f"namespaces may name at most {MAX_NAMESPACES}, got {len(raw_namespaces)}")
        else:
            bad = [n for n in raw_namespaces if not is_namespace(n)]
            if bad:
                problems.append(
                    f"namespaces: {bad[0]!r} is not a Kubernetes namespace name (or a prefix ending in *)"
                )
            elif policy_arn is not None and policy_name(policy_arn) not in NAMESPACE_SCOPABLE_POLICY_NAMES:
                scopable = ", ".join(sorted(NAMESPACE_SCOPABLE_POLICY_NAMES))
                problems.append(
                    f"namespaces cannot be given with {policy_name(policy_arn)}: it is granted at cluster "
                    f"scope only (namespaces go with {scopable})"
                )
            else:
                scope = AccessScope.of("namespace", raw_namespaces)
    minutes = body.get("durationMinutes")
    if minutes is None:
        problems.append("durationMinutes is required (how long the access lasts)")
    elif isinstance(minutes, bool) or not isinstance(minutes, int):
        problems.append(f"durationMinutes must be a whole number of minutes, got {_kind(minutes)}")
    elif not 1 <= minutes <= max_minutes:
        problems.append(f"durationMinutes must be between 1 and {max_minutes}, got {minutes}")
    principal = body.get("principalArn")
    if principal is not None:
        if not isinstance(principal, str):
            problems.append(f"principalArn must be an IAM role or user ARN, got {_kind(principal)}")
        elif (problem := principals.problem(principal)) is not None:
            problems.append(f"principalArn: {problem}")
        elif (parsed := principals.parse(principal)) is None or parsed.kind == "root":
            problems.append(
                "principalArn: an account root cannot be granted access; name an IAM role or user"
            )
    _refuse(problems, "grant request")
    assert policy_arn is not None and isinstance(minutes, int)
    return GrantRequest(policy_arn, scope, minutes, reason, principal)


@dataclass(frozen=True)
class AuditQuery:
    cluster: str | None = None
    limit: int = AUDIT_PAGE_DEFAULT
    token: str | None = None
    kind: str | None = None  # one of AUDIT_KINDS
    since: datetime | None = None  # records at or after this time


def parse_audit_query(params: Mapping[str, str] | None) -> AuditQuery:
    params = params or {}
    problems: list[str] = []
    for key in params:
        if key not in AUDIT_QUERY_PARAMETERS:
            names = ", ".join(AUDIT_QUERY_PARAMETERS)
            problems.append(f"unknown query parameter {key!r} ({names})")
    cluster = params.get("cluster") or None
    if cluster is not None and not is_cluster_name(cluster):
        problems.append(f"cluster: {cluster!r} is not an EKS cluster name")
    limit = AUDIT_PAGE_DEFAULT
    raw = params.get("limit")
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= AUDIT_PAGE_MAX:
            problems.append(f"limit must be a whole number from 1 to {AUDIT_PAGE_MAX}, got {raw!r}")
        else:
            limit = int(raw)
    token = params.get("next") or None
    if token is not None and len(token) > MAX_TOKEN_CHARS:
        problems.append("next is not a page token this API gave")
    kind = params.get("kind") or None
    if kind is not None and kind not in AUDIT_KINDS:
        problems.append(f"kind must be one of {', '.join(AUDIT_KINDS)}, got {kind!r}")
    since = None
    raw_since = params.get("since") or None
    if raw_since is not None:
        try:
            since = datetime.fromisoformat(raw_since.replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"since must be an ISO 8601 time (2026-11-23T22:14:38Z), got {raw_since!r}")
        else:
            if since.tzinfo is None:
                problems.append(f"since must say its time zone (Z for UTC), got {raw_since!r}")
                since = None
    _refuse(problems, "audit query")
    return AuditQuery(cluster, limit, token, kind, since)


AUDIT_QUERY_PARAMETERS = ("cluster", "kind", "since", "limit", "next")


def check_cluster_name(name: str) -> str:
    if not is_cluster_name(name):
        raise BadRequest(
            f"{name!r} is not an EKS cluster name (1-100 letters, digits, hyphens and underscores, starting "
            "with a letter or digit)"
        )
    return name


def check_grant_id(grant_id: str) -> str:
    if not _GRANT_ID.match(grant_id):
        raise BadRequest(f"{grant_id!r} is not a grant id (32 hexadecimal digits)")
    return grant_id


# --- callers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """The caller as API Gateway's request context names it (`requestContext.identity`)."""

    user_arn: str | None
    account_id: str | None = None
    caller_id: str | None = None
    access_key: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Caller:
    """An authorized on-call caller."""

    principal_arn: str  # the configured on-call principal (a role's ARN with its path): whose access
    arn: str  # as API Gateway named it (the session ARN for a role): who, for the record
    source_ip: str | None = None
    access_key: str | None = None

    @property
    def session(self) -> str | None:
        found = principals.parse_session(self.arn)
        return found.session_name if found else None


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def long_term_key(access_key: str | None) -> bool:
    """An IAM user's access key (AKIA...): it never carries MFA. Session keys (ASIA...) may."""
    return bool(access_key) and str(access_key).startswith("AKIA")


def on_call(arn: str, oncall_principals: Sequence[str]) -> str | None:
    """The configured on-call principal `arn` is (a session of), or None."""
    session = principals.parse_session(arn)
    if session is not None:
        for configured in oncall_principals:
            p = principals.parse(configured)
            if (
                p is not None
                and p.key == (session.account, "role", session.role_name)
                and p.partition == session.partition
            ):
                return configured
        return None
    caller = principals.parse(arn)
    if caller is None or caller.kind != "user":
        return None
    return arn if arn in oncall_principals else None


def on_call_permission_set(arn: str, permission_sets: Sequence[str], sso_roles: Sequence[str]) -> str | None:
    """The Identity Center role (ARN with its path) whose session `arn` is, when the role is of an on-call
    permission set and among `sso_roles` (the deployment's account's Identity Center roles); else None."""
    session = principals.parse_session(arn)
    if session is None or identity_center.session_permission_set(session.role_name) not in permission_sets:
        return None
    for role in sso_roles:
        p = principals.parse(role)
        if (
            p is not None
            and p.key == (session.account, "role", session.role_name)
            and p.partition == session.partition
            and identity_center.permission_set_of(role, session.account) is not None
        ):
            return role
    return None


def authorize(
    identity: Identity,
    oncall_principals: Sequence[str],
    require_mfa: bool,
    mfa_present: bool | None,
    *,
    permission_sets: Sequence[str] = (),
    sso_roles: Sequence[str] = (),
) -> Caller | Refusal:
    """The caller, or why it may not call. `mfa_present` None: unknown here (the resource policy decided).
    `sso_roles`: the account's Identity Center roles, read only when `permission_sets` may match."""
    arn = identity.user_arn or ""
    if not arn:
        return Refusal(403, "the request names no IAM caller; sign it with SigV4 (AWS_IAM)")
    matched = on_call(arn, oncall_principals) or on_call_permission_set(arn, permission_sets, sso_roles)
    if matched is None:
        return Refusal(403, f"{arn} is not an on-call principal of this deployment")
    if require_mfa and mfa_present is False:
        return Refusal(
            403,
            f"{arn}: this deployment requires MFA; call with a session assumed with MFA, not a user's key",
        )
    return Caller(matched, arn, identity.source_ip, identity.access_key)


def nameable(principal_arn: str, oncall_principals: Sequence[str]) -> str | None:
    """The on-call principal a grant may name for `principal_arn` (its configured ARN), or None."""
    wanted = principals.parse(principal_arn)
    if wanted is None:
        return None
    for configured in oncall_principals:
        p = principals.parse(configured)
        if p is not None and p.key == wanted.key and p.partition == wanted.partition:
            return configured
    return None


def grant_principal(caller: Caller, request: GrantRequest, oncall_principals: Sequence[str]) -> str:
    """Whose access a grant gives: the caller's on-call principal, or the on-call principal it names."""
    if request.principal_arn is None:
        return caller.principal_arn
    named = nameable(request.principal_arn, oncall_principals)
    if named is None:
        raise Forbidden(
            f"a grant may name only an on-call principal of this deployment; {request.principal_arn} is not "
            "one (others get access through the baseline)"
        )
    return named


# --- what a grant may do ------------------------------------------------------------------------------------


def max_minutes(deployment_max: int, cluster_max: int | None) -> int:
    """The longest grant on a cluster: its baseline's maximum, never more than the deployment's."""
    return deployment_max if cluster_max is None else min(deployment_max, cluster_max)


def _scope_text(scope: AccessScope) -> str:
    return "cluster" if scope.type == "cluster" else "namespaces " + ", ".join(scope.namespaces)


def grant_conflict(
    baseline: Baseline, live: LiveEntry | None, principal_arn: str, policy_arn: str, scope: AccessScope
) -> str | None:
    """Why this grant may not be made on this cluster, or None."""
    spec = next((s for s in baseline.entries if s.principal_arn == principal_arn), None)
    if spec is not None and spec.type != STANDARD:
        return f"{principal_arn} is a {spec.type} node entry in the baseline; node entries take no policies"
    if live is not None and live.type != STANDARD:
        return f"{principal_arn} has a {live.type} node entry; node entries take no policies"
    if spec is not None:
        for association in spec.policies:
            if association.policy_arn != policy_arn:
                continue
            have = association.scope.normal()
            if widest(have, scope.normal()) == have:
                return (
                    f"the baseline already gives {principal_arn} {policy_name(policy_arn)} at "
                    f"{_scope_text(have)} scope: a grant never narrows a baseline path, and this one would "
                    "add nothing"
                )
    return None


def grant_status(grant: Grant, now: datetime) -> str:
    """requested | pending (waits for a mode update) | active | ending (over, its access not yet seen gone) |
    ended (on time) | revoked (early) | failed (could not be given)."""
    return grant.state(now)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def grant_json(grant: Grant, now: datetime) -> dict[str, Any]:
    return {
        "grantId": grant.grant_id,
        "cluster": grant.cluster,
        "region": grant.region,
        "principalArn": grant.principal_arn,
        "accessPolicy": grant.policy_arn,
        "accessScope": grant.scope.to_api(),
        "reason": grant.reason,
        "requestedBy": grant.requested_by,
        "createdAt": _time(grant.created_at),
        "endsAt": _time(grant.ends_at),
        "state": grant_status(grant, now),
        "activatedAt": _time(grant.activated_at),
        "pendingReason": grant.pending_reason,
        "endedEarlyAt": _time(grant.ended_early_at),
        "endedEarlyBy": grant.ended_early_by,
        "revokedAt": _time(grant.revoked_at),
        "revocationError": grant.revocation_error,
        "failure": grant.failure,
    }


def describe_grant(grant: Grant) -> str:
    return (
        f"{policy_name(grant.policy_arn)} ({_scope_text(grant.scope.normal())}) for {grant.principal_arn} "
        f"until {grant.ends_at.isoformat()}"
    )


# --- the audit record -----------------------------------------------------------------------------------

OUTCOMES = {
    200: "ok",
    201: "ok",
    202: "accepted",
    400: "invalid",
    403: "refused",
    404: "not-found",
    422: "not-given",
}
OUTCOMES.update({409: "conflict", 413: "invalid", 429: "rate-limited", 500: "failed"})


def outcome_of(status: int) -> str:
    return OUTCOMES.get(status, "ok" if status < 400 else "failed")


@dataclass(frozen=True)
class AuditRecord:
    """One API call (or one expiry), whatever its outcome: who, from where, why, what, and how it went."""

    at: datetime
    request_id: str
    action: str  # clusters | drift | restore | grant | grants | revoke | audit | grant-end
    region: str
    status: int
    detail: str  # one line: what was done, or why not
    cluster: str | None = None
    caller: str | None = None  # as API Gateway named it (a session ARN for a role)
    principal: str | None = None  # the on-call principal it matched, when it did
    source_ip: str | None = None
    access_key: str | None = None
    reason: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)  # method, path, query, the body as parsed
    grant_id: str | None = None
    # For what the guard did on its own (core.history): who made the change it answered, per CloudTrail,
    # and that event's id.
    actor: str | None = None
    event_id: str | None = None

    @property
    def outcome(self) -> str:
        return outcome_of(self.status)

    @property
    def kind(self) -> str:
        """One of AUDIT_KINDS: a break-glass call, a remediation or sweep run, a grant's end, a refusal."""
        if self.action in GUARD_RUN_ACTIONS:
            return "refusal" if self.status == 403 else self.action
        if self.caller == GUARD:
            return "grant-end"
        return "refusal" if self.status == 403 else "break-glass"

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "requestId": self.request_id,
            "action": self.action,
            "cluster": self.cluster,
            "region": self.region,
            "caller": self.caller,
            "principal": self.principal,
            "sourceIp": self.source_ip,
            "accessKey": self.access_key,
            "reason": self.reason,
            "request": dict(self.request),
            "status": self.status,
            "outcome": self.outcome,
            "detail": self.detail,
            "grantId": self.grant_id,
            "kind": self.kind,
            "actor": self.actor,
            "eventId": self.event_id,
        }

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> AuditRecord:
        return AuditRecord(
            at=datetime.fromisoformat(str(doc["at"])),
            request_id=str(doc["requestId"]),
            action=str(doc["action"]),
            region=str(doc["region"]),
            status=int(doc["status"]),
            detail=str(doc.get("detail") or ""),
            cluster=doc.get("cluster"),
            caller=doc.get("caller"),
            principal=doc.get("principal"),
            source_ip=doc.get("sourceIp"),
            access_key=doc.get("accessKey"),
            reason=doc.get("reason"),
            request=dict(doc.get("request") or {}),
            grant_id=doc.get("grantId"),
            actor=doc.get("actor"),
            event_id=doc.get("eventId"),
        )


# The audit trail's kinds (GET /audit?kind=K, `access-guard history --kind K`), and the actions of the
# records of the guard's own runs.
AUDIT_KINDS = ("break-glass", "remediation", "sweep", "grant-end", "refusal")
GUARD_RUN_ACTIONS = ("remediation", "sweep")

GUARD = "access-guard"  # the caller named in the audit trail for what the guard does on its own


def grant_end_record(grant: Grant, *, at: datetime, ok: bool, line: str, request_id: str) -> AuditRecord:
    """The audit record of a grant's end: its access taken away (`ok`) or not yet. One per grant, written by
    the run whose transition closed it, whoever asked (its schedule, the sweep, a remediation run, an early
    revoke through the API, which has its own record of the call); `request.end` says how it ended."""
    return AuditRecord(
        at=at,
        request_id=request_id,
        action="grant-end",
        region=grant.region,
        status=200 if ok else 500,
        detail=one_line(line),
        cluster=grant.cluster,
        caller=GUARD,
        reason=grant.reason,
        request={
            "grantId": grant.grant_id,
            "principalArn": grant.principal_arn,
            "endsAt": grant.ends_at.isoformat(),
            "end": grant.closing_status(),
        },
        grant_id=grant.grant_id,
    )


one_line = text.one_line


def breakglass_note(record: AuditRecord, run_text: str = "") -> Notification:
    """What the owners are told of one break-glass write: who, from where, why, what was asked, how it went,
    and (when Guard changed the cluster) what it did."""
    where = f"{record.cluster} ({record.region})" if record.cluster else record.region
    who = record.caller or "an unsigned caller"
    if record.principal and record.principal != record.caller:
        who += f" (on-call principal {record.principal})"
    # Each field on its own line, whatever it holds (core.text): nobody forges a line of the note.
    lines = [
        f"Break glass on {where}: {record.action}, by {one_line(who)}, "
        f"from {one_line(record.source_ip or 'an unknown address')}",
        f"Reason: {one_line(record.reason or '(none given)')}",
        f"Request: {json.dumps(dict(record.request), sort_keys=True, default=str)}",
        f"Outcome: {record.status} {record.outcome}: {one_line(record.detail)}",
    ]
    if run_text:
        lines += ["", run_text.rstrip()]
    short = principals.parse_session(record.caller or "")
    by = short.session_name if short else (record.caller or "?").rsplit("/", 1)[-1]
    subject = f"[{record.cluster or 'guard'}] break glass: {record.action} by {by} ({record.outcome})"
    document = {"kind": "break-glass", "cluster": record.cluster, "region": record.region, **record.to_json()}
    return Notification("break-glass", record.cluster, subject, "\n".join(lines) + "\n", document)
