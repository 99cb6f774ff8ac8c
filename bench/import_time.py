"""The cold start's import cost: how long importing a handler module takes beyond `import boto3`.

    python -m bench.import_time [MODULE ...]      (default: access_guard.handlers.intake)

Each figure is the median of fresh interpreter runs (`python -X importtime`, the sum of the module's
cumulative time and of any other top-level import it caused after boto3), in Lambda's environment: with
LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME set, the X-Ray SDK takes its Lambda path (a local sampler;
outside Lambda it builds two botocore X-Ray clients at import, ~150 ms, aws-xray-sdk-python#311) and the
Tracer is on. Packages Lambda's Python runtime does not have (`requests`, which X-Ray's patch_all patches when
it finds it) are hidden, as they would be absent there. And the product's own code is imported from a copy
without compiled files, written nowhere (PYTHONDONTWRITEBYTECODE): the deployment package excludes
`__pycache__` and /var/task is read-only, so Lambda compiles the product's modules at every cold start (the
layer's and the runtime's own packages come compiled). The slowest pieces are listed beside the figure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = 9
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": "/tmp/lambda-task-root",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ABSENT_IN_LAMBDA = ("requests",)
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"


def one_run(module: str, *, lambda_env: bool) -> tuple[float, list[tuple[float, str]]]:
    """ms beyond boto3 for one fresh interpreter, and the top-level imports that made it up."""
    hide = "".join(f"sys.modules[{m!r}] = None; " for m in ABSENT_IN_LAMBDA) if lambda_env else ""
    code = f"import sys; {hide}import boto3; import {module}"
    env = {**os.environ}
    if lambda_env:
        task = Path(tempfile.mkdtemp(prefix="task-"))
        shutil.copytree(
            FUNCTIONS, task, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        env.update(LAMBDA_ENV, PYTHONPATH=str(task), PYTHONDONTWRITEBYTECODE="1")
    try:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        if lambda_env:
            shutil.rmtree(task, ignore_errors=True)
    after_boto3 = False
    pieces: list[tuple[float, str]] = []
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        cumulative, depth, name = int(match[2]) / 1000, len(match[3]), match[4]
        if depth == 1 and name == "boto3":
            after_boto3 = True
        elif after_boto3 and depth <= 3:  # the module, its direct imports (depth 3), other top-level ones
            pieces.append((cumulative, name if depth == 1 else "  " + name))
    total = sum(ms for ms, name in pieces if not name.startswith("  "))
    return total, pieces


def measure(module: str, *, lambda_env: bool) -> None:
    runs = [one_run(module, lambda_env=lambda_env) for _ in range(RUNS)]
    totals = sorted(total for total, _ in runs)
    median = statistics.median(totals)
    where = "in Lambda's environment" if lambda_env else "outside Lambda"
    spread = f"{totals[0]:.0f}-{totals[-1]:.0f}"
    if lambda_env:
        from bench import report

        report.figure(
            f"import {module} beyond boto3 (Lambda env, median)", median, "ms", "< 150 ms", median < 150
        )
    print(f"{module}: {median:.0f} ms beyond `import boto3` {where} (median of {RUNS}; {spread})")
    _, pieces = min(runs, key=lambda run: abs(run[0] - median))
    direct = sorted((p for p in pieces if p[1].startswith("  ")), reverse=True)[:8]
    for ms, name in direct:
        print(f"    {ms:6.1f} ms {name.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=["access_guard.handlers.intake"])
    args = parser.parse_args()
    for module in args.modules:
        measure(module, lambda_env=True)
        measure(module, lambda_env=False)


if __name__ == "__main__":
    main()
