"""Running `python -m local serve` from a test: a free port for it, and stopping it so that no test leaves one
running (an orphaned serve keeps its pollers and worker processes busy on the machine's cores)."""

from __future__ import annotations

import signal
import socket
import subprocess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[str], *, sig: int = signal.SIGINT, timeout: float = 120.0) -> str:
    """Signal serve, read what it prints while it stops its worker processes (a full pipe would block it),
    and return that; if it has not stopped within `timeout` s it is killed and TimeoutExpired raised."""
    process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return out or ""
