"""Run-time settings of the EKS emulator: set through PUT /_emulator/eks/settings, reset with the emulator."""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, replace
from typing import Any

from .rules import check_policy_name

ENV_MODE_UPDATE_SECONDS = "LOCAL_EKS_MODE_UPDATE_SECONDS"
DEFAULT_MODE_UPDATE_SECONDS = 2.0


@dataclass(frozen=True)
class EksSettings:
    mode_update_seconds: float = DEFAULT_MODE_UPDATE_SECONDS
    extra_access_policies: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "modeUpdateSeconds": self.mode_update_seconds,
            "extraAccessPolicies": list(self.extra_access_policies),
        }


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{where} must be a number of seconds")
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{where} must be a number of seconds, not {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0 or seconds > 3600:
        raise ValueError(f"{where} must be between 0 and 3600 seconds")
    return seconds


def defaults(environ: dict[str, str] | None = None) -> EksSettings:
    raw = (os.environ if environ is None else environ).get(ENV_MODE_UPDATE_SECONDS)
    if raw is None or raw == "":
        return EksSettings()
    return EksSettings(mode_update_seconds=_seconds(raw, ENV_MODE_UPDATE_SECONDS))


def apply(current: EksSettings, body: Any) -> EksSettings:
    """The settings after a PUT body {modeUpdateSeconds?, extraAccessPolicies?}; ValueError on junk."""
    if body is None:
        return current
    if not isinstance(body, dict):
        raise ValueError("the settings body must be an object")
    unknown = set(body) - {"modeUpdateSeconds", "extraAccessPolicies"}
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    result = current
    if "modeUpdateSeconds" in body:
        result = replace(result, mode_update_seconds=_seconds(body["modeUpdateSeconds"], "modeUpdateSeconds"))
    if "extraAccessPolicies" in body:
        extras = body["extraAccessPolicies"]
        if not isinstance(extras, list):
            raise ValueError("extraAccessPolicies must be a list of policy names")
        names = [check_policy_name(n.rsplit("/", 1)[-1] if isinstance(n, str) else n) for n in extras]
        result = replace(result, extra_access_policies=tuple(dict.fromkeys(names)))
    return result


class _Holder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = defaults()

    def get(self) -> EksSettings:
        with self._lock:
            return self._value

    def update(self, body: Any) -> EksSettings:
        with self._lock:
            self._value = apply(self._value, body)
            return self._value

    def reset(self) -> None:
        with self._lock:
            self._value = defaults()


SETTINGS = _Holder()
