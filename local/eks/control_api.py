"""The EKS part of the control API: the access oracle, aws-auth ConfigMaps, and run-time settings.

URLs and shapes are fixed by local/client.py (`access`, `set_aws_auth`, `aws_auth`, `set_eks_settings`).
"""

from __future__ import annotations

import re
from typing import Any

from local import control

from .models import EmulatedEKSBackend
from .oracle import parse_aws_auth
from .settings import SETTINGS

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def _backend(query: dict[str, str]) -> tuple[EmulatedEKSBackend, str]:
    from . import eks_backends

    cluster = query.get("cluster")
    if not cluster:
        raise ValueError("the cluster query parameter is required")
    account = query.get("account") or "123456789012"
    region = query.get("region") or "us-east-1"
    if not _ACCOUNT.match(account):
        raise ValueError(f"not an account id: {account!r}")
    if not _REGION.match(region):
        raise ValueError(f"not a region: {region!r}")
    return eks_backends[account][region], cluster


@control.route("GET", "eks/access")
def _access(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    backend, cluster = _backend(query)
    return 200, backend.access(cluster)


@control.route("PUT", "eks/aws-auth")
def _put_aws_auth(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    backend, cluster = _backend(query)
    aws_auth = parse_aws_auth(body)
    backend.set_aws_auth(cluster, aws_auth)
    return 200, aws_auth.to_json()


@control.route("GET", "eks/aws-auth")
def _get_aws_auth(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    backend, cluster = _backend(query)
    return 200, backend.get_aws_auth(cluster).to_json()


@control.route("PUT", "eks/settings")
def _put_settings(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, SETTINGS.update(body).to_json()


@control.route("GET", "eks/settings")
def _get_settings(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, SETTINGS.get().to_json()


control.on_reset(SETTINGS.reset)
