"""The deployment's baseline key in the local AWS: a KMS key under the product's alias, as the CDK makes it.

A driver module (it names the product's alias): `python -m local serve` makes the key and gives its ARN to
the guard's functions, so the guard applies only baselines that are SecureStrings under it, and
`access-guard baseline push` finds it by its alias, exactly as in AWS.
"""

from __future__ import annotations

from typing import Any

from access_guard.core.trust import BASELINE_KEY_ALIAS


def ensure_baseline_key(kms: Any) -> str:
    """The ARN of the key under the baseline alias in `kms`'s region, made if there is none."""
    try:
        return str(kms.describe_key(KeyId=BASELINE_KEY_ALIAS)["KeyMetadata"]["Arn"])
    except kms.exceptions.NotFoundException:
        pass
    key = kms.create_key(Description="EKS Access Guard: baselines (local)")["KeyMetadata"]
    kms.create_alias(AliasName=BASELINE_KEY_ALIAS, TargetKeyId=key["KeyId"])
    return str(key["Arn"])
