"""A baseline change in access terms, its note, and admins held back for a while. Pure.

`access_diff(previous, new)` compares two baselines of one cluster: who gains and who loses cluster admin
(the safety module's definition: the admin policy at cluster scope on a STANDARD entry) first, then every
other entry added, removed or changed, then the authentication mode and the guard's settings.

`holdNewAdminsMinutes`: a change that adds a cluster admin is told at once, and the new admin waits that
long before the guard gives it (`apply_holds`: the held principal keeps its previous entry, or none), so a
bad write can be reverted before it takes effect; everything else in the change goes ahead. Break glass may
release a held admin early, with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from . import safety
from .model import AccessScope, Baseline, EntrySpec
from .policies import policy_name
from .report import Notification


@dataclass(frozen=True)
class AccessDiff:
    admins_added: tuple[str, ...] = ()
    admins_removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()  # other entries, one line each
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return (
            not (self.admins_added or self.admins_removed or self.added or self.removed or self.changed)
            and not self.settings
        )

    def lines(self) -> list[str]:
        """Admins first, then the rest; `+` gains, `-` loses, `~` changes."""
        out = [f"  + cluster admin: {arn}" for arn in self.admins_added]
        out += [f"  - cluster admin: {arn}" for arn in self.admins_removed]
        out += [f"  + {line}" for line in self.added]
        out += [f"  - {line}" for line in self.removed]
        out += [f"  ~ {line}" for line in self.changed]
        out += [f"  ~ {line}" for line in self.settings]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "adminsAdded": list(self.admins_added),
            "adminsRemoved": list(self.admins_removed),
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "settings": list(self.settings),
        }


def admins(baseline: Baseline | None) -> frozenset[str]:
    """The principals the baseline makes cluster admin (safety's definition)."""
    if baseline is None:
        return frozenset()
    return frozenset(s.principal_arn for s in safety.baseline_admins(baseline))


def _scope(scope: AccessScope) -> str:
    return "cluster" if scope.type == "cluster" else "namespace: " + ", ".join(scope.namespaces)


def _policies(spec: EntrySpec) -> set[str]:
    return {f"{policy_name(p.policy_arn)} ({_scope(p.scope)})" for p in spec.policies}


def _entry(spec: EntrySpec) -> str:
    parts = [spec.type]
    if spec.username is not None:
        parts.append(f"username {spec.username}")
    if spec.kubernetes_groups:
        parts.append("groups [" + ", ".join(spec.kubernetes_groups) + "]")
    parts += sorted(_policies(spec))
    return f"{spec.principal_arn} ({'; '.join(parts)})"


def _entry_change(before: EntrySpec, after: EntrySpec) -> str:
    what = []
    if before.type != after.type:
        what.append(f"type {before.type} -> {after.type}")
    if before.username != after.username:
        what.append(f"username {before.username or '(generated)'} -> {after.username or '(generated)'}")
    if set(before.kubernetes_groups) != set(after.kubernetes_groups):
        gained = sorted(set(after.kubernetes_groups) - set(before.kubernetes_groups))
        lost = sorted(set(before.kubernetes_groups) - set(after.kubernetes_groups))
        what += [f"+group {g}" for g in gained] + [f"-group {g}" for g in lost]
    gained_p, lost_p = _policies(after) - _policies(before), _policies(before) - _policies(after)
    what += [f"+policy {p}" for p in sorted(gained_p)] + [f"-policy {p}" for p in sorted(lost_p)]
    return f"{after.principal_arn}: {', '.join(what)}"


def access_diff(previous: Baseline | None, new: Baseline) -> AccessDiff:
    """What `new` changes in access compared with `previous` (None: everything `new` asks is new)."""
    before = {s.principal_arn: s for s in previous.entries} if previous else {}
    after = {s.principal_arn: s for s in new.entries}
    was, now = admins(previous), admins(new)
    added = [_entry(after[a]) for a in sorted(after) if a not in before and a not in now]
    removed = [_entry(before[a]) for a in sorted(before) if a not in after and a not in was]
    changed = [
        _entry_change(before[a], after[a]) for a in sorted(set(before) & set(after)) if before[a] != after[a]
    ]
    settings = []
    if previous is not None:
        if previous.authentication_mode != new.authentication_mode:
            settings.append(
                f"authentication mode {previous.authentication_mode} -> {new.authentication_mode}"
            )
        old, fresh = previous.settings, new.settings
        for name, a, b in (
            ("mode", old.mode, fresh.mode),
            ("prune", old.prune, fresh.prune),
            ("maxDeletions", old.max_deletions, fresh.max_deletions),
            ("keep", old.keep, fresh.keep),
            ("breakGlass.maxMinutes", old.break_glass_max_minutes, fresh.break_glass_max_minutes),
        ):
            if a != b:
                settings.append(f"accessGuard.{name} {a!r} -> {b!r}")
    return AccessDiff(
        admins_added=tuple(sorted(now - was)),
        admins_removed=tuple(sorted(was - now)),
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        settings=tuple(settings),
    )


# --- holding new admins -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """A new cluster admin the guard does not give before `until` (unless released)."""

    principal_arn: str
    until: datetime
    previous: EntrySpec | None  # what the principal had before the change (None: no entry)
    released_by: str | None = None
    reason: str | None = None

    def active(self, now: datetime) -> bool:
        return self.released_by is None and now < self.until


@dataclass(frozen=True)
class Holds:
    by_principal: Mapping[str, Hold] = field(default_factory=dict)

    def active(self, now: datetime) -> list[Hold]:
        return [h for h in self.by_principal.values() if h.active(now)]


def holds_for(diff: AccessDiff, previous: Baseline | None, *, minutes: int, noted_at: datetime) -> Holds:
    """The holds a change makes: each admin it adds waits `minutes` after the note (0: none). A first
    baseline holds nobody: there is no earlier one to keep to."""
    if minutes <= 0 or previous is None or not diff.admins_added:
        return Holds()
    before = {s.principal_arn: s for s in previous.entries}
    until = noted_at + timedelta(minutes=minutes)
    return Holds({a: Hold(a, until, before.get(a)) for a in diff.admins_added})


def apply_holds(baseline: Baseline, holds: Holds, now: datetime) -> Baseline:
    """The baseline to enforce now: each actively held principal keeps what it had before the change."""
    active = {h.principal_arn: h for h in holds.active(now)}
    if not active:
        return baseline
    entries = []
    for spec in baseline.entries:
        hold = active.get(spec.principal_arn)
        if hold is None:
            entries.append(spec)
        elif hold.previous is not None:
            entries.append(hold.previous)
    return replace(baseline, entries=tuple(entries))


def release(holds: Holds, principal_arn: str | None, *, by: str, reason: str) -> tuple[Holds, list[str]]:
    """Release one held admin (or every one: None); the new holds and the principals released."""
    released = []
    updated = dict(holds.by_principal)
    for arn, hold in holds.by_principal.items():
        if hold.released_by is None and (principal_arn is None or arn == principal_arn):
            updated[arn] = replace(hold, released_by=by, reason=reason)
            released.append(arn)
    return Holds(updated), released


# --- the note ------------------------------------------------------------------------------------------


def change_note(
    cluster: str,
    region: str,
    *,
    writer: str | None,
    diff: AccessDiff,
    holds: Holds,
    first: bool,
) -> Notification:
    """The note of a baseline change: who wrote it, who gains or loses cluster admin, then the rest."""
    who = writer or "unknown (SSM did not say)"
    headline = "baseline stored" if first else "baseline changed"
    lines = [f"Cluster {cluster} ({region}): {headline}.", "", f"Written by: {who}"]
    if diff.empty:
        lines += ["", "No change in access."]
    else:
        lines += ["", "What it changes in access (cluster admins first):", *diff.lines()]
    held = sorted(holds.by_principal.values(), key=lambda h: h.principal_arn)
    if held:
        lines += ["", "Held back (new cluster admins wait before the guard gives them):"]
        lines += [
            f"  {h.principal_arn} until {h.until.isoformat()} (release early: access-guard breakglass "
            f"release-admin {cluster} --principal {h.principal_arn} --reason ...)"
            for h in held
        ]
    if diff.admins_added:
        lines += ["", "If this change is not expected, revert the baseline now."]
    document = {
        "kind": "baseline-change",
        "cluster": cluster,
        "region": region,
        "writer": writer,
        "first": first,
        "diff": diff.to_json(),
        "held": [{"principalArn": h.principal_arn, "until": h.until.isoformat()} for h in held],
    }
    subject = f"[{cluster}] {headline}" + (
        f": {len(diff.admins_added)} new cluster admin(s)" if diff.admins_added else ""
    )
    return Notification("baseline-change", cluster, subject, "\n".join(lines) + "\n", document)
