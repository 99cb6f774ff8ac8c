"""One event in, one typed intent out: what changed, where and who did it, or why it is ignored.

`parse` takes an EventBridge event ("AWS API Call via CloudTrail" from aws.eks or aws.iam, or SSM's
"Parameter Store Change") or a bare CloudTrail record (a replay), as a decoded object or as JSON text.
It is total: it never raises on bad input. Whatever is not a trigger the service acts on, or is not shaped
as AWS shapes it, becomes `Ignored` with one line saying why (see the fact sheet, section 3, for the
shapes: `requestParameters.name`, URL-encoded ARNs in path parameters, IAM events with names only).

What is never trusted: the user agent (callers choose theirs; `app/eks-access-guard` is noted, not
believed), the event's claim about the resulting state (the remediator reads the live state). What is: the
service's own roles, by the IAM principal behind the call.

Pure: no I/O, no clock, no environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from . import names, principals, text
from .config import APP_ID
from .triggers import (
    CLOUDTRAIL_DETAIL_TYPE,
    EKS_EVENT_NAMES,
    EKS_EVENT_SOURCE,
    IAM_EVENT_NAMES,
    IAM_EVENT_SOURCE,
    RETIRED,
    SSM_DETAIL_TYPE,
    SSM_SOURCE,
    baselines_root,
)

# EventBridge refuses events over 256 KB; anything larger did not come from it and is not looked into.
MAX_EVENT_BYTES = 256 * 1024
# CloudTrail event ids and EventBridge ids are UUIDs; allow any short id of safe characters (replays).
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_ACCOUNT = re.compile(r"\d{12}")
_READ_PREFIXES = ("Describe", "List", "Get", "Lookup")
_ENTRY_EVENTS = frozenset(
    {
        "CreateAccessEntry",
        "UpdateAccessEntry",
        "DeleteAccessEntry",
        "AssociateAccessPolicy",
        "DisassociateAccessPolicy",
    }
)
_BASELINE_OPERATIONS = ("Create", "Update", "Delete")
_SHOWN_CHARS = 120  # echoed values are cut to this many characters in a reason
_KEPT_CHARS = 1024  # an Actor's texts are cut to this many characters
SERVICE_USER_AGENT = f"app/{APP_ID}"


@dataclass(frozen=True)
class Actor:
    """Who made the call, per CloudTrail's userIdentity (and the request's source and user agent)."""

    arn: str | None  # userIdentity.arn: a user's or root's ARN, or an STS session ARN
    type: str | None  # IAMUser, AssumedRole, Root, AWSService, ...
    principal_arn: str | None  # the IAM principal behind the call: a session's role (with path), a user, root
    source_ip: str | None
    user_agent: str | None

    @property
    def claims_service_user_agent(self) -> bool:
        """The user agent names this service (`app/eks-access-guard`): a claim, which anyone can make."""
        return self.user_agent is not None and SERVICE_USER_AGENT in self.user_agent

    def describe(self) -> str:
        """One short line: `arn:aws:iam::1:user/bob from 10.0.0.1`."""
        parts = [self.arn or self.principal_arn or (f"an {self.type} caller" if self.type else "someone")]
        if self.principal_arn and self.principal_arn != parts[0]:
            parts.append(f"(role {self.principal_arn})")
        if self.source_ip:
            parts.append(f"from {self.source_ip}")
        if self.claims_service_user_agent:
            parts.append(f"(user agent {SERVICE_USER_AGENT})")
        return " ".join(parts)


@dataclass(frozen=True)
class EksChange:
    """An EKS write that can change access: to one entry (principal set) or to the cluster (None)."""

    event_id: str
    event_name: str
    event_time: datetime
    account: str
    region: str
    cluster: str
    principal_arn: str | None
    actor: Actor


@dataclass(frozen=True)
class PrincipalChange:
    """An IAM role or user deleted or created. IAM events name it only (no path), so `name` is the key;
    `arn` is set when the record carries it (CreateRole/CreateUser responses)."""

    event_id: str
    event_name: str
    event_time: datetime
    account: str
    kind: Literal["role", "user"]
    name: str
    deleted: bool
    actor: Actor
    arn: str | None = None


@dataclass(frozen=True)
class BaselineChange:
    """A baseline's manifest parameter created, updated or deleted (the manifest is written last)."""

    event_id: str
    event_time: datetime
    account: str
    region: str
    cluster: str
    operation: Literal["Create", "Update", "Delete"]
    parameter: str


