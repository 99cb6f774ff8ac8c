"""Run-time settings of the EKS emulator: set through PUT /_emulator/eks/settings, reset with the emulator."""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, replace
from typing import Any

from .rules import check_policy_name

ENV_MODE_UPDATE_SECONDS = "LOCAL_EKS_MODE_UPDATE_SECONDS"
ENV_OTHER_UPDATE_SECONDS = "LOCAL_EKS_OTHER_UPDATE_SECONDS"
DEFAULT_MODE_UPDATE_SECONDS = 2.0
DEFAULT_OTHER_UPDATE_SECONDS = 2.0

_FIELDS = ("modeUpdateSeconds", "otherUpdateSeconds", "failModeUpdates", "extraAccessPolicies")


@dataclass(frozen=True)
class EksSettings:
    # How long an authentication-mode update (AccessConfigUpdate) stays InProgress.
    mode_update_seconds: float = DEFAULT_MODE_UPDATE_SECONDS
    # How long any other cluster update (version, logging, endpoint access, subnets) stays InProgress.
    other_update_seconds: float = DEFAULT_OTHER_UPDATE_SECONDS
    # The next N authentication-mode updates end Failed (with errors) and leave the mode as it was.
    fail_mode_updates: int = 0
    extra_access_policies: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "modeUpdateSeconds": self.mode_update_seconds,
            "otherUpdateSeconds": self.other_update_seconds,
            "failModeUpdates": self.fail_mode_updates,
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


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise ValueError(f"{where} must be a whole number between 0 and 1000")
    return value


def defaults(environ: dict[str, str] | None = None) -> EksSettings:
    env = os.environ if environ is None else environ
    mode, other = env.get(ENV_MODE_UPDATE_SECONDS), env.get(ENV_OTHER_UPDATE_SECONDS)
    return EksSettings(
        mode_update_seconds=_seconds(mode, ENV_MODE_UPDATE_SECONDS) if mode else DEFAULT_MODE_UPDATE_SECONDS,
        other_update_seconds=(
            _seconds(other, ENV_OTHER_UPDATE_SECONDS) if other else DEFAULT_OTHER_UPDATE_SECONDS
        ),
    )


def apply(current: EksSettings, body: Any) -> EksSettings:
    """The settings after a PUT body (any of modeUpdateSeconds, otherUpdateSeconds, failModeUpdates,
    extraAccessPolicies); ValueError on junk, and then nothing changes."""
    if body is None:
        return current
    if not isinstance(body, dict):
        raise ValueError("the settings body must be an object")
    unknown = set(body) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    result = current
    if "modeUpdateSeconds" in body:
        result = replace(result, mode_update_seconds=_seconds(body["modeUpdateSeconds"], "modeUpdateSeconds"))
    if "otherUpdateSeconds" in body:
        result = replace(
            result, other_update_seconds=_seconds(body["otherUpdateSeconds"], "otherUpdateSeconds")
        )
    if "failModeUpdates" in body:
        result = replace(result, fail_mode_updates=_count(body["failModeUpdates"], "failModeUpdates"))
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

    def take_mode_failure(self) -> bool:
        """True if the authentication-mode update starting now is to fail (using up one failModeUpdates)."""
        with self._lock:
            if self._value.fail_mode_updates <= 0:
                return False
            self._value = replace(self._value, fail_mode_updates=self._value.fail_mode_updates - 1)
            return True

    def reset(self) -> None:
        with self._lock:
            self._value = defaults()


SETTINGS = _Holder()
