"""`access-guard breakglass ...`: the on-call CLI of the break-glass API.

    access-guard breakglass clusters
    access-guard breakglass drift --cluster C
    access-guard breakglass restore --cluster C --reason R [--dry-run]
    access-guard breakglass grant --cluster C --policy P [--namespaces N,...] --minutes M --reason R
                                  [--principal ARN]
    access-guard breakglass grants --cluster C
    access-guard breakglass revoke --cluster C GRANT_ID --reason R
    access-guard breakglass audit [--cluster C] [--limit N] [--next TOKEN]
    access-guard breakglass release-admin --cluster C --reason R [--principal ARN]

The cluster may also be given positionally, first (`drift C`, `revoke C GRANT_ID`): the older form.

Requests are signed with SigV4 from the caller's AWS credentials (the default chain, or --profile). The API
is at --api-url, else $ACCESS_GUARD_API_URL, else the ApiUrl output of the region's deployed stack. Exit
codes: 0 ok, 1 error (the API's message on one line), 2 drift (drift), 3 done but not all the way (a
restore that did not reach the baseline, a revocation still pending), 130 interrupted. --json prints the
API's answer as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..core.breakglass import API_URL_ENV, SERVICE_STACK_NAME

EXIT_OK, EXIT_ERROR, EXIT_DRIFT, EXIT_PARTLY = 0, 1, 2, 3
_STATUS = {400: "bad request", 403: "forbidden", 404: "not found", 409: "conflict", 413: "too large"}
_STATUS.update({429: "too many requests", 500: "failed", 502: "bad gateway", 504: "timed out"})


def add_parser(commands: Any, common: argparse.ArgumentParser, parser_class: type[Any]) -> None:
    from .main import add_cluster, command_parser

    bg = commands.add_parser(
        "breakglass",
        parents=[common],
        help="on call: restore a cluster, take temporary access, read the audit trail",
        description="On call: the break-glass API, signed with your AWS credentials (SigV4). The API is at "
        f"--api-url, else ${API_URL_ENV}, else the ApiUrl output of the region's deployed stack.",
    )
    sub = bg.add_subparsers(dest="breakglass_command", metavar="ACTION", parser_class=parser_class)
    sub.required = True
    parents = [common]
    c = "--cluster payments"
    command_parser(
        sub,
        "clusters",
        "the managed clusters, their mode, drift and unmanaged admins",
        parents,
        "access-guard breakglass clusters",
    )
    drift = command_parser(
        sub,
        "drift",
        "a cluster's drift from its baseline, as a plan",
        parents,
        f"access-guard breakglass drift {c}",
    )
    add_cluster(drift, alias=True)
    restore = command_parser(
        sub,
        "restore",
        "bring a cluster back to its baseline now",
        parents,
        f'access-guard breakglass restore {c} --reason "INC-7: platform admins locked out"',
        f'access-guard breakglass restore {c} --reason "INC-7" --dry-run',
    )
    add_cluster(restore, alias=True)
    restore.add_argument("--reason", required=True, help="why (an incident, a ticket): recorded and told")
    restore.add_argument("--dry-run", action="store_true", help="show what it would do; change nothing")
    grant = command_parser(
        sub,
        "grant",
        "temporary access that ends on its own",
        parents,
        f"access-guard breakglass grant {c} --policy AmazonEKSClusterAdminPolicy --minutes 30 "
        '--reason "INC-7"',
    )
    add_cluster(grant, alias=True)
    grant.add_argument(
        "--policy", required=True, help="access policy name or ARN (AmazonEKSClusterAdminPolicy)"
    )
    grant.add_argument("--namespaces", help="comma-separated namespaces (namespace-scoped policies only)")
    grant.add_argument(
        "--minutes", type=_minutes, required=True, help="how long (at most the cluster's maximum)"
    )
    grant.add_argument("--reason", required=True, help="why (an incident, a ticket): recorded and told")
    grant.add_argument(
        "--principal", metavar="ARN", help="another on-call principal's IAM ARN (default: yours)"
    )
    grants = command_parser(
        sub, "grants", "a cluster's grants and their state", parents, f"access-guard breakglass grants {c}"
    )
    add_cluster(grants, alias=True)
    revoke = command_parser(
        sub,
        "revoke",
        "end a grant now",
        parents,
        f'access-guard breakglass revoke {c} 0123456789abcdef0123456789abcdef --reason "INC-7 resolved"',
    )
    revoke.add_argument("--cluster", metavar="C", help="the EKS cluster's name")
    revoke.add_argument(
        "words",
        metavar="GRANT_ID",
        nargs="+",
        help="the grant's id, as `grant` printed it (the older form CLUSTER GRANT_ID is accepted)",
    )
    revoke.add_argument("--reason", required=True, help="why it ends early: recorded and told")
    revoke.set_defaults(prepare=_prepare_revoke)
    audit = command_parser(
        sub,
        "audit",
        "the audit trail of break-glass calls and what the guard did, newest first",
        parents,
        "access-guard breakglass audit --cluster payments --limit 50",
    )
    add_cluster(audit, alias=True)
    audit.add_argument("--limit", type=_limit, default=25, help="records per page (1-100)")
    audit.add_argument("--next", dest="next_token", metavar="TOKEN", help="the page after the one printed")
    audit.set_defaults(cluster_optional=True)
    release = command_parser(
        sub,
        "release-admin",
        "give now a cluster admin that a baseline change holds back (holdNewAdminsMinutes)",
        parents,
        f'access-guard breakglass release-admin {c} --reason "CHG-12 approved"',
    )
    add_cluster(release, alias=True)
    release.add_argument("--reason", required=True, help="why (an incident, a ticket): recorded and told")
    release.add_argument("--principal", help="the held admin's IAM ARN (default: every held admin)")


def _minutes(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of minutes, at least 1: {text!r}")
    return int(text)


def _limit(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100: {text!r}")
    return int(text)


def _prepare_revoke(args: argparse.Namespace) -> None:
    from .main import _UsageError

    words = list(args.words)
    if len(words) > 2:
        raise _UsageError(f"revoke takes one grant id, got {len(words)} words: {' '.join(words)}")
    if len(words) == 2:
        args.cluster_alias = words[0]
    args.grant_id = words[-1]


# Fields of the API's bodies and the flags that set them: its errors are told in the CLI's words.
_FLAGS = {
    "durationMinutes": "--minutes",
    "dryRun": "--dry-run",
    "accessPolicy": "--policy",
    "principalArn": "--principal",
    "namespaces": "--namespaces",
    "reason": "--reason",
}


def in_cli_words(message: str) -> str:
    import re

    return re.sub(r"(?<![\w-])(" + "|".join(_FLAGS) + r")\b", lambda m: _FLAGS[m.group(1)], message)


# --- running ----------------------------------------------------------------------------------------------


class Failure(Exception):
    """One line for the operator, and the exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _client(args: argparse.Namespace, settings: Any, env: Mapping[str, str]) -> Any:
    import boto3
    import botocore.exceptions

    from ..adapters.breakglass_client import BreakGlassClient, api_url_from_stack, region_of
    from ..adapters.clients import client

    try:
        session = boto3.Session(profile_name=settings.profile) if settings.profile else boto3.Session()
    except botocore.exceptions.ProfileNotFound as exc:
        raise Failure(str(exc)) from None
    url = args.api_url or env.get(API_URL_ENV) or None
    region = settings.region or (region_of(url) if url else None) or session.region_name
    if not region:
        raise Failure("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    if url is None:
        cloudformation = client(
            "cloudformation",
            region=region,
            endpoint_url=settings.endpoint_url,
            profile=settings.profile,
            fail_fast=True,
        )
        url = api_url_from_stack(cloudformation, region)
        if url is None:
            stack = SERVICE_STACK_NAME.format(region=region)
            raise Failure(f"no API URL: pass --api-url, set {API_URL_ENV}, or deploy the stack {stack}")
    credentials = session.get_credentials()
    if credentials is None:
        raise Failure("no AWS credentials found (default credential chain); set a profile or credentials")
    return BreakGlassClient(url, credentials=credentials, region=region)


def run(
    args: argparse.Namespace,
    settings: Any,
    io: Any,
    env: Mapping[str, str] | None = None,
    actions: Mapping[str, Callable[[Any, argparse.Namespace, Any], int]] | None = None,
) -> int:
    """Run one `breakglass` action; its exit code. Errors are one `error:` line on stderr."""
    from ..adapters.breakglass_client import Unreachable

    env = os.environ if env is None else env
    try:
        api = _client(args, settings, env)
        return (actions or _ACTIONS)[args.breakglass_command](api, args, io)
    except Unreachable as exc:
        io.note(f"error: {exc}")
        return EXIT_ERROR
    except Failure as failure:
        io.note(f"error: {failure}")
        return failure.code


def _call(api: Any, args: argparse.Namespace, io: Any, method: str, resource: str, **kwargs: Any) -> Any:
    result = api.call(method, resource, **kwargs)
    if args.json:
        io.print(json.dumps(result.body, indent=2, default=str))
    if not result.ok:
        short = status_word(result.status)
        raise Failure(f"{result.status} {short}: {in_cli_words(result.message) or 'no message'}")
    return result


def _cluster(name: str) -> str:
    from ..adapters.breakglass_client import path

    return path("clusters", name)


def clusters(api: Any, args: argparse.Namespace, io: Any) -> int:
    result = _call(api, args, io, "GET", "/clusters")
    if args.json:
        return EXIT_OK
    rows = [("CLUSTER", "MODE", "AUTHENTICATION", "DRIFT", "GRANTS", "OUTSIDE BASELINE")]
    admins: list[str] = []
    for c in result.body["clusters"]:
        if c.get("error"):
            rows.append((c["cluster"], c.get("mode") or "-", "-", f"error: {c['error']}", "-", "-"))
            continue
        drift = "yes" if c["drift"] else "no"
        if c["drift"]:
            drift += f" ({c['changes']} changes" + (f", {c['refusals']} held back)" if c["refusals"] else ")")
        outside = c.get("unmanagedAdmins") or []
        kept = str(c.get("unmanaged") or 0) + (f" ({len(outside)} admin)" if outside else "")
        admins += [f"{c['cluster']}: {arn}" for arn in outside]
        rows.append((c["cluster"], c["mode"], c["authenticationMode"], drift, str(c["activeGrants"]), kept))
    io.print(_table(rows) if len(rows) > 1 else f"No managed clusters in {result.body['region']}.")
    if admins:
        io.print("\nCluster admins outside the baseline (kept: prune is off, or a keep rule):")
        io.print("\n".join(f"  ! {line}" for line in admins))
    return EXIT_OK


def drift(api: Any, args: argparse.Namespace, io: Any) -> int:
    result = _call(api, args, io, "GET", _cluster(args.cluster) + "/drift")
    if not args.json:
        io.out.write(result.body["text"])
    return EXIT_DRIFT if result.body["plan"]["drift"] else EXIT_OK


def restore(api: Any, args: argparse.Namespace, io: Any) -> int:
    body = {"reason": args.reason, "dryRun": bool(args.dry_run)}
    result = _call(api, args, io, "POST", _cluster(args.cluster) + "/restore", body=body)
    if not args.json:
        io.out.write(result.body["text"])
    if args.dry_run:
        return EXIT_OK if result.body["reachedBaseline"] else EXIT_DRIFT
    return EXIT_OK if result.body["reachedBaseline"] else EXIT_PARTLY


def grant(api: Any, args: argparse.Namespace, io: Any) -> int:
    body: dict[str, Any] = {
        "accessPolicy": args.policy,
        "durationMinutes": args.minutes,
        "reason": args.reason,
    }
    if args.namespaces is not None:
        body["namespaces"] = [n.strip() for n in args.namespaces.split(",") if n.strip()]
    if args.principal:
        body["principalArn"] = args.principal
    result = _call(api, args, io, "POST", _cluster(args.cluster) + "/grants", body=body)
    if args.json:
        return EXIT_OK
    g = result.body["grant"]
    end_now = shlex.join(
        ["access-guard", "breakglass", "revoke", "--cluster", g["cluster"], g["grantId"], "--reason", "WHY"]
    )
    io.print(
        f"Granted {_policy(g)} ({_scope(g)}) on {g['cluster']} to {g['principalArn']} until "
        f"{short_time(g['endsAt'])}.\n"
        f"Grant {g['grantId']}: it ends on its own; to end it now: {end_now}"
    )
    return EXIT_OK


def grants(api: Any, args: argparse.Namespace, io: Any) -> int:
    result = _call(api, args, io, "GET", _cluster(args.cluster) + "/grants")
    if args.json:
        return EXIT_OK
    found = result.body["grants"]
    if not found:
        io.print(f"No grants on {args.cluster}.")
        return EXIT_OK
    rows = [("GRANT", "STATE", "POLICY", "SCOPE", "PRINCIPAL", "ENDED / ENDS", "REASON")]
    for g in found:
        state, ends = _grant_state(g)
        state += f" ({_clip(g['revocationError'], 60)})" if g.get("revocationError") else ""
        rows.append((g["grantId"], state, _policy(g), _scope(g), g["principalArn"], ends, _clip(g["reason"])))
    io.print(_table(rows))
    return EXIT_OK


def revoke(api: Any, args: argparse.Namespace, io: Any) -> int:
    from ..adapters.breakglass_client import path

    resource = _cluster(args.cluster) + "/grants" + path(args.grant_id)
    result = _call(api, args, io, "DELETE", resource, body={"reason": args.reason})
    if result.status == 202:
        if not args.json:
            io.print(result.message)
        return EXIT_PARTLY
    if not args.json:
        io.print(f"Revoked grant {args.grant_id}: its access is gone.")
    return EXIT_OK


def audit(api: Any, args: argparse.Namespace, io: Any) -> int:
    query = {"limit": str(args.limit), "cluster": args.cluster, "next": args.next_token}
    result = _call(api, args, io, "GET", "/audit", query={k: v for k, v in query.items() if v})
    if args.json:
        return EXIT_OK
    records = result.body["records"]
    rows = [("AT", "STATUS", "ACTION", "CLUSTER", "CALLER", "FROM", "REASON / DETAIL")]
    for r in records:
        rows.append(
            (
                short_time(r["at"]),
                f"{r['status']} {r['outcome']}",
                r["action"],
                r.get("cluster") or "-",
                r.get("caller") or "-",
                r.get("sourceIp") or "-",
                _clip(r.get("reason") or r.get("detail") or ""),
            )
        )
    io.print(_table(rows) if records else "No audit records.")
    if result.body.get("next"):
        where = f" {args.cluster}" if args.cluster else ""
        io.print(f"More: access-guard breakglass audit{where} --next {result.body['next']}")
    return EXIT_OK


def release_admin(api: Any, args: argparse.Namespace, io: Any) -> int:
    body: dict[str, Any] = {"reason": args.reason}
    if args.principal:
        body["principalArn"] = args.principal
    result = _call(api, args, io, "POST", _cluster(args.cluster) + "/held-admins/release", body=body)
    if not args.json:
        io.out.write(result.body["text"])
    outcome = result.body.get("outcome") or {}
    return EXIT_OK if outcome.get("reachedBaseline", True) else EXIT_PARTLY


_ACTIONS: dict[str, Callable[[Any, argparse.Namespace, Any], int]] = {
    "clusters": clusters,
    "drift": drift,
    "restore": restore,
    "grant": grant,
    "grants": grants,
    "revoke": revoke,
    "audit": audit,
    "release-admin": release_admin,
}


def _policy(g: Mapping[str, Any]) -> str:
    return str(g["accessPolicy"]).rsplit("/", 1)[-1]


def _scope(g: Mapping[str, Any]) -> str:
    scope = g["accessScope"]
    return "cluster" if scope["type"] == "cluster" else "namespaces " + ",".join(scope.get("namespaces", []))


def _grant_state(g: Mapping[str, Any]) -> tuple[str, str]:
    """What a person calls the grant's state, and when it ended (or ends): a grant revoked at its end
    `expired`, one ended before `revoked early`."""
    if g["state"] == "revoked":
        if g.get("endedEarlyAt"):
            return "revoked early", short_time(g["endedEarlyAt"])
        return "expired", short_time(g.get("revokedAt") or g["endsAt"])
    return g["state"], short_time(g["endsAt"])


def _clip(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def status_word(status: int) -> str:
    return _STATUS.get(status, "error")


def short_time(iso: str) -> str:
    """`2026-11-23 22:14:38Z`: an audit time to the second, for a table (--json keeps it in full)."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(rows: Sequence[Sequence[str]]) -> str:
    return _table(rows)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)
