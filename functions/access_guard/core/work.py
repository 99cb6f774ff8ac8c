"""Work items: one cluster to reconcile (whole, or just some principals' entries), and why.

The intake turns each event into work items and queues them on the FIFO work queue, grouped by cluster
(`group_id`: one cluster is never remediated by two invocations at once) and deduplicated per event and
cluster (`dedup_id`: an event delivered twice is queued once). The remediate handler reads them back with
`WorkItem.from_json`, which checks every field: a message it cannot trust is an error, never a guess.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from . import names, principals, text
from .events import BaselineChange, EksChange, Ignored, PrincipalChange
from .report import Trigger

TRIGGERS: tuple[str, ...] = (
    "event",
    "baseline",
    "principal",
    "sweep",
    "restore",
    "expiry",
    "continue",
    "cluster-created",
)
MAX_PRINCIPALS = 1000  # a message stays far below SQS's 256 KB
MAX_TEXT = 2000  # reason and actor, characters
_TOKEN = re.compile(r"[\x21-\x7e]{1,128}")  # event ids: printable ASCII, no spaces (SQS-safe, log-safe)


class WorkItemError(ValueError):
    """A work item (or a queued message) that is not valid; the message says every problem."""


@dataclass(frozen=True)
class WorkItem:
    cluster: str
    region: str
    principals: tuple[str, ...] | None  # None: the whole cluster; else just these principals' entries
    trigger: str  # one of TRIGGERS
    event_id: str  # the CloudTrail eventID (or the SSM event's id, or the sweep's run id, ...)
    event_name: str
    event_time: str  # ISO 8601, UTC
    actor: str | None  # who made the change, per CloudTrail (an ARN), if anyone
    reason: str  # one human line

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise WorkItemError("invalid work item: " + "; ".join(problems))
        if self.principals is not None:
            object.__setattr__(self, "principals", tuple(sorted(set(self.principals))))

    @property
    def group_id(self) -> str:
        """The FIFO message group: one cluster. Region (at most 25 characters) and cluster name (at most
        100) use only characters SQS allows in a group id, which may be 128 long."""
        return f"{self.region}/{self.cluster}"

    @property
    def dedup_id(self) -> str:
        """The FIFO deduplication id: the same event, cluster and principals give the same id."""
        key = [self.event_id, self.region, self.cluster, list(self.principals) if self.principals else None]
        return hashlib.sha256(json.dumps(key, separators=(",", ":")).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["principals"] = list(self.principals) if self.principals is not None else None
        return out

    @staticmethod
    def from_json(obj: object) -> WorkItem:
        """A WorkItem from `to_json`'s object (or its JSON text); WorkItemError saying what is wrong."""
        if isinstance(obj, str | bytes | bytearray):
            try:
                obj = json.loads(obj)
            except (ValueError, RecursionError) as exc:
                raise WorkItemError(f"invalid work item: not JSON ({str(exc)[:200]})") from None
        if not isinstance(obj, Mapping):
            raise WorkItemError(f"invalid work item: expected an object, got {type(obj).__name__}")
        expected = [f.name for f in fields(WorkItem)]
        problems = [f"{name} is missing" for name in expected if name not in obj]
        unknown = sorted(str(k) for k in obj if k not in expected)
        if unknown:
            problems.append("unknown field(s) " + ", ".join(unknown)[:200])
        if problems:
            raise WorkItemError("invalid work item: " + "; ".join(problems))
        values = {name: obj[name] for name in expected}
        if isinstance(values["principals"], list):
            values["principals"] = tuple(values["principals"])
        return WorkItem(**values)


def _problems(item: WorkItem) -> list[str]:
    problems: list[str] = []
    if not names.is_cluster_name(item.cluster):
        problems.append(f"cluster {_show(item.cluster)} is not an EKS cluster name")
    if not names.is_region(item.region):
        problems.append(f"region {_show(item.region)} is not an AWS region")
    if item.principals is not None:
        if not isinstance(item.principals, tuple):
            problems.append(
                f"principals must be a list of ARNs or null, got {type(item.principals).__name__}"
            )
        elif not item.principals:
            problems.append("principals is empty (null means the whole cluster)")
        elif len(item.principals) > MAX_PRINCIPALS:
            problems.append(f"principals has {len(item.principals)} ARNs (at most {MAX_PRINCIPALS})")
        else:
            bad = [p for p in item.principals if not isinstance(p, str) or principals.parse(p) is None]
            if bad:
                problems.append(f"principals: {_show(bad[0])} is not an IAM role, user or root ARN")
    if item.trigger not in TRIGGERS:
        problems.append(f"trigger {_show(item.trigger)} is not one of {', '.join(TRIGGERS)}")
    if not isinstance(item.event_id, str) or not _TOKEN.fullmatch(item.event_id):
        problems.append(f"event_id {_show(item.event_id)} is not 1-128 printable characters without spaces")
    if not _line(item.event_name, 128):
        problems.append(f"event_name {_show(item.event_name)} is not one line of 1-128 characters")
    if not _utc_time(item.event_time):
        problems.append(f"event_time {_show(item.event_time)} is not an ISO 8601 time in UTC")
    if item.actor is not None and not _line(item.actor, MAX_TEXT):
        problems.append(f"actor {_show(item.actor)} is not one line of 1-{MAX_TEXT} characters")
    if not _line(item.reason, MAX_TEXT):
        problems.append(f"reason {_show(item.reason)} is not one line of 1-{MAX_TEXT} characters")
    return problems


