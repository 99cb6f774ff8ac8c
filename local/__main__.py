"""`python -m local serve --port PORT [--api-port APIPORT]` | `python -m local demo`

`serve` is the product running locally: the local AWS (moto with the EKS access-entry emulator) and, on top of
it, the guard's event pipeline with the same handlers as in AWS, so a change made against it (say
`aws eks delete-access-entry`) is put back on its own, and with `--api-port` the break-glass API.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description="The local AWS for EKS Access Guard")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the local AWS and the guard on 127.0.0.1 until interrupted")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    serve.add_argument(
        "--region",
        default=None,
        help="the guard's region (default: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1)",
    )
    serve.add_argument("--api-port", type=int, help="also serve the break-glass API on this port")
    serve.add_argument(
        "--oncall",
        action="append",
        metavar="ARN",
        help="an IAM role or user allowed to call the API (repeatable; default: "
        "ACCESS_GUARD_ONCALL_PRINCIPALS, else the role oncall, made here)",
    )
    serve.add_argument(
        "--sweep-seconds", type=float, default=300.0, help="how often the sweep runs (default 300; 0: never)"
    )
    serve.add_argument(
        "--delivery-delay",
        type=float,
        default=1.0,
        help="seconds CloudTrail takes to hand an event to EventBridge (AWS takes seconds; default 1)",
    )
    serve.add_argument("--emulator-only", action="store_true", help="the local AWS alone, without the guard")
    serve.add_argument(
        "--log-json",
        action="store_true",
        help="also print the handlers' JSON logs (what CloudWatch gets in AWS); default: the notes only",
    )
    sub.add_parser(
        "demo", help="tell the story of the guard at work, unattended, against an in-process local AWS"
    )
    args = parser.parse_args(argv)

    if args.command == "serve":
        return _serve(args)
    from .demo import main as demo

    return demo()


def _serve(args: argparse.Namespace) -> int:
    from .client import Emulator
    from .server import LocalAWS

    region, source = serve_region(args.region, os.environ)
    oncall_given = serve_oncall(args.oncall, os.environ)
    server = LocalAWS(port=args.port, host=args.host)
    endpoint = server.start()
    print(f"local AWS on {endpoint}", flush=True)
    if args.emulator_only:
        return _wait(server)
    # IAM Identity Center permission sets on call (their roles' sessions may call the API), as in AWS
    listed = os.environ.get("ACCESS_GUARD_ONCALL_PERMISSION_SETS", "")
    sets = [s.strip() for s in listed.split(",") if s.strip()]
    # The guard's own calls need credentials of the local AWS; never the user's real ones.
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=region,
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    Emulator(endpoint).set_cloudtrail_delivery(delay_seconds=args.delivery_delay)
    import boto3
    from access_guard.core.config import Env
    from access_guard.core.trust import BASELINE_KEY_ALIAS

    from . import deployed
    from .baseline_key import ensure_baseline_key
    from .runner import Pipeline

    # The owners' notes, as people read them, are what serve prints; the JSON logs only when asked for.
    quiet = {} if args.log_json else {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    os.environ.update(quiet)  # process-wide too: every handler's Logger reads it, whenever it is made
    # The deployment's baseline key, under the same alias as in AWS: the guard applies only baselines that
    # are SecureStrings under it, and `access-guard baseline push` finds it by its alias.
    key = ensure_baseline_key(boto3.client("kms", region_name=region))
    print(f"baseline key {key} (alias {BASELINE_KEY_ALIAS})", flush=True)
    # As in AWS: each function in its own environments (worker processes), stopped at its timeout.
    pipeline = Pipeline.create(
        endpoint,
        region=region,
        environment={Env.BASELINE_KEY_ARN: key, **quiet},
        isolation="process",
        strict=True,
    )
    pipeline.start(sweep_seconds=args.sweep_seconds or None)
    stop_notes = threading.Event()
    threading.Thread(target=_print_notes, args=(pipeline, stop_notes), daemon=True, name="notes").start()
    print(
        f"the guard's pipeline is running in {region} ({source}; sweep every {args.sweep_seconds:g} s)",
        flush=True,
    )
    oncall = oncall_given or [_oncall_role()]
    api = None
    if args.api_port:
        from access_guard.core.limits import SCHEDULER_PRECISION_SECONDS

        api = pipeline.serve_api(
            port=args.api_port,
            oncall_principals=oncall,
            oncall_permission_sets=sets,
            scheduler_precision_seconds=SCHEDULER_PRECISION_SECONDS,
            scheduler_seed=None,  # a fresh draw each run, as in AWS
            as_deployed=True,  # the deployed resource policy, request validation, access logs
        )
        also = f"; permission sets {', '.join(sets)}" if sets else ""
        print(f"break-glass API on {api} (on call: {', '.join(oncall)}{also})", flush=True)
    deployed.set_up(pipeline, oncall_principals=oncall, api_url=api)
    print(
        "Try it: export AWS_ENDPOINT_URL=" + endpoint + " AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "
        f"AWS_DEFAULT_REGION={region}, push a baseline with access-guard, change the cluster with the "
        "aws CLI, and watch it come back; `access-guard doctor` checks the set-up. Move the services' clock "
        f"ahead with curl -X POST {endpoint}/_emulator/clock -d '{{\"advanceSeconds\": 900}}'. "
        "(Ctrl-C to stop)",
        flush=True,
    )

    def stop_pipeline() -> None:
        stop_notes.set()
        pipeline.stop()

    return _wait(server, before=stop_pipeline)


def serve_region(given: str | None, env: os._Environ[str] | dict[str, str]) -> tuple[str, str]:
    """The guard's region and where it came from: --region, AWS_REGION, AWS_DEFAULT_REGION, else us-east-1."""
    if given:
        return given, "--region"
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(name, "").strip():
            return env[name].strip(), f"from {name}"
    return "us-east-1", "the default; set AWS_REGION to guard another"


def serve_oncall(given: list[str] | None, env: os._Environ[str] | dict[str, str]) -> list[str]:
    """The on-call principals: --oncall, else ACCESS_GUARD_ONCALL_PRINCIPALS (as the runtime reads it); empty
    means the role oncall, made here."""
    if given:
        return list(given)
    return [v.strip() for v in env.get("ACCESS_GUARD_ONCALL_PRINCIPALS", "").split(",") if v.strip()]


def _print_notes(pipeline: object, stop: threading.Event) -> None:
    """Each note the guard publishes, as its owners read it: the time, the subject, the text."""
    import time

    while not stop.is_set():
        try:
            notes = pipeline.notifications(wait_seconds=1.0)  # type: ignore[attr-defined]
        except Exception:  # the local AWS is stopping
            return
        for note in notes:
            text = note["document"].get("text", "")
            lines = [f"[{time.strftime('%H:%M:%S')}] {note['subject']}"]
            lines += [f"  {line}" for line in text.splitlines() if line.strip()]
            print("\n".join(lines), flush=True)


def _oncall_role() -> str:
    import boto3

    iam = boto3.client("iam")
    trust = '{"Version":"2012-10-17","Statement":[]}'
    return str(iam.create_role(RoleName="oncall", AssumeRolePolicyDocument=trust)["Role"]["Arn"])


def _wait(server: object, before: Callable[[], None] = lambda: None) -> int:
    """Until Ctrl-C; then `before` (the pipeline: its pollers and workers still use the local AWS), and the
    local AWS last."""
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        try:
            before()
        finally:
            server.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
