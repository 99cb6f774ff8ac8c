"""`access-guard history --cluster C [--since 24h] [--kind K]`: what happened to a cluster, newest first.

The audit trail, read through the break-glass API (`GET /audit`, signed like every on-call call): every
break-glass call, every remediation and sweep run that found something, every grant's end and every
refusal, each with who did it (per CloudTrail, for the changes the guard answered) and the event's id.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.breakglass import AUDIT_KINDS, AUDIT_PAGE_MAX
from . import breakglass

DEFAULT_LIMIT = 50
WHAT_WIDTH = 90  # the WHAT column on a terminal; --json has every record in full
_SPAN = re.compile(r"^(?P<n>\d+)(?P<unit>[mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    from .main import add_cluster, command_parser

    history = command_parser(
        commands,
        "history",
        "what the guard and the on-call engineers did to a cluster, newest first",
        [common],
        "access-guard history --cluster payments --since 24h",
        "access-guard history --cluster payments --kind remediation --json",
    )
    add_cluster(history)
    history.add_argument(
        "--since",
        type=since,
        help="how far back: 30m, 24h, 7d, or a time (2026-11-23T22:00:00Z); default: all",
    )
    history.add_argument("--kind", choices=AUDIT_KINDS, help="only records of this kind")
    history.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        help=f"at most this many records (default {DEFAULT_LIMIT})",
    )


def since(text: str, now: datetime | None = None) -> datetime:
    """`24h` (that long ago) or an ISO 8601 time with its zone."""
    found = _SPAN.match(text.strip())
    if found:
        span = timedelta(**{_UNITS[found["unit"]]: int(found["n"])})
        return (now or datetime.now(UTC)) - span
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not 30m, 24h, 7d or a time like 2026-11-23T22:00:00Z: {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"say the time zone (Z for UTC): {text!r}")
    return moment


def _limit(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000: {text!r}")
    return int(text)


def run(args: argparse.Namespace, settings: Any, io: Any) -> int:
    args.breakglass_command = "history"
    return breakglass.run(args, settings, io, actions={"history": _history})


def _history(api: Any, args: argparse.Namespace, io: Any) -> int:
    records: list[dict[str, Any]] = []
    token: str | None = None
    while len(records) < args.limit:
        query = {"cluster": args.cluster, "limit": str(min(AUDIT_PAGE_MAX, args.limit - len(records)))}
        if args.since is not None:
            query["since"] = args.since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if args.kind:
            query["kind"] = args.kind
        if token:
            query["next"] = token
        result = api.call("GET", "/audit", query=query)
        if not result.ok:
            short = breakglass.status_word(result.status)
            raise breakglass.Failure(f"{result.status} {short}: {result.message or 'no message'}")
        records += result.body["records"]
        token = result.body.get("next")
        if not token:
            break
    if args.json:
        io.print(json.dumps({"cluster": args.cluster, "records": records}, indent=2))
        return breakglass.EXIT_OK
    if not records:
        io.print(f"Nothing recorded for {args.cluster}" + (" in that time." if args.since else "."))
        return breakglass.EXIT_OK
    rows = [("AT", "KIND", "OUTCOME", "WHO", "EVENT", "WHAT")]
    for r in records:
        who = r.get("actor") or r.get("caller") or "-"
        what = r.get("detail") or ""
        if r.get("reason") and r.get("kind") in ("break-glass", "refusal"):
            what = f"{r['action']}: {r['reason']}: {what}"
        rows.append(
            (
                breakglass.short_time(r["at"]),
                r.get("kind") or "-",
                r.get("outcome") or "-",
                who,
                r.get("eventId") or "-",
                what if len(what) <= WHAT_WIDTH else what[: WHAT_WIDTH - 3] + "...",
            )
        )
    io.print(breakglass.table(rows))
    if token:
        io.print(f"More: --limit {args.limit * 2}, or --since, or --json for the records in full.")
    return breakglass.EXIT_OK
