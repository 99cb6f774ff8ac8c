"""The emulator's control API under `/_emulator/` (not an AWS API): reset, faults, the access oracle,
aws-auth mappings, settings, recorded CloudTrail events. Modules register their routes here.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

# One lock for all emulated state: AWS calls into moto and control-API handlers run one at a time.
STATE_LOCK = threading.RLock()

Handler = Callable[[dict[str, str], dict[str, str], Any], tuple[int, Any]]
_ROUTES: list[tuple[str, re.Pattern[str], Handler, bool]] = []
_RESET_HOOKS: list[Callable[[], None]] = []


def route(method: str, pattern: str, *, locked: bool = True) -> Callable[[Handler], Handler]:
    """Register `handler(path_params, query, json_body) -> (status, json)` for METHOD /_emulator/PATTERN.

    A handler runs under STATE_LOCK unless `locked=False`: then it takes the lock itself where it touches
    state (one that may make calls back into the local AWS, such as delivering events, must not hold it).
    """

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, re.compile(f"^/_emulator/{pattern}/?$"), handler, locked))
        return handler

    return register


def on_reset(hook: Callable[[], None]) -> Callable[[], None]:
    """Run `hook` when the emulator is reset (state that moto's own reset does not cover)."""
    _RESET_HOOKS.append(hook)
    return hook


def reset_all() -> None:
    from moto.moto_api import _internal

    _internal.moto_api_backend.reset()
    for hook in _RESET_HOOKS:
        hook()


def dispatch(environ: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], bytes]:
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "")
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        return _json(400, {"message": "request body is not JSON"})
    for route_method, pattern, handler, locked in _ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            try:
                if locked:
                    with STATE_LOCK:
                        status, result = handler(match.groupdict(), query, payload)
                else:
                    status, result = handler(match.groupdict(), query, payload)
            except (ValueError, TypeError) as exc:
                return _json(400, {"message": str(exc)})
            except LookupError as exc:
                return _json(404, {"message": str(exc.args[0] if exc.args else exc)})
            return _json(status, result)
    return _json(404, {"message": f"no emulator route {method} {path}"})


def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload, default=str).encode()


@route("GET", "health")
def _health(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, {"status": "ok"}


@route("POST", "reset")
def _reset(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    reset_all()
    return 200, {"reset": True}
