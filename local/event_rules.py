"""EventBridge rules as AWS runs them: a DISABLED rule delivers nothing (moto delivers whatever the rule's
state). Installs itself on import, like the emulator's other backends (local/server.install)."""

from __future__ import annotations

from typing import Any

from moto.events import models

_deliver = models.Rule.send_to_targets


def _send_if_enabled(self: Any, *args: Any, **kwargs: Any) -> None:
    if getattr(self, "state", "ENABLED") != "ENABLED":
        return
    _deliver(self, *args, **kwargs)


if getattr(models.Rule.send_to_targets, "__name__", "") != "_send_if_enabled":
    models.Rule.send_to_targets = _send_if_enabled  # type: ignore[method-assign]
