"""Public SSM parameters AWS publishes in every region under /aws/service/ (Powertools' layer ARNs among
them). Nobody may put a parameter there, moto included (it refuses the reserved name, as AWS does), so the
local AWS publishes them itself, in-process, straight into moto's store: read them with GetParameter as in
an account. Part of the emulator: it imports nothing of the product."""

from __future__ import annotations

from moto.ssm.models import Parameter, ssm_backends

DEFAULT_ACCOUNT = "123456789012"


def publish(name: str, value: str, *, region: str, account: str = DEFAULT_ACCOUNT) -> None:
    """Make the public parameter `name` read `value` in `region` (idempotent)."""
    if not name.startswith("/aws/service/"):
        raise ValueError(f"{name!r} is not a public parameter (/aws/service/...)")
    backend = ssm_backends[account][region]
    versions = backend._parameters[name]
    if versions and versions[-1].value == value:
        return
    versions.append(
        Parameter(
            account_id=account,
            name=name,
            value=value,
            parameter_type="String",
            description="published by AWS",
            allowed_pattern=None,
            keyid=None,
            last_modified_date=0.0,
            version=len(versions) + 1,
            data_type="text",
        )
    )
