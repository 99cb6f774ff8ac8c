"""The EKS access-entry emulator: moto's EKS backend extended with access entries, access policies,
authentication-mode updates, principal binding and an access oracle.

Importing this package installs it into moto: every place moto looks up the EKS BackendDict gets ours,
whose backend class lives in local.eks.models, so moto's server takes its routes from local.eks.urls.
"""

from __future__ import annotations

import moto.eks
import moto.eks.models
import moto.eks.responses
from moto.core.base_backend import BackendDict

from .models import EmulatedCluster, EmulatedEKSBackend
from .oracle import compute_access, parse_aws_auth
from .settings import SETTINGS

eks_backends: BackendDict[EmulatedEKSBackend] = BackendDict(EmulatedEKSBackend, "eks")


def _install() -> None:
    for module in (moto.eks, moto.eks.models, moto.eks.responses):
        module.eks_backends = eks_backends  # type: ignore[attr-defined]
    from . import control_api  # noqa: F401  (registers the /_emulator/eks/ routes)


_install()

__all__ = [
    "SETTINGS",
    "EmulatedCluster",
    "EmulatedEKSBackend",
    "compute_access",
    "eks_backends",
    "parse_aws_auth",
]
