"""`python -m local serve --port PORT` | `python -m local demo`"""

from __future__ import annotations

import argparse
import contextlib
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description="The local AWS for EKS Access Guard")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the local AWS on 127.0.0.1:PORT until interrupted")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    sub.add_parser("demo", help="tell the lockout-and-recovery story against an in-process local AWS")
    args = parser.parse_args(argv)

    if args.command == "serve":
        from .server import LocalAWS

        server = LocalAWS(port=args.port, host=args.host)
        print(f"local AWS on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        return 0
    from .demo import main as demo

    return demo()


if __name__ == "__main__":
    sys.exit(main())
