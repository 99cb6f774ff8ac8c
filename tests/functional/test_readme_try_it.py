"""The README's "try it" block runs as written against `python -m local serve` (on free ports, from a
scratch directory): every command succeeds, the deleted entry comes back, and serve prints the note."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from .serving import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def try_it_block() -> list[str]:
    section = README.read_text().split("## Try it locally", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"To play with it yourself:\s*```bash\n(.*?)```", section, re.S)
    assert block, "no try-it block in the README"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    return [line.split("  #", 1)[0].strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_readmes_try_it_block_runs_as_written(tmp_path: Path) -> None:
    aws_port, api_port = free_port(), free_port()
    ports = {"4566": str(aws_port), "4567": str(api_port)}
    commands = [re.sub(r"(?<!\d)(4566|4567)(?!\d)", lambda m: ports[m.group(1)], c) for c in try_it_block()]
    serve, rest = commands[0], commands[1:]
    assert serve.startswith(".venv/bin/python -m local serve")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    base["PYTHONPATH"] = f"{ROOT / 'functions'}{os.pathsep}{ROOT}"
    server = subprocess.Popen(
        [sys.executable, *shlex.split(serve)[1:]],
        cwd=ROOT,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert server.stdout is not None
        for line in server.stdout:
            seen.append(line)
            if line.startswith("Try it:"):
                break
        env = dict(base)
        for command in rest:
            command = command.replace(".venv/bin/", f"{ROOT}/.venv/bin/")
            if command.startswith("export "):
                env.update(word.split("=", 1) for word in shlex.split(command)[1:])
                continue
            done = run(command, env, tmp_path)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
        # "a second later: it is back"
        deadline = time.monotonic() + 15
        while "arn:aws:iam::123456789012:root" not in done.stdout and time.monotonic() < deadline:
            time.sleep(0.5)
            done = run(command, env, tmp_path)
        assert "arn:aws:iam::123456789012:root" in done.stdout, done.stdout
    finally:
        out = stop(server, sig=signal.SIGTERM, timeout=30)
    printed = "".join(seen) + out
    assert "[payments] access restored to the baseline" in printed, printed  # the note, readable
    assert '{"level"' not in printed  # no JSON logs without --log-json


def run(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