def _show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:80] + "..."


def _line(value: object, limit: int) -> bool:
    # no line breaks, separators or format characters (core.text), so it stays one log line
    return isinstance(value, str) and 0 < len(value) <= limit and text.is_one_line(value)


def one_line(value: str, limit: int = MAX_TEXT) -> str:
    """`value` made a valid reason: characters that would break a line escaped, cut to `limit`."""
    value = text.escape(value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _utc_time(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def iso_utc(moment: datetime) -> str:
    """`2026-11-23T22:14:38Z` (with microseconds when the time has them)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- intents -> work ------------------------------------------------------------------------------------


def work_for(intent: EksChange | BaselineChange | Ignored) -> list[WorkItem]:
    """The work an EKS change or a baseline change asks for (none for a deleted baseline or an ignored
    event). A PrincipalChange needs to know which clusters reference the principal: `principal_work`."""
    if isinstance(intent, EksChange):
        who = intent.actor.describe()
        if intent.principal_arn is not None:
            reason = f"{intent.event_name} of {intent.principal_arn} on {intent.cluster} by {who}"
        else:
            reason = f"{intent.event_name} of cluster {intent.cluster} by {who}"
        return [
            WorkItem(
                cluster=intent.cluster,
                region=intent.region,
                principals=(intent.principal_arn,) if intent.principal_arn is not None else None,
                # a cluster created under a managed name gets its baseline, as the CONFIG_MAP recovery does
                trigger="cluster-created" if intent.event_name == "CreateCluster" else "event",
                event_id=intent.event_id,
                event_name=intent.event_name,
                event_time=iso_utc(intent.event_time),
                actor=_actor(intent.actor.arn or intent.actor.principal_arn),
                reason=one_line(reason),
            )
        ]
    if isinstance(intent, BaselineChange):
        if intent.operation == "Delete":
            return []
        done = "created" if intent.operation == "Create" else "updated"
        return [
            WorkItem(
                cluster=intent.cluster,
                region=intent.region,
                principals=None,
                trigger="baseline",
                event_id=intent.event_id,
                event_name=f"Parameter Store Change: {intent.operation}",
                event_time=iso_utc(intent.event_time),
                actor=None,
                reason=f"baseline of {intent.cluster} ({intent.region}) {done}: {intent.parameter}",
            )
        ]
    if isinstance(intent, Ignored):
        return []
    raise TypeError(f"work_for takes an EksChange or a BaselineChange, not {type(intent).__name__}")


def _actor(arn: str | None) -> str | None:
    return one_line(arn) if arn else None


def principal_work(
    change: PrincipalChange, *, cluster: str, region: str, principal_arns: tuple[str, ...] | None
) -> WorkItem:
    """The work a principal's deletion or creation asks of one cluster: its entries for `principal_arns`
    (the ARNs, with paths, that the cluster's baseline or entries hold), or the whole cluster (None: a
    CONFIG_MAP cluster whose invisible creator may be who was deleted)."""
    who = change.actor.describe()
    what = f"{change.event_name} of {change.kind} {change.name} by {who}"
    if principal_arns is None:
        reason = (
            f"{what}: {cluster} is in CONFIG_MAP mode, where its creator may have been {change.kind} "
            f"{change.name}; reconciling the whole cluster"
        )
    else:
        reason = f"{what}: {cluster} references {', '.join(sorted(set(principal_arns)))}"
    return WorkItem(
        cluster=cluster,
        region=region,
        principals=principal_arns,
        trigger="principal",
        event_id=change.event_id,
        event_name=change.event_name,
        event_time=iso_utc(change.event_time),
        actor=_actor(change.actor.arn or change.actor.principal_arn),
        reason=one_line(reason),
    )


# --- the sweep's work -----------------------------------------------------------------------------------

# The sweep's two tiers, named in its work items' event_name: the list check runs every sweep (a few paged
# list calls a cluster; entries read in full only where they differ), the full read on a slower schedule
# (what the lists cannot show: usernames, Kubernetes groups, access scopes).
SWEEP_CHECK = "Sweep: list check"
SWEEP_FULL = "Sweep: full read"
SWEEP_TIERS = {"check": SWEEP_CHECK, "full": SWEEP_FULL}


def sweep_work(cluster: str, region: str, *, tier: str, run_id: str, at: datetime) -> WorkItem:
    """One cluster's share of a sweep (`tier`: "check" or "full"), queued like any other work item."""
    if tier not in SWEEP_TIERS:
        raise WorkItemError(f"invalid work item: sweep tier {tier!r} is not one of {', '.join(SWEEP_TIERS)}")
    return WorkItem(
        cluster=cluster,
        region=region,
        principals=None,
        trigger="sweep",
        event_id=f"sweep-{run_id}",
        event_name=SWEEP_TIERS[tier],
        event_time=iso_utc(at),
        actor=None,
        reason=f"the scheduled sweep ({tier}) of {cluster}",
    )


# --- flood resistance -----------------------------------------------------------------------------------

# CloudTrail's eventTime has whole seconds (the change may be up to 1 s later than it says), and clocks
# differ a little: a verification settles an event only when it started this much after the event's time.
VERIFIED_MARGIN_SECONDS = 2.0
SETTLED_TRIGGERS = ("event", "principal")  # work about a change that a later run will have seen
COALESCED_TRIGGERS = ("event", "principal", "baseline")  # work one run of its cluster can do for all


def settled_by(item: WorkItem, verified: Mapping[str | None, float]) -> bool:
    """Whether a run that started after this item's change already found its cluster (key None) or its
    principals at their desired state: `verified` holds those runs' start times (epoch seconds)."""
    if item.trigger not in SETTLED_TRIGGERS:
        return False
    changed = datetime.fromisoformat(item.event_time).timestamp() + VERIFIED_MARGIN_SECONDS
    whole = verified.get(None)
    if item.principals is None:
        return whole is not None and whole > changed
    floor = whole if whole is not None else float("-inf")
    return all(max(verified.get(p, float("-inf")), floor) > changed for p in item.principals)


def coalesce(items: list[WorkItem]) -> dict[str, tuple[str, ...] | None]:
    """One run per cluster for a batch's items (by group id): the union of their principals, or None (the
    whole cluster) when any of them asks for it. Items of other triggers are left out."""
    runs: dict[str, tuple[str, ...] | None] = {}
    for item in items:
        if item.trigger not in COALESCED_TRIGGERS:
            continue
        if item.group_id in runs and runs[item.group_id] is None:
            continue
        if item.principals is None:
            runs[item.group_id] = None
        else:
            runs[item.group_id] = tuple(sorted({*(runs.get(item.group_id) or ()), *item.principals}))
    return runs


def changes_of(items: Iterable[WorkItem]) -> tuple[tuple[str, str | None], ...]:
    """Who changed which principal's entries, per the EKS events among `items` (the latest event of a
    principal names it). Other work (an IAM principal made or deleted, a baseline, the sweep) makes no
    entry, so it names nobody."""
    made: dict[str, str | None] = {}
    for item in sorted(items, key=lambda i: _moment(i.event_time)):
        if item.trigger == "event" and item.principals:
            made.update(dict.fromkeys(item.principals, item.actor))
    return tuple(sorted(made.items()))


def trigger_of(item: WorkItem, batch: Iterable[WorkItem] = ()) -> Trigger:
    """The trigger of `item`'s run; a coalesced run does the work of its cluster's items in `batch` too,
    so it carries their changes as well."""
    mine = [item]
    if item.trigger in COALESCED_TRIGGERS:
        mine += [i for i in batch if i.group_id == item.group_id and i.trigger in COALESCED_TRIGGERS]
    return Trigger(
        kind=item.trigger,
        reason=item.reason,
        event_id=item.event_id,
        event_time=datetime.fromisoformat(item.event_time),
        actor=item.actor,
        changes=changes_of(mine),
    )


def merge_work(items: list[WorkItem]) -> list[WorkItem]:
    """A batch's work, once: items for the same cluster and principals (duplicates, or a flood of changes
    to one entry) become the latest of them (the latest event time, so no verification settles it early;
    one run after all of their changes does what each would). First-seen order is kept."""
    latest: dict[tuple[str, tuple[str, ...] | None, str], WorkItem] = {}
    for item in items:
        key = merge_key(item)
        held = latest.get(key)
        if held is None or _moment(item.event_time) >= _moment(held.event_time):
            latest[key] = item
    return list(latest.values())


def merge_key(item: WorkItem) -> tuple[str, tuple[str, ...] | None, str]:
    """Items with the same key are merged by `merge_work`."""
    return (item.group_id, item.principals, item.trigger)


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)
