"""One warm Lambda execution environment: a child process that imports a handler and runs its invocations.

    python PATH/TO/worker.py MODULE:ATTRIBUTE RESPONSE_FD

Started by `FunctionRegistry` (isolation="process") with the function's environment. It imports the handler
(Lambda's init phase), writes a `ready` line to RESPONSE_FD, then reads one request per line on stdin and
answers one line each on RESPONSE_FD, one invocation at a time, as one Lambda environment does. The
registry kills the process when an invocation outlives its timeout: nothing in it runs afterwards (no
`finally`, no atexit), so what it left half done stays half done, as in Lambda.

Protocol (JSON lines): request {"event", "requestId", "functionName", "invokedFunctionArn", "deadline"
(epoch seconds), "memoryLimitInMB", "logGroupName", "logStreamName"}; answer {"ok": result} or
{"errorType", "errorMessage"}. The handler's stdout and stderr are the process's own (the console, as
CloudWatch Logs would get them).

Run as a script, not as `-m local.runtime.worker`: the package's `__init__` imports moto (the gateway), which
a Lambda environment does not have and which would slow every cold start; so this file imports nothing of
`local` and has its own context class (the same attributes as `functions.LambdaContext`).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any


@dataclass
class LambdaContext:
    """The Python runtime's context object; the deadline is epoch seconds, shared with the registry."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


def _resolve(path: str) -> Any:
    module, _, attribute = path.partition(":")
    if not attribute:
        module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def main(argv: list[str]) -> int:
    path, fd = argv[0], int(argv[1])
    out = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
    try:
        handler = _resolve(path)
    except Exception as exc:
        traceback.print_exc()
        out.write(json.dumps({"errorType": "Runtime.ImportModuleError", "errorMessage": str(exc)}) + "\n")
        return 1
    out.write('{"ready": true}\n')
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(
            function_name=request["functionName"],
            invoked_function_arn=request["invokedFunctionArn"],
            aws_request_id=request["requestId"],
            deadline=request["deadline"],
            memory_limit_in_mb=request["memoryLimitInMB"],
            log_group_name=request["logGroupName"],
            log_stream_name=request["logStreamName"],
        )
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc()
            answer = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        else:
            try:
                answer = {"ok": json.loads(json.dumps(result))}
            except (TypeError, ValueError) as exc:
                answer = {"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        out.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
