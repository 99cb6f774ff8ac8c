"""IAM Identity Center, as far as IAM shows it: one role per permission set, re-made with a new suffix.

Identity Center provisions a permission set to an account as the IAM role
`/aws-reserved/sso.amazonaws.com/[REGION/]AWSReservedSSO_<PermissionSet>_<16 hex>`; re-provisioning it (or
removing and adding its assignment again) deletes that role and creates another with a new random suffix.
The control API's `POST /_emulator/identity-center/permission-sets/{name}/provision` does exactly that:
it deletes the set's roles, then creates the new one, as real IAM calls made by Identity Center's
service-linked role (a session of `AWSServiceRoleForSSO`), so CloudTrail records DeleteRole and CreateRole
as it would, and the guard's event path sees them.

The emulator imports nothing of the product: these names are AWS's, written down here on their own.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from . import control

SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
SERVICE_ROLE_PATH = "/aws-service-role/sso.amazonaws.com/"
SERVICE_ROLE_NAME = "AWSServiceRoleForSSO"
# CreatePermissionSet's Name: 1-32 characters of [\w+=,.@-] (IAM Identity Center API Reference).
_SET_NAME = re.compile(r"^[\w+=,.@-]{1,32}$", re.ASCII)
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ROLE_NAME = re.compile(r"^AWSReservedSSO_(?P<set>.+)_[0-9a-f]{16}$")
_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::{account}:saml-provider/AWSSSO_0_DO_NOT_DELETE"},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ],
    }
)
_app: Any = None


def set_roles(account: str, permission_set: str) -> list[str]:
    """The ARNs of the permission set's roles in `account` (any region segment), sorted."""
    iam = iam_backends[account]["aws"]
    with control.STATE_LOCK:
        roles = list(iam.roles.values())
    return sorted(
        r.arn
        for r in roles
        if r.path.startswith(SSO_PATH)
        and (m := _ROLE_NAME.fullmatch(r.name)) is not None
        and m["set"] == permission_set
    )


def provision(account: str, permission_set: str, region: str | None = None) -> dict[str, Any]:
    """Delete the permission set's roles and create a new one with a new suffix, as Identity Center does."""
    if not _SET_NAME.fullmatch(permission_set):
        raise ValueError(f"{permission_set!r} is not a permission-set name (1-32 of [A-Za-z0-9_+=,.@-])")
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(f"not an account id: {account!r}")
    if region is not None and not _REGION.fullmatch(region):
        raise ValueError(f"not a region: {region!r}")
    key = _service_session(account)
    deleted = []
    for arn in set_roles(account, permission_set):
        _iam_call(key, {"Action": "DeleteRole", "RoleName": arn.rsplit("/", 1)[-1]})
        deleted.append(arn)
    name = f"AWSReservedSSO_{permission_set}_{secrets.token_hex(8)}"
    path = SSO_PATH + (f"{region}/" if region else "")
    _iam_call(
        key,
        {
            "Action": "CreateRole",
            "RoleName": name,
            "Path": path,
            "AssumeRolePolicyDocument": _TRUST.replace("{account}", account),
            "MaxSessionDuration": "43200",
        },
    )
    created = f"arn:aws:iam::{account}:role{path}{name}"
    return {"permissionSet": permission_set, "deleted": deleted, "created": created}


def _service_session(account: str) -> str:
    """An access key of a session of Identity Center's service-linked role (made on first use)."""
    iam = iam_backends[account]["aws"]
    arn = f"arn:aws:iam::{account}:role{SERVICE_ROLE_PATH}{SERVICE_ROLE_NAME}"
    with control.STATE_LOCK:
        if SERVICE_ROLE_NAME not in {r.name for r in iam.roles.values()}:
            trust = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sso.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            )
            linked = "sso.amazonaws.com"
            iam.create_role(SERVICE_ROLE_NAME, trust, SERVICE_ROLE_PATH, None, "", [], None, linked)
        session = sts_backends[account]["global"].assume_role("us-east-1", "AWS-SSO", arn, "", 3600, "")
    return str(session.access_key_id)


def _iam_call(access_key: str, params: dict[str, str]) -> None:
    """One IAM call through the local AWS's middleware (CloudTrail records it), signed as `access_key`."""
    global _app
    if _app is None:
        from .server import make_app  # the server registers this module's route: import it late

        _app = make_app()
    body = urlencode({**params, "Version": "2010-05-08"}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "RAW_URI": "/",
        "SERVER_NAME": "iam.amazonaws.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "sso.amazonaws.com",
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "iam.amazonaws.com",
        "HTTP_USER_AGENT": "sso.amazonaws.com",
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/iam/aws4_request, "
            "SignedHeaders=host, Signature=0"
        ),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "https",
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(line)
        return lambda data: None

    response = b"".join(_app(environ, start_response))
    if not status or not status[0].startswith("2"):
        raise RuntimeError(f"IAM {params['Action']} failed: {status[:1]} {response[:300]!r}")


@control.route("POST", r"identity-center/permission-sets/(?P<name>[^/]+)/provision", locked=False)
def _provision(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    body = body or {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object: {account?, region?}")
    return 200, provision(body.get("account") or "123456789012", params["name"], body.get("region"))


@control.route("GET", r"identity-center/permission-sets/(?P<name>[^/]+)/roles")
def _roles(params: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
    return 200, {"roles": set_roles(query.get("account") or "123456789012", params["name"])}
