"""build_record, the pure core of the CloudTrail recorder: one observed call in, one record out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import pytest

from local.calls import Call
from local.cloudtrail import build_record, envelope
from local.cloudtrail.records import lookup_summary
from local.identity import Caller
from local.operations import resolve

ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/platform/ops"
ENCODED_ROLE_ARN = quote(ROLE_ARN, safe="")
POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ENCODED_POLICY_ARN = quote(POLICY_ARN, safe="")
WHEN = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
USER = Caller(
    type="IAMUser",
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    principal_id="AIDAEXAMPLEALICE",
    account_id=ACCOUNT,
    access_key_id="AKIAEXAMPLEALICE",
)


def eks_call(method: str, path: str, body: dict[str, object] | None = None, query: str = "") -> Call:
    raw = json.dumps(body).encode() if body is not None else b""
    operation = resolve("eks", method, path, {}, raw)
    assert operation is not None, f"{method} {path} is no EKS operation"
    return Call(
        operation=operation,
        region="eu-west-1",
        caller=USER,
        method=method,
        path=path,
        query_string=query,
        headers={},
        body=raw,
        source_ip="10.1.2.3",
        user_agent="aws-cli/1.45",
        time=WHEN,
    )


def iam_call(action: str, region: str = "eu-west-1", **fields: str) -> Call:
    raw = urlencode({"Action": action, "Version": "2010-05-08", **fields}).encode()
    operation = resolve("iam", "POST", "/", {}, raw)
    assert operation is not None
    return Call(
        operation=operation,
        region=region,
        caller=USER,
        method="POST",
        path="/",
        query_string="",
        headers={},
        body=raw,
        source_ip="10.1.2.3",
        user_agent="Boto3/1.43",
        time=WHEN,
    )


def ok_json(payload: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
    return (
        200,
        {"Content-Type": "application/json", "x-amzn-RequestId": "req-1"},
        json.dumps(payload).encode(),
    )


def eks_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"x-amzn-ErrorType": code}, json.dumps({"message": message}).encode()


# --- what every record carries ---------------------------------------------------------------------


def test_a_write_call_becomes_a_management_event_record_of_the_real_shape() -> None:
    # Given a successful DeleteCluster call
    call = eks_call("DELETE", "/clusters/prod")

    # When it is recorded
    record = build_record(call, *ok_json({"cluster": {"name": "prod"}}))

    # Then the record has CloudTrail's fields and values
    assert record is not None
    assert record["eventVersion"] == "1.09"
    assert record["userIdentity"] == USER.cloudtrail_user_identity()
    assert record["eventTime"] == "2025-03-04T05:06:07Z"
    assert record["eventSource"] == "eks.amazonaws.com"
    assert record["eventName"] == "DeleteCluster"
    assert record["awsRegion"] == "eu-west-1"
    assert record["sourceIPAddress"] == "10.1.2.3"
    assert record["userAgent"] == "aws-cli/1.45"
    assert record["requestID"] == "req-1"
    assert record["readOnly"] is False
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["recipientAccountId"] == ACCOUNT
    assert record["eventCategory"] == "Management"
    assert "errorCode" not in record


def test_each_record_gets_its_own_event_id() -> None:
    call = eks_call("DELETE", "/clusters/prod")
    ids = {build_record(call, *ok_json({}))["eventID"] for _ in range(20)}  # type: ignore[index]
    assert len(ids) == 20


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/clusters/prod"),
        ("GET", "/clusters"),
        ("GET", f"/clusters/prod/access-entries/{ENCODED_ROLE_ARN}"),
        ("GET", "/clusters/prod/access-entries"),
    ],
)
def test_read_only_calls_are_not_recorded(method: str, path: str) -> None:
    assert build_record(eks_call(method, path), *ok_json({})) is None


def test_other_services_are_not_recorded() -> None:
    raw = urlencode({"Action": "SendMessage", "QueueUrl": "q", "MessageBody": "x"}).encode()
    operation = resolve("sqs", "POST", "/", {"x-amz-target": "AmazonSQS.SendMessage"}, raw)
    assert operation is not None
    call = Call(operation, "us-east-1", USER, "POST", "/", "", {}, raw, "127.0.0.1", "ua")
    assert build_record(call, 200, {}, b"{}") is None


# --- EKS request parameters and responses -----------------------------------------------------------


def test_path_parameter_principal_arns_stay_url_encoded() -> None:
    call = eks_call("DELETE", f"/clusters/prod/access-entries/{ENCODED_ROLE_ARN}")
    record = build_record(call, *ok_json({}))
    assert record is not None
    assert record["eventName"] == "DeleteAccessEntry"
    assert record["requestParameters"] == {"name": "prod", "principalArn": ENCODED_ROLE_ARN}


def test_disassociate_shows_both_arns_url_encoded() -> None:
    path = f"/clusters/prod/access-entries/{ENCODED_ROLE_ARN}/access-policies/{ENCODED_POLICY_ARN}"
    record = build_record(eks_call("DELETE", path), *ok_json({}))
    assert record is not None
    assert record["eventName"] == "DisassociateAccessPolicy"
    assert record["requestParameters"] == {
        "name": "prod",
        "principalArn": ENCODED_ROLE_ARN,
        "policyArn": ENCODED_POLICY_ARN,
    }


def test_create_access_entry_takes_the_plain_principal_arn_from_the_body() -> None:
    body = {"principalArn": ROLE_ARN, "kubernetesGroups": ["ops"], "type": "STANDARD"}
    record = build_record(eks_call("POST", "/clusters/prod/access-entries", body), *ok_json({}))
    assert record is not None
    assert record["eventName"] == "CreateAccessEntry"
    assert record["requestParameters"] == {"name": "prod", **body}


def test_associate_merges_path_and_body_parameters() -> None:
    body = {"policyArn": POLICY_ARN, "accessScope": {"type": "namespace", "namespaces": ["dev"]}}
    path = f"/clusters/prod/access-entries/{ENCODED_ROLE_ARN}/access-policies"
    record = build_record(eks_call("POST", path, body), *ok_json({}))
    assert record is not None
    assert record["eventName"] == "AssociateAccessPolicy"
    assert record["requestParameters"] == {"name": "prod", "principalArn": ENCODED_ROLE_ARN, **body}


def test_query_parameters_join_the_request_parameters() -> None:
    record = build_record(eks_call("DELETE", "/clusters/prod", query="force=true"), *ok_json({}))
    assert record is not None
    assert record["requestParameters"] == {"name": "prod", "force": "true"}


def test_create_access_entry_echoes_the_entry_with_iso_timestamps() -> None:
    entry = {
        "clusterName": "prod",
        "principalArn": ROLE_ARN,
        "createdAt": 1741064767.5,
        "modifiedAt": 1741064767.5,
    }
    body = {"principalArn": ROLE_ARN}
    record = build_record(
        eks_call("POST", "/clusters/prod/access-entries", body), *ok_json({"accessEntry": entry})
    )
    assert record is not None
    assert record["responseElements"] == {
        "accessEntry": {
            "clusterName": "prod",
            "principalArn": ROLE_ARN,
            "createdAt": "2025-03-04T05:06:07Z",
            "modifiedAt": "2025-03-04T05:06:07Z",
        }
    }


def test_update_cluster_config_carries_the_update() -> None:
    update = {
        "id": "u-1",
        "status": "InProgress",
        "type": "AccessConfigUpdate",
        "params": [{"type": "AuthenticationMode", "value": "API"}],
        "createdAt": 1741064767,
        "errors": [],
    }
    body = {"accessConfig": {"authenticationMode": "API"}}
    record = build_record(
        eks_call("POST", "/clusters/prod/update-config", body), *ok_json({"update": update})
    )
    assert record is not None
    assert record["eventName"] == "UpdateClusterConfig"
    assert record["requestParameters"]["name"] == "prod"
    assert record["responseElements"] == {"update": {**update, "createdAt": "2025-03-04T05:06:07Z"}}


def test_a_failed_eks_call_carries_the_error_type_header_and_no_response() -> None:
    call = eks_call("POST", "/clusters/prod/access-entries", {"principalArn": ROLE_ARN})
    record = build_record(call, *eks_error(409, "ResourceInUseException", "already in use"))
    assert record is not None
    assert record["errorCode"] == "ResourceInUseException"
    assert record["errorMessage"] == "already in use"
    assert record["responseElements"] is None


def test_an_error_type_with_a_documentation_suffix_is_cut_to_the_code() -> None:
    headers = {"X-Amzn-ErrorType": "ResourceNotFoundException:http://internal.amazon.com/coral/"}
    record = build_record(eks_call("DELETE", "/clusters/gone"), 404, headers, b'{"message": "No cluster"}')
    assert record is not None
    assert record["errorCode"] == "ResourceNotFoundException"


# --- IAM ----------------------------------------------------------------------------------------------

CREATE_ROLE_XML = b"""<CreateRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <CreateRoleResult><Role>
    <Path>/platform/</Path><RoleName>ops</RoleName><RoleId>AROAEXAMPLEOPS</RoleId>
    <Arn>arn:aws:iam::111122223333:role/platform/ops</Arn><CreateDate>2025-03-04T05:06:07Z</CreateDate>
    <AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument>
    <Tags><member><Key>team</Key><Value>platform</Value></member></Tags>
  </Role></CreateRoleResult>
  <ResponseMetadata><RequestId>iam-req-7</RequestId></ResponseMetadata>
