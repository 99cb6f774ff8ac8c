"""The emulator's Identity Center helper: a permission set's role re-made with a new suffix, as IAM calls."""

from __future__ import annotations

import re

import boto3
import pytest

from local.client import Emulator, EmulatorError

ROLE = re.compile(
    r"^arn:aws:iam::123456789012:role/aws-reserved/sso\.amazonaws\.com/(eu-west-1/)?"
    r"AWSReservedSSO_PlatformAdmins_[0-9a-f]{16}$"
)


def test_provisioning_again_deletes_the_role_and_creates_one_with_a_new_suffix(aws: Emulator) -> None:
    first = aws.provision_permission_set("PlatformAdmins")
    assert first["deleted"] == [] and ROLE.match(first["created"])
    again = aws.provision_permission_set("PlatformAdmins", region="eu-west-1")
    assert again["deleted"] == [first["created"]]
    assert ROLE.match(again["created"]) and "/eu-west-1/" in again["created"]
    assert aws.permission_set_roles("PlatformAdmins") == [again["created"]]
    listed = boto3.client("iam").list_roles(PathPrefix="/aws-reserved/sso.amazonaws.com/")["Roles"]
    assert [r["Arn"] for r in listed] == [again["created"]]


def test_cloudtrail_records_the_delete_then_the_create_by_the_sso_service_role(aws: Emulator) -> None:
    first = aws.provision_permission_set("PlatformAdmins")
    again = aws.provision_permission_set("PlatformAdmins")
    records = [r for r in aws.cloudtrail_records() if r["eventSource"] == "iam.amazonaws.com"]
    names = [(r["eventName"], r["requestParameters"]["roleName"]) for r in records[-2:]]
    assert names == [
        ("DeleteRole", first["created"].rsplit("/", 1)[-1]),
        ("CreateRole", again["created"].rsplit("/", 1)[-1]),
    ]
    created = records[-1]
    assert created["responseElements"]["role"]["arn"] == again["created"]
    issuer = created["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    assert issuer.endswith(":role/aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO")


def test_a_name_identity_center_would_refuse_is_a_clear_error(aws: Emulator) -> None:
    with pytest.raises(EmulatorError, match="400.*not a permission-set name"):
        aws.provision_permission_set("Platform Admins!")
