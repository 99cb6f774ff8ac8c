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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description="The local AWS for EKS Access Guard")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the local AWS and the guard on 127.0.0.1 until interrupted")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    serve.add_argument("--region", default="us-east-1", help="the guard's region (default us-east-1)")
    serve.add_argument("--api-port", type=int, help="also serve the break-glass API on this port")
    serve.add_argument(
        "--oncall",
        action="append",
        metavar="ARN",
        help="an IAM role or user allowed to call the API (repeatable; default: the role oncall, made here)",
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

    server = LocalAWS(port=args.port, host=args.host)
    endpoint = server.start()
    print(f"local AWS on {endpoint}", flush=True)
    if args.emulator_only:
        return _wait(server)
    # The guard's own calls need credentials of the local AWS; never the user's real ones.
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=args.region,
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    Emulator(endpoint).set_cloudtrail_delivery(delay_seconds=args.delivery_delay)
    from .runner import Pipeline

    # The owners' notes, as people read them, are what serve prints; the JSON logs only when asked for.
    quiet = {} if args.log_json else {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    os.environ.update(quiet)  # process-wide too: every handler's Logger reads it, whenever it is made
    pipeline = Pipeline.create(endpoint, region=args.region, environment=quiet)
    pipeline.start(sweep_seconds=args.sweep_seconds or None)
    stop_notes = threading.Event()
    threading.Thread(target=_print_notes, args=(pipeline, stop_notes), daemon=True, name="notes").start()
    print(
        f"the guard's pipeline is running in {args.region} (sweep every {args.sweep_seconds:g} s)", flush=True
    )
    if args.api_port:
        oncall = args.oncall or [_oncall_role()]
        api = pipeline.serve_api(port=args.api_port, oncall_principals=oncall)
        print(f"break-glass API on {api} (on call: {', '.join(oncall)})", flush=True)
    print(
        "Try it: export AWS_ENDPOINT_URL=" + endpoint + " AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "
        f"AWS_DEFAULT_REGION={args.region}, push a baseline with access-guard, change the cluster with the "
        "aws CLI, and watch it come back. (Ctrl-C to stop)",
        flush=True,
    )
    try:
        return _wait(server)
    finally:
        stop_notes.set()
        pipeline.stop()


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


def _wait(server: object) -> int:
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
