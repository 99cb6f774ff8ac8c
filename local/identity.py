"""Who signed a request: the caller identity CloudTrail records and EKS takes as a cluster's creator.

Resolved from the SigV4 access key against moto's IAM and STS state: an IAM user's key, an assumed-role
session's key, or (any other key, as with moto's default test credentials) the account's root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.models import sts_backends

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Caller:
    type: str  # IAMUser | AssumedRole | Root
    arn: str
    principal_id: str
    account_id: str
    access_key_id: str
    # For an AssumedRole: the role ARN (with its path), the session issuer.
    session_issuer_arn: str | None = None
    session_issuer_id: str | None = None

    @property
    def principal_arn(self) -> str:
        """The IAM principal behind the caller (a session resolves to its role)."""
        return self.session_issuer_arn or self.arn

    def cloudtrail_user_identity(self) -> dict[str, object]:
        identity: dict[str, object] = {
            "type": self.type,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account_id,
            "accessKeyId": self.access_key_id,
        }
        if self.type == "IAMUser":
            identity["userName"] = self.arn.rsplit("/", 1)[-1]
        if self.session_issuer_arn:
            identity["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.session_issuer_id,
                    "arn": self.session_issuer_arn,
                    "accountId": self.account_id,
                    "userName": self.session_issuer_arn.rsplit("/", 1)[-1],
                },
                "attributes": {"mfaAuthenticated": "false"},
            }
        return identity


def parse_authorization(header: str | None) -> tuple[str, str, str] | None:
    """(access key id, region, signing service) from a SigV4 Authorization header."""
    if not header:
        return None
    match = _CREDENTIAL.search(header)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def resolve_caller(access_key_id: str) -> Caller:
    account_id = get_account_id_from(access_key_id)
    iam = iam_backends[account_id]["aws"]
    key = iam.access_keys.get(access_key_id)
    if key is not None and key.role_arn:
        for session in sts_backends[account_id]["global"].assumed_roles:
            if session.access_key_id == access_key_id:
                role_id = _role_id(account_id, session.role_arn)
                return Caller(
                    type="AssumedRole",
                    arn=session.arn,
                    principal_id=f"{role_id}:{session.session_name}",
                    account_id=account_id,
                    access_key_id=access_key_id,
                    session_issuer_arn=session.role_arn,
                    session_issuer_id=role_id,
                )
    if key is not None and key.user_name:
        user = iam.users.get(key.user_name)
        if user is not None:
            return Caller(
                type="IAMUser",
                arn=user.arn,
                principal_id=user.id,
                account_id=account_id,
                access_key_id=access_key_id,
            )
    account_id = account_id or DEFAULT_ACCOUNT_ID
    return Caller(
        type="Root",
        arn=f"arn:aws:iam::{account_id}:root",
        principal_id=account_id,
        account_id=account_id,
        access_key_id=access_key_id,
    )


def _role_id(account_id: str, role_arn: str) -> str:
    try:
        return str(iam_backends[account_id]["aws"].get_role_by_arn(role_arn).id)
    except Exception:  # the role was deleted after the session began
        return "AROA" + "0" * 17
