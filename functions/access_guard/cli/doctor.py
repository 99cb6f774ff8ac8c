"""`access-guard doctor [--region R] [--json]`: is this account ready for the guard, and is it working?

Read-only checks of what a deploy cannot verify (services/doctor.py), each PASS, WARN or FAIL with one line
of why and the fix. Exit 0 when nothing fails (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ..core.doctor import exit_code

MARKS = {"PASS": "PASS", "WARN": "WARN", "FAIL": "FAIL"}


def add_parser(commands: Any, common: argparse.ArgumentParser, parser_class: type[Any]) -> None:
    from .main import command_parser

    doctor = command_parser(
        commands,
        "doctor",
        "check what a deploy cannot: trail, stack, logging role, layer, subscribers, the event path "
        "(read-only; the canary is the one event it puts; exit 0 when nothing fails, 1 otherwise)",
        [common],
        "access-guard doctor --region eu-west-1",
        "access-guard doctor --json",
    )
    doctor.add_argument(
        "--canary-seconds", type=float, default=None, help="how long to wait for the canary (default 90)"
    )


def run(args: argparse.Namespace, settings: Any, io: Any) -> int:
    from ..adapters.clients import client
    from ..services.doctor import DEFAULT_CANARY_WAIT_SECONDS, Doctor
    from .progress import Progress, on_terminal

    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        io.err.write("error: no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION\n")
        return 1

    def client_for(service: str, in_region: str) -> Any:
        return client(service, region=in_region, endpoint_url=settings.endpoint_url, profile=settings.profile)

    wait = args.canary_seconds if args.canary_seconds is not None else DEFAULT_CANARY_WAIT_SECONDS
    terminal = on_terminal(io.err, json_output=bool(args.json))
    with Progress(io.err, enabled=terminal, label=f"doctor {region}") as progress:
        checks = Doctor(
            client_for,
            region,
            canary_wait_seconds=wait,
            on_check=lambda name, number, total: progress.at(f"checking {name} ({number} of {total})"),
        ).run()
    code = exit_code(checks)
    if args.json:
        document = {"region": region, "ok": code == 0, "checks": [c.to_json() for c in checks]}
        io.out.write(json.dumps(document, indent=2) + "\n")
        return code
    width = max(len(c.name) for c in checks)
    for check in checks:
        io.out.write(f"{MARKS[check.status]}  {check.name:<{width}}  {check.why}\n")
        if check.status != "PASS" and check.fix:
            io.out.write(f"      {'':<{width}}  fix: {check.fix}\n")
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "WARN" for c in checks)
    io.out.write(f"{region}: {failed} failed, {warned} warning(s), {len(checks) - failed - warned} passed\n")
    return code
