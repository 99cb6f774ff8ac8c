"""Events of the real shape, built as the local AWS's CloudTrail builds them (local/cloudtrail/records.py) and
as the fact sheet (section 3) describes: `requestParameters.name`, URL-encoded principal ARNs in path
parameters, IAM records with names only and `responseElements: null`, EventBridge envelopes around them,
and SSM's native "Parameter Store Change" events.

Plain data, no I/O: the unit tests of the event parser and of work items build on these.
"""

from __future__ import annotations

import copy
from typing import Any

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
PREFIX = "/eks-access-guard/"
CLUSTER = "prod"
EVENT_ID = "fb64b21b-8e74-4e5d-805e-98d220b1f5dd"
EVENT_TIME = "2026-11-23T22:14:38Z"
DEV = f"arn:aws:iam::{ACCOUNT}:role/team/dev"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
SELF_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service/eks-access-guard-remediate"
SELF_ROLES = frozenset({SELF_ROLE})
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
USER_AGENT = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux lang/python#3.11.7 Botocore/1.43.11"
ENTRY_EVENTS = (
    "CreateAccessEntry",
    "UpdateAccessEntry",
    "DeleteAccessEntry",
    "AssociateAccessPolicy",
    "DisassociateAccessPolicy",
)
CLUSTER_EVENTS = ("UpdateClusterConfig", "CreateCluster", "DeleteCluster")


def encoded(arn: str) -> str:
    """An ARN as CloudTrail shows a path parameter: every reserved character percent-encoded."""
    return "".join(c if c.isalnum() or c in "-_.~" else f"%{ord(c):02X}" for c in arn)


def user(arn: str = BOB) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEBOB",
        "arn": arn,
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLE",
        "userName": arn.rsplit("/", 1)[-1],
    }


def root() -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": ROOT,
        "accountId": ACCOUNT,
        "accessKeyId": "testing",
    }


def session(role_arn: str, name: str = "alice") -> dict[str, Any]:
    role_name = role_arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{name}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": role_arn,
                "accountId": ACCOUNT,
                "userName": role_name,
            },
            "attributes": {"mfaAuthenticated": "false"},
        },
    }


def aws_service(service: str = "eks.amazonaws.com") -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": service}


def _record(source: str, name: str, region: str, parameters: Any, response: Any, identity: Any) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": EVENT_TIME,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "10.0.0.1",
        "userAgent": USER_AGENT,
        "requestParameters": parameters,
        "responseElements": response,
        "requestID": "phAYzprsT5Cc1TYkbnrKWVCfdfS0bHq5pD0YZuXP1XApM04BOFGc",
        "eventID": EVENT_ID,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def eks_record(
    name: str,
    *,
    cluster: str = CLUSTER,
    principal: str = DEV,
    region: str = REGION,
    identity: Any = None,
) -> dict[str, Any]:
    """An EKS write's record: the cluster in `requestParameters.name`; the principal plain in
    CreateAccessEntry's body, URL-encoded where it is a path parameter."""
    parameters: dict[str, Any] = {"name": cluster}
    response: dict[str, Any] | None = None
    if name == "CreateAccessEntry":
        parameters.update(principalArn=principal, clientRequestToken="ae37b098-cd19-4533")
        response = {"accessEntry": {"clusterName": cluster, "principalArn": principal, "type": "STANDARD"}}
    elif name in ENTRY_EVENTS:
        parameters["principalArn"] = encoded(principal)
        if name == "UpdateAccessEntry":
            parameters["kubernetesGroups"] = ["admins"]
        if name == "AssociateAccessPolicy":
            parameters.update(policyArn=VIEW, accessScope={"type": "cluster"})
        if name == "DisassociateAccessPolicy":
            parameters["policyArn"] = encoded(VIEW)
    elif name == "UpdateClusterConfig":
        parameters["accessConfig"] = {"authenticationMode": "API"}
        response = {"update": {"id": "u-1", "status": "InProgress", "type": "AccessConfigUpdate"}}
    elif name == "CreateCluster":
        parameters.update(roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster", resourcesVpcConfig={})
        response = {"cluster": {"name": cluster, "status": "CREATING"}}
    return _record("eks.amazonaws.com", name, region, parameters, response, identity or user())


def iam_record(name: str, principal_name: str = "dev", *, path: str = "/", identity: Any = None) -> dict:
    """An IAM record: the name only in requestParameters; Create responses carry the new ARN (with path);
    Delete responses are null. IAM records say us-east-1 whatever the caller's region."""
    kind = "role" if name.endswith("Role") else "user"
    parameters: dict[str, Any] = {f"{kind}Name": principal_name}
    response: dict[str, Any] | None = None
    if name.startswith("Create"):
        parameters["path"] = path
        arn = f"arn:aws:iam::{ACCOUNT}:{kind}{path}{principal_name}"
        response = {
            kind: {"path": path, f"{kind}Name": principal_name, f"{kind}Id": "AROAEXAMPLE", "arn": arn}
        }
    return _record("iam.amazonaws.com", name, "us-east-1", parameters, response, identity or root())


def envelope(record: dict[str, Any], *, region: str | None = None) -> dict[str, Any]:
    """The EventBridge event carrying `record` (as local/cloudtrail/records.py's `envelope`)."""
    return {
        "version": "0",
        "id": "0b3c2a4e-7c55-4b8e-9f10-1d2e3f4a5b6c",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + record["eventSource"].split(".", 1)[0],
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": region or record["awsRegion"],
        "resources": [],
        "detail": record,
    }


def ssm_event(
    name: str = f"{PREFIX}clusters/{REGION}/{CLUSTER}", operation: str = "Update", *, region: str = REGION
) -> dict[str, Any]:
    """SSM's native "Parameter Store Change" event (not a CloudTrail record)."""
    return {
        "version": "0",
        "id": "6a7e4feb-b491-4cf7-a9f1-bf3703497718",
        "detail-type": "Parameter Store Change",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": EVENT_TIME,
        "region": region,
        "resources": [f"arn:aws:ssm:{region}:{ACCOUNT}:parameter{name}"],
        "detail": {"operation": operation, "name": name, "type": "String", "description": ""},
    }


_MISSING = object()


def changed(event: dict[str, Any], path: str, value: Any = _MISSING) -> dict[str, Any]:
    """A deep copy of `event` with the field at dotted `path` set to `value` (removed when no value)."""
    copied = copy.deepcopy(event)
    *parents, leaf = path.split(".")
    node = copied
    for part in parents:
        node = node[part]
    if value is _MISSING:
        del node[leaf]
    else:
        node[leaf] = value
    return copied
