"""The baselines' trust boundary, as facts: which key protects them, how SSM names it, and when a stored
parameter came from inside the boundary. Pure.

Only the deployment's `baselineWriters` may encrypt with the baseline key through SSM (the key's policy
says so), so a parameter under the baseline prefix that is a SecureString under that key was written by
one of them. Anything else (a String, a SecureString under another key, the AWS managed `aws/ssm` key) was
written by someone who could write SSM parameters but is not a baseline writer: the guard never applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import BASELINE_KEY_ALIAS
from .triggers import baselines_root

# SSM encrypts a SecureString with the encryption context {"PARAMETER_ARN": <the parameter's ARN>}; a key
# policy condition on `kms:EncryptionContext:PARAMETER_ARN` limits a key's use to some parameters.
# Source: AWS Systems Manager User Guide, "AWS KMS encryption for Parameter Store SecureString parameters"
# (Using the encryption context).
SSM_ENCRYPTION_CONTEXT_KEY = "PARAMETER_ARN"
SECURE_STRING = "SecureString"


def parameter_arn(region: str, account: str, name: str, partition: str = "aws") -> str:
    """A parameter's ARN as SSM writes it in the encryption context (`.../parameter/a/b` for `/a/b`)."""
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def baseline_parameters_glob(region: str, account: str, prefix: str, partition: str = "aws") -> str:
    """Every baseline parameter (manifests and chunks) of the deployment, as a `StringLike` ARN pattern."""
    return parameter_arn(region, account, baselines_root(prefix), partition) + "*"


def key_id_forms(key_arn: str, alias: str = BASELINE_KEY_ALIAS) -> frozenset[str]:
    """Every way SSM may name the deployment's key in a parameter's `KeyId` (as the writer gave it): the key's
    ARN, its id, its alias, the alias's ARN."""
    forms = {key_arn}
    if ":key/" in key_arn:
        head, key_id = key_arn.split(":key/", 1)
        forms |= {key_id, alias, f"{head}:{alias}"}
    return frozenset(forms)


@dataclass(frozen=True)
class StoredParameter:
    """What DescribeParameters says of one stored baseline parameter."""

    name: str
    type: str
    key_id: str | None
    writer: str | None = None  # LastModifiedUser
    version: int | None = None


@dataclass(frozen=True)
class Untrusted:
    """A baseline parameter from outside the boundary: which, why, and who wrote it (when known)."""

    parameter: str
    found: str  # "a String" | "a SecureString under key K"
    writer: str | None
    version: int | None = None

    def line(self) -> str:
        by = f", written by {self.writer}" if self.writer else ", writer unknown"
        return f"{self.parameter} is {self.found}{by}"


def untrusted(parameters: Iterable[StoredParameter], key_arn: str) -> list[Untrusted]:
    """The parameters that are not SecureStrings under the deployment's key (empty: all trusted)."""
    forms = key_id_forms(key_arn)
    found = []
    for p in parameters:
        if p.type != SECURE_STRING:
            found.append(Untrusted(p.name, f"a {p.type or 'parameter of no type'}", p.writer, p.version))
        elif p.key_id not in forms:
            found.append(
                Untrusted(p.name, f"a SecureString under key {p.key_id or '(none)'}", p.writer, p.version)
            )
    return found