@dataclass(frozen=True)
class Ignored:
    """Not acted on, and why (one line)."""

    reason: str
    event_id: str | None = None


Intent = EksChange | PrincipalChange | BaselineChange | Ignored


class _Reject(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(
    event: object, *, account: str, region: str, prefix: str, self_roles: frozenset[str]
) -> EksChange | PrincipalChange | BaselineChange | Ignored:
    """The intent of `event` for the service of `account` in `region` (baselines under `prefix`; calls by
    any of `self_roles`, IAM role ARNs, are the service's own). Never raises on bad input."""
    parser = _Parser(account=account, region=region, prefix=prefix, self_roles=self_roles)
    try:
        return parser.parse(event)
    except _Reject as rejected:
        return Ignored(rejected.reason, parser.event_id)
    except RecursionError:
        return Ignored("malformed: nested too deeply to read", parser.event_id)


# --- helpers ------------------------------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _show(value: str) -> str:
    """A value from the event, quoted and cut short, safe in a one-line reason."""
    cut = value[:_SHOWN_CHARS]
    return repr(cut) + ("..." if len(value) > _SHOWN_CHARS else "")


def _keep(value: object) -> str | None:
    """An informative text of the event (an ARN, an address, a user agent), made safe to log: cut short,
    with characters that would break a line escaped."""
    if not isinstance(value, str) or not value:
        return None
    return text.escape(value[:_KEPT_CHARS])


def _larger_than(value: object, limit: int) -> bool:
    """Whether `value` written as JSON would exceed `limit` bytes (roughly; never under-counts structure).

    Iterative and bounded by `limit`: it stops as soon as the budget is spent, so a huge or cyclic object
    costs no more than a small one.
    """
    budget = limit
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            budget -= len(item) + 2
        elif isinstance(item, Mapping):
            budget -= 2 + len(item)
            if budget < 0:
                return True
            for key, child in item.items():
                budget -= len(key) + 3 if isinstance(key, str) else 8
                stack.append(child)
        elif isinstance(item, list | tuple):
            budget -= 2 + len(item)
            if budget < 0:
                return True
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            budget -= item.bit_length() // 3 + 1
        else:
            budget -= 5
        if budget < 0:
            return True
    return False


def url_decode(text: str) -> str | None:
    """`text` with %XX escapes decoded as UTF-8 (once); None when an escape or the UTF-8 is broken."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            digits = text[i + 1 : i + 3]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                return None
            out.append(int(digits, 16))
            i += 3
        else:
            out += char.encode("utf-8", "surrogatepass")
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Parser:
    def __init__(self, *, account: str, region: str, prefix: str, self_roles: frozenset[str]) -> None:
        self.account, self.region, self.prefix = account, region, prefix
        self.self_keys = {p.key for p in (principals.parse(arn) for arn in self_roles) if p is not None}
        self.event_id: str | None = None

    # --- field access: each problem names the field ------------------------------------------------
    @staticmethod
    def _object(value: object, where: str) -> Mapping[str, object]:
        if value is None:
            raise _Reject(f"malformed: {where} is missing")
        if not isinstance(value, Mapping):
            raise _Reject(f"malformed: {where} is {_kind(value)}, not an object")
        return value

    @staticmethod
    def _string(obj: Mapping[str, object], key: str, where: str) -> str:
        value = obj.get(key)
        if value is None:
            raise _Reject(f"malformed: {where}{key} is missing")
        if not isinstance(value, str):
            raise _Reject(f"malformed: {where}{key} is {_kind(value)}, not a string")
        if not value:
            raise _Reject(f"malformed: {where}{key} is empty")
        return value

    def _event_id(self, obj: Mapping[str, object], key: str, where: str) -> str:
        value = self._string(obj, key, where)
        if not _EVENT_ID.fullmatch(value):
            raise _Reject(f"malformed: {where}{key} {_show(value)} is not an event id")
        self.event_id = value
        return value

    def _account(self, value: str, where: str) -> None:
        if not _ACCOUNT.fullmatch(value):
            raise _Reject(f"malformed: {where} {_show(value)} is not a 12-digit account id")
        if value != self.account:
            raise _Reject(f"another account: {value} (this service is account {self.account})")

    def _time(self, obj: Mapping[str, object], key: str, where: str) -> datetime:
        value = self._string(obj, key, where)
        try:
            if len(value) > 40:
                raise ValueError(value)
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Reject(f"malformed: {where}{key} {_show(value)} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise _Reject(f"malformed: {where}{key} {_show(value)} has no time zone")
        return moment.astimezone(UTC)

    # --- the event -----------------------------------------------------------------------------------
    def parse(self, event: object) -> EksChange | PrincipalChange | BaselineChange:
        if isinstance(event, bytes | bytearray | str):
            event = self._decode(event)
        if not isinstance(event, Mapping):
            raise _Reject(f"malformed: the event is {_kind(event)}, not a JSON object")
        if _larger_than(event, MAX_EVENT_BYTES):
            raise _Reject(f"too large: over {MAX_EVENT_BYTES} bytes of JSON (EventBridge's limit); not read")
        if "detail-type" in event or "detail" in event:
            return self._envelope(event)
        if "eventSource" in event or "eventName" in event:
            return self._record(event, where="", envelope_source=None)
        raise _Reject(
            "malformed: neither an EventBridge event (detail-type, source, detail) "
            "nor a CloudTrail record (eventSource, eventName)"
        )

    @staticmethod
    def _decode(text: bytes | bytearray | str) -> object:
        if len(text) > MAX_EVENT_BYTES or (
            isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES
        ):
            raise _Reject(f"too large: over {MAX_EVENT_BYTES} bytes of JSON (EventBridge's limit); not read")
        try:
            decoded = text if isinstance(text, str) else bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise _Reject("malformed: not UTF-8 text") from None
        try:
            return json.loads(decoded)
        except json.JSONDecodeError as exc:
            raise _Reject(f"malformed: not JSON ({exc.msg}: line {exc.lineno}, column {exc.colno})") from None
        except ValueError as exc:  # e.g. an integer too long to convert
            raise _Reject(
                f"malformed: not JSON we can read ({str(exc).split(':')[0][:_SHOWN_CHARS]})"
            ) from None

    def _envelope(self, event: Mapping[str, object]) -> EksChange | PrincipalChange | BaselineChange:
        detail_type = self._string(event, "detail-type", "")
        source = self._string(event, "source", "")
        detail = self._object(event.get("detail"), "detail")
        if "account" in event:
            self._account(self._string(event, "account", ""), "account")
        if detail_type == SSM_DETAIL_TYPE and source == SSM_SOURCE:
            return self._baseline(event, detail)
        if detail_type == CLOUDTRAIL_DETAIL_TYPE:
            return self._record(detail, where="detail.", envelope_source=source)
        raise _Reject(f"unknown event: detail-type {_show(detail_type)} from source {_show(source)}")

    # --- CloudTrail records ----------------------------------------------------------------------------
    def _record(
        self, record: Mapping[str, object], *, where: str, envelope_source: str | None
    ) -> EksChange | PrincipalChange:
        event_id = self._event_id(record, "eventID", where)
        event_source = self._string(record, "eventSource", where)
        name = self._string(record, "eventName", where)
        error = record.get("errorCode")
        if error is not None:
            shown = _show(error) if isinstance(error, str) else _kind(error)
            raise _Reject(f"failed call: {_show(name)} returned errorCode {shown} (it changed nothing)")
        read_only = record.get("readOnly")
        if read_only is not None and not isinstance(read_only, bool):
            raise _Reject(f"malformed: {where}readOnly is {_kind(read_only)}, not a boolean")
        if read_only or name.startswith(_READ_PREFIXES):
            raise _Reject(f"read-only: {_show(name)} changes nothing")
        if envelope_source is not None and envelope_source != "aws." + event_source.split(".", 1)[0]:
            raise _Reject(
                f"malformed: source {_show(envelope_source)} does not match "
                f"{where}eventSource {_show(event_source)}"
            )
        if event_source == EKS_EVENT_SOURCE:
            known = EKS_EVENT_NAMES
        elif event_source == IAM_EVENT_SOURCE:
            known = IAM_EVENT_NAMES
        else:
            raise _Reject(
                f"unknown event source: {_show(event_source)} (the guard acts on EKS and IAM calls)"
            )
        if name not in known:
            raise _Reject(f"unknown event name: {event_source} {_show(name)} is not a trigger")
        account = self._string(record, "recipientAccountId", where)
        self._account(account, f"{where}recipientAccountId")
        if event_source == EKS_EVENT_SOURCE:
            region = self._string(record, "awsRegion", where)
            if not names.is_region(region):
                raise _Reject(f"malformed: {where}awsRegion {_show(region)} is not an AWS region")
            if region != self.region:
                raise _Reject(
                    f"another region: the cluster is in {region} (this service is in {self.region})"
                )
        # IAM is global: its events say us-east-1 and reach every service region (forwarded); any is fine.
        moment = self._time(record, "eventTime", where)
        actor = self._actor(record, where)
        if actor.principal_arn is not None and self._is_self(actor.principal_arn):
            raise _Reject(f"the service's own write: {name} by {actor.principal_arn}")
        parameters = self._object(record.get("requestParameters"), f"{where}requestParameters")
        if event_source == EKS_EVENT_SOURCE:
            cluster = self._cluster(parameters, f"{where}requestParameters.")
            principal = (
                self._entry_principal(parameters, f"{where}requestParameters.")
                if name in _ENTRY_EVENTS
                else None
            )
            return EksChange(event_id, name, moment, account, region, cluster, principal, actor)
        return self._principal_change(record, parameters, event_id, name, moment, account, actor, where)

    def _is_self(self, principal_arn: str) -> bool:
        principal = principals.parse(principal_arn)
        return principal is not None and principal.key in self.self_keys

    def _actor(self, record: Mapping[str, object], where: str) -> Actor:
        identity = self._object(record.get("userIdentity"), f"{where}userIdentity")
        kind = _keep(identity.get("type"))
        arn = _keep(identity.get("arn"))
        context = identity.get("sessionContext")
        issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
        issuer_arn = _keep(issuer.get("arn")) if isinstance(issuer, Mapping) else None
        behind = issuer_arn if kind in ("AssumedRole", "FederatedUser") else arn
        if kind in ("AWSService", "AWSAccount"):
            behind = None
        principal_arn = behind if behind is not None and principals.parse(behind) is not None else None
        source_ip = _keep(record.get("sourceIPAddress")) or _keep(identity.get("invokedBy"))
        return Actor(arn, kind, principal_arn, source_ip, _keep(record.get("userAgent")))

    def _cluster(self, parameters: Mapping[str, object], where: str) -> str:
        # EKS's path parameter is `name`; some records (and replays) say `clusterName`.
        key = "clusterName" if "name" not in parameters and "clusterName" in parameters else "name"
        cluster = self._string(parameters, key, where)
        if not names.is_cluster_name(cluster):
            raise _Reject(f"malformed: {where}{key} {_show(cluster)} is not a valid EKS cluster name")
        return cluster

    def _entry_principal(self, parameters: Mapping[str, object], where: str) -> str:
        raw = self._string(parameters, "principalArn", where)
        decoded = url_decode(raw)
        if decoded is None:
            raise _Reject(f"malformed: {where}principalArn {_show(raw)} is not URL-encoded text")
        if principals.parse(decoded) is None:
            problem = principals.problem(decoded) or "not an IAM role, user or root ARN"
            if len(problem) > 3 * _SHOWN_CHARS:  # it quotes the ARN, which may be long
                problem = problem[: 3 * _SHOWN_CHARS] + "..."
            raise _Reject(f"malformed: {where}principalArn: {problem}")
        return decoded

    def _principal_change(
        self,
        record: Mapping[str, object],
        parameters: Mapping[str, object],
        event_id: str,
        name: str,
        moment: datetime,
        account: str,
        actor: Actor,
        where: str,
    ) -> PrincipalChange:
        kind: Literal["role", "user"] = "role" if name.endswith("Role") else "user"
        key = f"{kind}Name"
        principal_name = self._string(parameters, key, f"{where}requestParameters.")
        rebuilt = principals.parse(f"arn:aws:iam::{account}:{kind}/{principal_name}")
        if rebuilt is None or rebuilt.name != principal_name or rebuilt.path != "/":
            raise _Reject(
                f"malformed: {where}requestParameters.{key} {_show(principal_name)} is not an IAM {kind} name"
            )
        arn = None
        response = record.get("responseElements")
        created = response.get(kind) if isinstance(response, Mapping) else None
        if isinstance(created, Mapping) and created.get("arn") is not None:
            value = created.get("arn")
            found = principals.parse(value) if isinstance(value, str) else None
            if found is None or found.key != rebuilt.key:
                shown = _show(value) if isinstance(value, str) else _kind(value)
                raise _Reject(
                    f"malformed: {where}responseElements.{kind}.arn {shown} does not name "
                    f"{kind} {principal_name} of account {account}"
                )
            arn = found.arn
        return PrincipalChange(
            event_id, name, moment, account, kind, principal_name, name.startswith("Delete"), actor, arn
        )

    # --- SSM Parameter Store changes ---------------------------------------------------------------
    def _baseline(self, event: Mapping[str, object], detail: Mapping[str, object]) -> BaselineChange:
        event_id = self._event_id(event, "id", "")
        account = self._string(event, "account", "")
        region = self._string(event, "region", "")
        if not names.is_region(region):
            raise _Reject(f"malformed: region {_show(region)} is not an AWS region")
        if region != self.region:
            raise _Reject(f"another region: a parameter in {region} (this service is in {self.region})")
        moment = self._time(event, "time", "")
        operation = self._string(detail, "operation", "detail.")
        parameter = self._string(detail, "name", "detail.")
        root = baselines_root(self.prefix)
        if not parameter.startswith(root):
            raise _Reject(f"outside the prefix: SSM parameter {_show(parameter)} is not under {root}")
        parts = parameter[len(root) :].split("/")
        if len(parts) == 3 and parts[2] == RETIRED:
            raise _Reject(f"a retirement marker: {_show(parameter)} (the manifest's deletion is what counts)")
        if len(parts) > 2 and parts[2] == "v":
            raise _Reject(
                f"a baseline chunk: {_show(parameter)} (the manifest, written last, marks a baseline change)"
            )
        if len(parts) != 2:
            raise _Reject(
                f"malformed: detail.name {_show(parameter)} is not a baseline manifest ({root}REGION/CLUSTER)"
            )
        path_region, cluster = parts
        if not names.is_region(path_region) or not names.is_cluster_name(cluster):
            raise _Reject(
                f"malformed: detail.name {_show(parameter)} does not name a region and an EKS cluster"
            )
        if path_region != self.region:
            raise _Reject(
                f"another region: the baseline of {cluster} is for {path_region} "
                f"(this service is in {self.region})"
            )
        if operation not in _BASELINE_OPERATIONS:
            raise _Reject(f"unknown operation: Parameter Store {_show(operation)} changes no baseline")
        return BaselineChange(event_id, moment, account, region, cluster, operation, parameter)  # type: ignore[arg-type]