</CreateRoleResponse>"""


def test_iam_records_land_in_us_east_1_whatever_the_callers_region() -> None:
    record = build_record(iam_call("DeleteRole", region="ap-southeast-2", RoleName="ops"), 200, {}, b"<x/>")
    assert record is not None
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSource"] == "iam.amazonaws.com"


def test_iam_request_parameters_are_the_form_less_action_and_version_lower_camel_cased() -> None:
    call = iam_call("CreateRole", RoleName="ops", Path="/platform/", AssumeRolePolicyDocument="{}")
    record = build_record(call, 200, {}, CREATE_ROLE_XML)
    assert record is not None
    assert record["requestParameters"] == {
        "roleName": "ops",
        "path": "/platform/",
        "assumeRolePolicyDocument": "{}",
    }


def test_iam_member_lists_become_lists() -> None:
    fields = {"Tags.member.1.Key": "team", "Tags.member.1.Value": "a", "Tags.member.2.Key": "env"}
    record = build_record(iam_call("CreateUser", UserName="bob", **fields), 200, {}, b"<x/>")
    assert record is not None
    assert record["requestParameters"] == {
        "userName": "bob",
        "tags": [{"key": "team", "value": "a"}, {"key": "env"}],
    }


def test_create_role_response_elements_come_from_the_xml_result() -> None:
    record = build_record(iam_call("CreateRole", RoleName="ops"), 200, {}, CREATE_ROLE_XML)
    assert record is not None
    assert record["responseElements"] == {
        "role": {
            "path": "/platform/",
            "roleName": "ops",
            "roleId": "AROAEXAMPLEOPS",
            "arn": ROLE_ARN,
            "createDate": "2025-03-04T05:06:07Z",
            "assumeRolePolicyDocument": "%7B%7D",
            "tags": [{"key": "team", "value": "platform"}],
        }
    }
    assert record["requestID"] == "iam-req-7"


def test_delete_role_has_only_the_name_and_null_response_elements() -> None:
    body = b"<DeleteRoleResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
    body += b"</DeleteRoleResponse>"
    record = build_record(iam_call("DeleteRole", RoleName="ops"), 200, {}, body)
    assert record is not None
    assert record["requestParameters"] == {"roleName": "ops"}
    assert record["responseElements"] is None


def test_secrets_in_an_iam_response_are_not_written_down() -> None:
    body = (
        b"<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>bob</UserName>"
        b"<AccessKeyId>AKIAX</AccessKeyId><Status>Active</Status><SecretAccessKey>s3cr3t</SecretAccessKey>"
        b"</AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>"
    )
    record = build_record(iam_call("CreateAccessKey", UserName="bob"), 200, {}, body)
    assert record is not None
    assert record["responseElements"] == {
        "accessKey": {"userName": "bob", "accessKeyId": "AKIAX", "status": "Active"}
    }


def test_a_failed_iam_call_takes_code_and_message_from_the_xml_error() -> None:
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"
        b"<Message>The role with name ops cannot be found.</Message></Error></ErrorResponse>"
    )
    record = build_record(iam_call("DeleteRole", RoleName="ops"), 404, {}, body)
    assert record is not None
    assert record["errorCode"] == "NoSuchEntity"
    assert record["errorMessage"] == "The role with name ops cannot be found."
    assert record["responseElements"] is None


# --- views of a record ---------------------------------------------------------------------------------


def test_assumed_role_identity_carries_the_session_issuer_with_its_path() -> None:
    session = Caller(
        type="AssumedRole",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/alice",
        principal_id="AROAEXAMPLEOPS:alice",
        account_id=ACCOUNT,
        access_key_id="ASIAEXAMPLE",
        session_issuer_arn=ROLE_ARN,
        session_issuer_id="AROAEXAMPLEOPS",
    )
    call = iam_call("DeleteUser", UserName="bob")
    call.caller = session
    record = build_record(call, 200, {}, b"<x/>")
    assert record is not None
    assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == ROLE_ARN
    assert lookup_summary(record)["Username"] == "alice"


def test_lookup_summary_names_the_user_and_the_resource() -> None:
    record = build_record(iam_call("DeleteRole", RoleName="ops"), 200, {}, b"<x/>")
    assert record is not None
    summary = lookup_summary(record)
    assert summary["Username"] == "alice"
    assert summary["AccessKeyId"] == "AKIAEXAMPLEALICE"
    assert summary["ReadOnly"] == "false"
    assert summary["Resources"] == [{"ResourceType": "AWS::IAM::Role", "ResourceName": "ops"}]
    assert json.loads(summary["CloudTrailEvent"]) == record


def test_the_eventbridge_envelope_wraps_the_record() -> None:
    record = build_record(iam_call("DeleteRole", RoleName="ops"), 200, {}, b"<x/>")
    assert record is not None
    event = envelope(record)
    assert event["version"] == "0"
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    assert event["source"] == "aws.iam"
    assert event["account"] == ACCOUNT
    assert event["region"] == "us-east-1"
    assert event["time"] == "2025-03-04T05:06:07Z"
    assert event["resources"] == []
    assert event["detail"] == record
