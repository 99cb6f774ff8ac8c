"""Stopping a waitress server that runs its loop in a thread of its own (the local AWS, the local API)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any


def stop_waitress(server: Any, thread: threading.Thread | None) -> None:
    """Close the listener and every open (kept-alive) connection, which ends waitress's loop, then its
    task threads.

    The closing is done in the loop's own thread (a trigger thunk): closing a socket under its select()
    from another thread made the loop fail with EBADF now and then. When the loop is not running any more
    (it ended, or failed), its trigger may be closed already: what is left is closed from here.
    """

    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    if thread is not None and thread.is_alive():
        # OSError: the trigger's descriptor is gone, the loop is ending on its own
        with contextlib.suppress(OSError):
            server.trigger.pull_trigger(close_all)
        thread.join(timeout=5)
    close_all()
    server.task_dispatcher.shutdown()
