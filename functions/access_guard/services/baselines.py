"""Trusted baselines: the one way the guard's services read a baseline when the deployment names its key.

`TrustedBaselines` is the baseline store (the Enforcer, break glass and the sweep read through it) plus
the trust boundary's policy:

- A baseline with any parameter that is not a SecureString under the baseline key is refused (the adapter
  says which, and who wrote it). Each refused write is alerted once (`BaselineRejected` metric, one note
  naming the parameter, its type or key, and its writer). The cluster stays as it is: the guard keeps
  enforcing the last baseline it trusted (its copy in the state table), or, with none, does nothing.
- A trusted baseline that differs from the last one is told before it is used: who wrote it and its access
  diff, cluster admins first. With `holdNewAdminsMinutes`, the admins it adds wait that long after the note
  (they keep what they had before); break glass may release them early, with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ..adapters.baseline_store import BaselineRejected, BaselineStore, BaselineUnreadable
from ..adapters.notifier import Notifier
from ..adapters.trusted_copies import TrustedCopies, TrustedCopy
from ..core import baseline as baseline_mod
from ..core.changes import Hold, Holds, access_diff, admins, apply_holds, change_note, holds_for, release
from ..core.config import Metrics
from ..core.model import Baseline, EntrySpec
from ..core.report import Notification, alert_note

MetricFn = Callable[[str, float, str], None]
log = logging.getLogger(__name__)


class TrustedBaselines(BaselineStore):
    def __init__(
        self,
        ssm_client: Any,
        *,
        prefix: str,
        trusted_key_arn: str,
        copies: TrustedCopies | None = None,
        notifier: Notifier | None = None,
        metric: MetricFn | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hold_new_admins_minutes: int = 0,
    ) -> None:
        super().__init__(ssm_client, prefix=prefix, trusted_key_arn=trusted_key_arn)
        self.copies = copies
        self.notifier = notifier
        self.metric = metric or (lambda name, value, unit: None)
        self.clock = clock
        self.hold_minutes = hold_new_admins_minutes
        self.notes: list[Notification] = []  # what this store told (tests, the CLI)

    # --- reading -----------------------------------------------------------------------------------------
    def get(self, cluster: str, region: str) -> Baseline:
        """The baseline to enforce now (holds applied). Raises BaselineRejected (after its alert) when the
        stored one is untrusted and no trusted copy is kept; BaselineNotFound / BaselineUnreadable too."""
        now = self.clock()
        try:
            stored = self.read(cluster, region)
        except BaselineRejected as exc:
            copy = self.copies.get(cluster, region) if self.copies is not None else None
            self._rejected(exc, copy)
            if copy is None:
                raise
            kept = self._validated(cluster, region, copy.text)
            return apply_holds(kept, _holds(copy), now)
        if self.copies is None:
            return stored.baseline
        copy = self.copies.get(cluster, region)
        if copy is None or copy.sha256 != stored.sha256:
            copy = self._changed(stored.baseline, stored.text, stored.sha256, stored.writer, copy, now)
        if copy.sha256 != stored.sha256:
            return stored.baseline
        return apply_holds(stored.baseline, _holds(copy), now)

    def _changed(
        self,
        baseline: Baseline,
        text: str,
        sha256: str,
        writer: str | None,
        copy: TrustedCopy | None,
        now: datetime,
    ) -> TrustedCopy:
        assert self.copies is not None
        previous = None
        if copy is not None:
            try:
                previous = self._validated(baseline.cluster, baseline.region, copy.text)
            except BaselineUnreadable:
                previous = None
        diff = access_diff(previous, baseline)
        holds = holds_for(diff, previous, minutes=self.hold_minutes, noted_at=now)
        # an admin still held by an earlier change stays held (with what it had before that change)
        still_admins = admins(baseline)
        carried = {
            h.principal_arn: h
            for h in (_holds(copy).active(now) if copy is not None else [])
            if h.principal_arn in still_admins and h.principal_arn not in holds.by_principal
        }
        holds = Holds({**holds.by_principal, **carried})
        new = TrustedCopy(
            cluster=baseline.cluster,
            region=baseline.region,
            text=text,
            sha256=sha256,
            writer=writer,
            noted_at=now,
            previous_text=copy.text if copy is not None else None,
            holds=_holds_json(holds),
        )
        if not self.copies.save(new, replacing=copy.sha256 if copy is not None else None):
            return self.copies.get(baseline.cluster, baseline.region) or new  # another reader told it
        note = change_note(
            baseline.cluster, baseline.region, writer=writer, diff=diff, holds=holds, first=copy is None
        )
        self._publish(note)
        return new

    def _rejected(self, exc: BaselineRejected, copy: TrustedCopy | None) -> None:
        fingerprint = ";".join(sorted(f"{u.parameter}@{u.version}" for u in exc.untrusted))
        if self.copies is not None and not self.copies.first_rejection(exc.cluster, exc.region, fingerprint):
            return  # this write was alerted already
        self.metric(Metrics.BASELINE_REJECTED, 1, "Count")
        if copy is not None:
            kept = (
                f"The guard keeps enforcing the last trusted baseline (written by {copy.writer or 'unknown'},"
                f" noted {copy.noted_at.isoformat()})."
            )
        else:
            kept = "No trusted baseline is known for this cluster: the guard changes nothing on it."
        detail = "\n".join(
            [
                "Refused (never applied): a baseline parameter that is not a SecureString under the "
                "deployment's baseline key was not written by a baseline writer.",
                *(f"  - {u.line()}" for u in exc.untrusted),
                kept,
                "Find the writer in CloudTrail (PutParameter), then push the intended baseline again with "
                "`access-guard baseline push` as a baseline writer.",
            ]
        )
        self._publish(
            alert_note(
                exc.cluster,
                exc.region,
                "baseline refused: not from a baseline writer",
                detail,
                rejected=[
                    {"parameter": u.parameter, "found": u.found, "writer": u.writer} for u in exc.untrusted
                ],
            )
        )

    # --- holds -------------------------------------------------------------------------------------------
    def held(self, cluster: str, region: str) -> list[Hold]:
        """The admins held back now on this cluster."""
        copy = self.copies.get(cluster, region) if self.copies is not None else None
        return [] if copy is None else _holds(copy).active(self.clock())

    def release(
        self, cluster: str, region: str, principal_arn: str | None, *, by: str, reason: str
    ) -> list[str]:
        """Release a held admin (or all: None) early; the principals released (empty: none was held)."""
        if self.copies is None:
            return []
        copy = self.copies.get(cluster, region)
        if copy is None:
            return []
        holds, released = release(_holds(copy), principal_arn, by=by, reason=reason)
        released = [a for a in released if holds.by_principal[a].until > self.clock()]
        if not released:
            return []
        updated = TrustedCopy(
            cluster=copy.cluster,
            region=copy.region,
            text=copy.text,
            sha256=copy.sha256,
            writer=copy.writer,
            noted_at=copy.noted_at,
            previous_text=copy.previous_text,
            holds=_holds_json(holds),
        )
        if not self.copies.save(updated, replacing=copy.sha256):
            return []
        return released

    def _publish(self, note: Notification) -> None:
        self.notes.append(note)
        if self.notifier is not None:
            try:
                self.notifier.publish(note)
            except Exception:  # the note is also logged; reading the baseline goes on
                log.exception(f"the note {note.subject!r} was not published")
        log.warning(note.text)


def _holds_json(holds: Holds) -> dict[str, dict[str, Any]]:
    return {
        arn: {
            "until": h.until.isoformat(),
            "releasedBy": h.released_by,
            "reason": h.reason,
            "previous": _entry_json(h.previous),
        }
        for arn, h in holds.by_principal.items()
    }


def _holds(copy: TrustedCopy) -> Holds:
    return Holds(
        {
            arn: Hold(
                principal_arn=arn,
                until=datetime.fromisoformat(h["until"]),
                previous=_entry_of(h.get("previous")),
                released_by=h.get("releasedBy"),
                reason=h.get("reason"),
            )
            for arn, h in (copy.holds or {}).items()
        }
    )


# A held principal's entry before the change, kept as a one-entry baseline document (the document's own form).
_HOLDER = Baseline(cluster="held", region="us-east-1", authentication_mode=None, entries=())


def _entry_json(spec: EntrySpec | None) -> dict[str, Any] | None:
    return None if spec is None else baseline_mod.to_document(replace(_HOLDER, entries=(spec,)))


def _entry_of(doc: Any) -> EntrySpec | None:
    if not doc:
        return None
    return baseline_mod.from_document(doc).entries[0]
