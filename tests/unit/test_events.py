# ruff: noqa: E501 - the table of bad events gives each reason whole, as it is logged
"""The event parser: every trigger of the real shape becomes its intent; everything else is Ignored with a
reason, and parsing never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from access_guard.core.events import (
    MAX_EVENT_BYTES,
    Actor,
    BaselineChange,
    EksChange,
    Ignored,
    PrincipalChange,
    parse,
    url_decode,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from .cloudtrail_samples import (
    ACCOUNT,
    BOB,
    CLUSTER,
    CLUSTER_EVENTS,
    DEV,
    ENTRY_EVENTS,
    EVENT_ID,
    OTHER_ACCOUNT,
    PREFIX,
    REGION,
    ROOT,
    SELF_ROLE,
    SELF_ROLES,
    USER_AGENT,
    aws_service,
    changed,
    eks_record,
    encoded,
    envelope,
    iam_record,
    root,
    session,
    ssm_event,
    user,
)

WHEN = datetime(2026, 11, 23, 22, 14, 38, tzinfo=UTC)
BOB_ACTOR = Actor(BOB, "IAMUser", BOB, "10.0.0.1", USER_AGENT)
SSM_ID = "6a7e4feb-b491-4cf7-a9f1-bf3703497718"
MANIFEST = f"{PREFIX}clusters/{REGION}/{CLUSTER}"


def parsed(event: object, *, region: str = REGION, prefix: str = PREFIX) -> Any:
    return parse(event, account=ACCOUNT, region=region, prefix=prefix, self_roles=SELF_ROLES)


# --- every trigger, real shape ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ENTRY_EVENTS)
def test_an_entry_event_names_the_cluster_and_the_decoded_principal(name: str) -> None:
    # given an EKS entry event (the principal URL-encoded where it is a path parameter)
    event = envelope(eks_record(name))
    # when
    intent = parsed(event)
    # then
    assert intent == EksChange(EVENT_ID, name, WHEN, ACCOUNT, REGION, CLUSTER, DEV, BOB_ACTOR)


@pytest.mark.parametrize("name", CLUSTER_EVENTS)
def test_a_cluster_event_names_the_cluster_and_no_principal(name: str) -> None:
    intent = parsed(envelope(eks_record(name)))
    assert intent == EksChange(EVENT_ID, name, WHEN, ACCOUNT, REGION, CLUSTER, None, BOB_ACTOR)


def test_the_cluster_comes_from_cluster_name_when_the_record_has_no_name() -> None:
    record = changed(eks_record("DeleteAccessEntry"), "requestParameters.name")
    record["requestParameters"]["clusterName"] = "staging"
    intent = parsed(envelope(record))
    assert isinstance(intent, EksChange) and intent.cluster == "staging"


def test_name_is_preferred_over_cluster_name() -> None:
    record = eks_record("DeleteAccessEntry")
    record["requestParameters"]["clusterName"] = "staging"
    assert parsed(envelope(record)).cluster == CLUSTER


def test_a_bare_cloudtrail_record_is_accepted_for_replay() -> None:
    intent = parsed(eks_record("DeleteAccessEntry"))
    assert intent == EksChange(EVENT_ID, "DeleteAccessEntry", WHEN, ACCOUNT, REGION, CLUSTER, DEV, BOB_ACTOR)


def test_json_text_is_parsed_like_the_object() -> None:
    event = envelope(eks_record("DeleteAccessEntry"))
    assert parsed(json.dumps(event)) == parsed(json.dumps(event).encode()) == parsed(event)


@pytest.mark.parametrize(
    ("name", "kind", "deleted"),
    [("DeleteRole", "role", True), ("DeleteUser", "user", True)],
)
def test_an_iam_deletion_names_the_principal_without_its_path(name: str, kind: str, deleted: bool) -> None:
    # given: IAM records carry the name only, and null responseElements
    event = envelope(iam_record(name, "dev"))
    # when
    intent = parsed(event)
    # then
    actor = Actor(ROOT, "Root", ROOT, "10.0.0.1", USER_AGENT)
    assert intent == PrincipalChange(EVENT_ID, name, WHEN, ACCOUNT, kind, "dev", deleted, actor, None)


@pytest.mark.parametrize(("name", "kind"), [("CreateRole", "role"), ("CreateUser", "user")])
def test_an_iam_creation_keeps_the_new_arn_with_its_path(name: str, kind: str) -> None:
    intent = parsed(envelope(iam_record(name, "dev", path="/team/")))
    assert isinstance(intent, PrincipalChange)
    assert (intent.kind, intent.name, intent.deleted) == (kind, "dev", False)
    assert intent.arn == f"arn:aws:iam::{ACCOUNT}:{kind}/team/dev"


def test_an_iam_event_is_accepted_in_any_service_region() -> None:
    # given: IAM records say us-east-1; the event was forwarded to a service in eu-west-1
    event = envelope(iam_record("DeleteRole"), region="eu-west-1")
    # when
    intent = parsed(event, region="eu-west-1")
    # then
    assert isinstance(intent, PrincipalChange) and intent.name == "dev"


@pytest.mark.parametrize("operation", ["Create", "Update", "Delete"])
def test_a_baseline_manifest_change_names_the_cluster(operation: str) -> None:
    intent = parsed(ssm_event(MANIFEST, operation))
    assert intent == BaselineChange(SSM_ID, WHEN, ACCOUNT, REGION, CLUSTER, operation, MANIFEST)


def test_a_baseline_change_under_another_prefix_is_read_with_that_prefix() -> None:
    name = f"/teams/guard/clusters/{REGION}/{CLUSTER}"
    intent = parsed(ssm_event(name), prefix="/teams/guard/")
    assert isinstance(intent, BaselineChange) and intent.parameter == name


def test_the_event_time_is_utc_whatever_the_offset_written() -> None:
    record = changed(eks_record("DeleteAccessEntry"), "eventTime", "2026-11-24T00:14:38+02:00")
    assert parsed(record).event_time == WHEN


# --- the actor ------------------------------------------------------------------------------------------


def test_a_session_is_attributed_to_its_issuer_role_with_its_path() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/ops/Admin"
    intent = parsed(envelope(eks_record("DeleteAccessEntry", identity=session(role))))
    assert intent.actor == Actor(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice", "AssumedRole", role, "10.0.0.1", USER_AGENT
    )


def test_root_is_its_own_principal() -> None:
    intent = parsed(envelope(eks_record("DeleteAccessEntry", identity=root())))
    assert intent.actor.principal_arn == ROOT


def test_an_aws_service_caller_has_no_principal() -> None:
    intent = parsed(envelope(eks_record("DeleteAccessEntry", identity=aws_service())))
    assert intent.actor.principal_arn is None and intent.actor.type == "AWSService"


def test_a_user_is_its_own_principal() -> None:
    intent = parsed(envelope(eks_record("DeleteAccessEntry", identity=user(BOB))))
    assert intent.actor == BOB_ACTOR


def test_the_actor_describes_itself_in_one_line() -> None:
    assert BOB_ACTOR.describe() == f"{BOB} from 10.0.0.1"


def test_a_session_actor_names_its_role() -> None:
    actor = Actor(
        "arn:aws:sts::1:assumed-role/Admin/alice", "AssumedRole", "arn:aws:iam::1:role/Admin", None, None
    )
    assert actor.describe() == "arn:aws:sts::1:assumed-role/Admin/alice (role arn:aws:iam::1:role/Admin)"


def test_the_service_user_agent_is_noted_but_not_trusted() -> None:
    # given: someone else's call that claims the service's user agent
    record = changed(eks_record("DeleteAccessEntry"), "userAgent", USER_AGENT + " app/eks-access-guard")
    # when
    intent = parsed(envelope(record))
    # then: it is acted on, and the claim is on the record
    assert isinstance(intent, EksChange)
    assert intent.actor.claims_service_user_agent
    assert intent.actor.describe().endswith("(user agent app/eks-access-guard)")


def test_a_call_by_the_services_own_role_is_its_own_write() -> None:
    event = envelope(eks_record("CreateAccessEntry", identity=session(SELF_ROLE, "remediate")))
    assert parsed(event) == Ignored(f"the service's own write: CreateAccessEntry by {SELF_ROLE}", EVENT_ID)


def test_the_services_own_role_is_recognised_whatever_path_the_record_shows() -> None:
    # Role names are unique in an account: the same name under another path is the same role.
    same_role = f"arn:aws:iam::{ACCOUNT}:role/eks-access-guard-remediate"
    event = envelope(eks_record("DeleteAccessEntry", identity=session(same_role)))
    assert isinstance(parsed(event), Ignored)


def test_a_role_of_the_same_name_in_another_account_is_not_the_service() -> None:
    stranger = session(f"arn:aws:iam::{OTHER_ACCOUNT}:role/service/eks-access-guard-remediate")
    assert isinstance(parsed(envelope(eks_record("DeleteAccessEntry", identity=stranger))), EksChange)


# --- bad, hostile and irrelevant events: each Ignored with its reason -----------------------------------

EKS = envelope(eks_record("DeleteAccessEntry"))
CREATE = envelope(eks_record("CreateAccessEntry"))
IAM = envelope(iam_record("DeleteRole"))
CREATE_ROLE = envelope(iam_record("CreateRole", path="/team/"))
SSM = ssm_event(MANIFEST)
BIG = "x" * (MAX_EVENT_BYTES + 1)
DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB of JSON, nested beyond what a parser can follow


def principal(value: Any, event: dict[str, Any] = EKS) -> dict[str, Any]:
    return changed(event, "detail.requestParameters.principalArn", value)


def cluster(value: Any) -> dict[str, Any]:
    return changed(EKS, "detail.requestParameters.name", value)


def from_(identity: Any) -> dict[str, Any]:
    return changed(EKS, "detail.userIdentity", identity)


BAD: list[tuple[str, object, str]] = [
    # -- not an event at all
    ("a list", [EKS], "malformed: the event is a list, not a JSON object"),
    ("null", None, "malformed: the event is null, not a JSON object"),
    ("a number", 42, "malformed: the event is an integer, not a JSON object"),
    ("text that is not JSON", "hello", "malformed: not JSON (Expecting value: line 1, column 1)"),
    ("JSON text of a string", '"hello"', "malformed: the event is a string, not a JSON object"),
    (
        "truncated JSON",
        json.dumps(EKS)[:100],
        "malformed: not JSON (Unterminated string starting at: line 1, column 79)",
    ),
    ("bytes that are not UTF-8", b"\xff\xfe{}", "malformed: not UTF-8 text"),
    (
        "an integer too long to read",
        '{"detail-type": ' + "9" * 5000 + "}",
        "malformed: not JSON we can read (Exceeds the limit (4300 digits) for integer string conversion)",
    ),
    ("nested beyond reading", DEEP, "malformed: nested too deeply to read"),
    (
        "an empty object",
        {},
        "malformed: neither an EventBridge event (detail-type, source, detail) nor a CloudTrail record (eventSource, eventName)",
    ),
    (
        "unrelated keys",
        {"Records": [EKS]},
        "malformed: neither an EventBridge event (detail-type, source, detail) nor a CloudTrail record (eventSource, eventName)",
    ),
    # -- too large: not looked into
    (
        "a huge detail field",
        changed(EKS, "detail.requestParameters.name", BIG),
        f"too large: over {MAX_EVENT_BYTES} bytes of JSON (EventBridge's limit); not read",
    ),
    (
        "huge JSON text",
        json.dumps(changed(EKS, "detail.padding", BIG)),
        f"too large: over {MAX_EVENT_BYTES} bytes of JSON (EventBridge's limit); not read",
    ),
    (
        "a million tiny items",
        changed(EKS, "detail.resources", [0] * 1_000_000),
        f"too large: over {MAX_EVENT_BYTES} bytes of JSON (EventBridge's limit); not read",
    ),
    # -- the envelope
    ("detail a list", changed(EKS, "detail", [1]), "malformed: detail is a list, not an object"),
    (
        "detail a string",
        changed(EKS, "detail", json.dumps(EKS["detail"])),
        "malformed: detail is a string, not an object",
    ),
    ("detail missing", changed(EKS, "detail"), "malformed: detail is missing"),
    ("detail null", changed(EKS, "detail", None), "malformed: detail is missing"),
    (
        "detail-type an integer",
        changed(EKS, "detail-type", 7),
        "malformed: detail-type is an integer, not a string",
    ),
    ("source missing", changed(EKS, "source"), "malformed: source is missing"),
    (
        "another detail-type",
        changed(EKS, "detail-type", "EC2 Instance State-change Notification"),
        "unknown event: detail-type 'EC2 Instance State-change Notification' from source 'aws.eks'",
    ),
    (
        "envelope for another account",
        changed(EKS, "account", OTHER_ACCOUNT),
        f"another account: {OTHER_ACCOUNT} (this service is account {ACCOUNT})",
    ),
    (
        "envelope account not an id",
        changed(EKS, "account", "1234"),
        "malformed: account '1234' is not a 12-digit account id",
    ),
    (
        "source not matching the record",
        changed(EKS, "source", "aws.iam"),
        "malformed: source 'aws.iam' does not match detail.eventSource 'eks.amazonaws.com'",
    ),
    # -- the record's identity fields
    ("eventID missing", changed(EKS, "detail.eventID"), "malformed: detail.eventID is missing"),
    (
        "eventID an object",
        changed(EKS, "detail.eventID", {"$ne": None}),
        "malformed: detail.eventID is an object, not a string",
    ),
    (
        "eventID with a newline",
        changed(EKS, "detail.eventID", "abc\nINFO forged log line"),
        "malformed: detail.eventID 'abc\\nINFO forged log line' is not an event id",
    ),
    ("eventSource missing", changed(EKS, "detail.eventSource"), "malformed: detail.eventSource is missing"),
    (
        "eventName an integer",
        changed(EKS, "detail.eventName", 3),
        "malformed: detail.eventName is an integer, not a string",
    ),
    ("eventName empty", changed(EKS, "detail.eventName", ""), "malformed: detail.eventName is empty"),
    # -- failed, read-only, unknown
    (
        "a failed call",
        changed(EKS, "detail.errorCode", "AccessDeniedException"),
        "failed call: 'DeleteAccessEntry' returned errorCode 'AccessDeniedException' (it changed nothing)",
    ),
    (
        "a failed call with a mistyped errorCode",
        changed(EKS, "detail.errorCode", {"code": 1}),
        "failed call: 'DeleteAccessEntry' returned errorCode an object (it changed nothing)",
    ),
    (
        "a failed IAM call",
        changed(IAM, "detail.errorCode", "DeleteConflict"),
        "failed call: 'DeleteRole' returned errorCode 'DeleteConflict' (it changed nothing)",
    ),
    (
        "a read-only call",
        changed(changed(EKS, "detail.eventName", "DescribeAccessEntry"), "detail.readOnly", True),
        "read-only: 'DescribeAccessEntry' changes nothing",
    ),
    (
        "a read by its name",
        changed(changed(EKS, "detail.eventName", "ListAccessEntries"), "detail.readOnly"),
        "read-only: 'ListAccessEntries' changes nothing",
    ),
    (
        "readOnly a string",
        changed(EKS, "detail.readOnly", "false"),
        "malformed: detail.readOnly is a string, not a boolean",
    ),
    (
        "an unknown EKS event",
        changed(EKS, "detail.eventName", "TagResource"),
        "unknown event name: eks.amazonaws.com 'TagResource' is not a trigger",
    ),
    (
        "an IAM name from EKS",
        changed(EKS, "detail.eventName", "DeleteRole"),
        "unknown event name: eks.amazonaws.com 'DeleteRole' is not a trigger",
    ),
    (
        "an unknown IAM event",
        changed(IAM, "detail.eventName", "AttachRolePolicy"),
        "unknown event name: iam.amazonaws.com 'AttachRolePolicy' is not a trigger",
    ),
    (
        "an unknown source",
        changed(changed(EKS, "source", "aws.ssm"), "detail.eventSource", "ssm.amazonaws.com"),
        "unknown event source: 'ssm.amazonaws.com' (the guard acts on EKS and IAM calls)",
    ),
    (
        "a bare record of an unknown source",
        changed(eks_record("DeleteAccessEntry"), "eventSource", "s3.amazonaws.com"),
        "unknown event source: 's3.amazonaws.com' (the guard acts on EKS and IAM calls)",
    ),
    # -- account and region
    (
        "a record for another account",
        changed(changed(EKS, "account"), "detail.recipientAccountId", OTHER_ACCOUNT),
        f"another account: {OTHER_ACCOUNT} (this service is account {ACCOUNT})",
    ),
    (
        "recipientAccountId missing",
        changed(EKS, "detail.recipientAccountId"),
        "malformed: detail.recipientAccountId is missing",
    ),
    (
        "recipientAccountId a number",
        changed(EKS, "detail.recipientAccountId", 123456789012),
        "malformed: detail.recipientAccountId is an integer, not a string",
    ),
    (
        "a cluster in another region",
        changed(EKS, "detail.awsRegion", "eu-west-1"),
        f"another region: the cluster is in eu-west-1 (this service is in {REGION})",
    ),
    (
        "a region that is not one",
        changed(EKS, "detail.awsRegion", "moon-1"),
        "malformed: detail.awsRegion 'moon-1' is not an AWS region",
    ),
    # -- time
    ("eventTime missing", changed(EKS, "detail.eventTime"), "malformed: detail.eventTime is missing"),
    (
        "eventTime not a time",
        changed(EKS, "detail.eventTime", "yesterday"),
        "malformed: detail.eventTime 'yesterday' is not an ISO 8601 time",
    ),
    (
        "eventTime without a zone",
        changed(EKS, "detail.eventTime", "2026-11-23T22:14:38"),
        "malformed: detail.eventTime '2026-11-23T22:14:38' has no time zone",
    ),
    (
        "eventTime a number",
        changed(EKS, "detail.eventTime", 1764000000),
        "malformed: detail.eventTime is an integer, not a string",
    ),
    # -- who
    ("userIdentity missing", from_(None), "malformed: detail.userIdentity is missing"),
    ("userIdentity a string", from_("root"), "malformed: detail.userIdentity is a string, not an object"),
    (
        "the service's own role",
        from_(session(SELF_ROLE)),
        f"the service's own write: DeleteAccessEntry by {SELF_ROLE}",
    ),
    (
        "the service's own role deleting a principal",
        changed(IAM, "detail.userIdentity", session(SELF_ROLE)),
        f"the service's own write: DeleteRole by {SELF_ROLE}",
    ),
    # -- EKS request parameters
    (
        "requestParameters null",
        changed(EKS, "detail.requestParameters", None),
        "malformed: detail.requestParameters is missing",
    ),
    (
        "requestParameters a list",
        changed(EKS, "detail.requestParameters", ["prod"]),
        "malformed: detail.requestParameters is a list, not an object",
    ),
    (
        "no cluster name",
        changed(EKS, "detail.requestParameters.name"),
        "malformed: detail.requestParameters.name is missing",
    ),
    (
        "cluster name an integer",
        cluster(7),
        "malformed: detail.requestParameters.name is an integer, not a string",
    ),
    (
        "cluster name an object",
        cluster({"name": "prod"}),
        "malformed: detail.requestParameters.name is an object, not a string",
    ),
    (
        "cluster name a path",
        cluster("../etc/passwd"),
        "malformed: detail.requestParameters.name '../etc/passwd' is not a valid EKS cluster name",
    ),
    (
        "cluster name with a newline",
        cluster("prod\n"),
        "malformed: detail.requestParameters.name 'prod\\n' is not a valid EKS cluster name",
    ),
    (
        "cluster name too long",
        cluster("p" * 101),
        f"malformed: detail.requestParameters.name {'p' * 101!r} is not a valid EKS cluster name",
    ),
    (
        "principalArn missing",
        changed(EKS, "detail.requestParameters.principalArn"),
        "malformed: detail.requestParameters.principalArn is missing",
    ),
    (
        "principalArn a list",
        principal([DEV]),
        "malformed: detail.requestParameters.principalArn is a list, not a string",
    ),
    (
        "principalArn encoded twice",
        principal(encoded(encoded(DEV))),
        "malformed: detail.requestParameters.principalArn: 'arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fteam%2Fdev' is not a well-formed ARN (arn:aws:iam::<12-digit account>:role/<name> or user/<name>)",
    ),
    (
        "principalArn decoding to nonsense",
        principal("%41%42%43"),
        "malformed: detail.requestParameters.principalArn: 'ABC' is not a well-formed ARN (arn:aws:iam::<12-digit account>:role/<name> or user/<name>)",
    ),
    (
        "principalArn with a broken escape",
        principal("arn%3Aaws%zz"),
        "malformed: detail.requestParameters.principalArn 'arn%3Aaws%zz' is not URL-encoded text",
    ),
    (
        "principalArn decoding to bad UTF-8",
        principal("arn%3A%FF"),
        "malformed: detail.requestParameters.principalArn 'arn%3A%FF' is not URL-encoded text",
    ),
    (
        "principalArn a session (encoded)",
        principal(encoded(f"arn:aws:sts::{ACCOUNT}:assumed-role/dev/alice")),
        f"malformed: detail.requestParameters.principalArn: an STS session ARN is not an IAM principal; use the role ARN (arn:aws:iam::{ACCOUNT}:role/dev, with its path if any)",
    ),
    (
        "principalArn a session (plain, create)",
        principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/dev/alice", CREATE),
        f"malformed: detail.requestParameters.principalArn: an STS session ARN is not an IAM principal; use the role ARN (arn:aws:iam::{ACCOUNT}:role/dev, with its path if any)",
    ),
    (
        "principalArn of another service",
        principal("arn:aws:s3:::bucket", CREATE),
        "malformed: detail.requestParameters.principalArn: 'arn:aws:s3:::bucket' is not an IAM ARN; principals are IAM roles or users",
    ),
    (
        "principalArn with a region",
        principal(f"arn:aws:iam:us-east-1:{ACCOUNT}:role/dev", CREATE),
        f"malformed: detail.requestParameters.principalArn: 'arn:aws:iam:us-east-1:{ACCOUNT}:role/dev' has a region; IAM ARNs have none (arn:aws:iam::<account>:...)",
    ),
    (
        "principalArn a group",
        principal(encoded(f"arn:aws:iam::{ACCOUNT}:group/admins")),
        f"malformed: detail.requestParameters.principalArn: 'arn:aws:iam::{ACCOUNT}:group/admins' is not an IAM role or user ARN (role/[path/]name or user/[path/]name)",
    ),
    # -- IAM request parameters
    (
        "roleName missing",
        changed(IAM, "detail.requestParameters.roleName"),
        "malformed: detail.requestParameters.roleName is missing",
    ),
    (
        "roleName with a slash",
        changed(IAM, "detail.requestParameters.roleName", "team/dev"),
        "malformed: detail.requestParameters.roleName 'team/dev' is not an IAM role name",
    ),
    (
        "roleName with a space",
        changed(IAM, "detail.requestParameters.roleName", "dev ops"),
        "malformed: detail.requestParameters.roleName 'dev ops' is not an IAM role name",
    ),
    (
        "userName an integer",
        changed(envelope(iam_record("DeleteUser")), "detail.requestParameters.userName", 5),
        "malformed: detail.requestParameters.userName is an integer, not a string",
    ),
    (
        "IAM requestParameters null",
        changed(IAM, "detail.requestParameters", None),
        "malformed: detail.requestParameters is missing",
    ),
    (
        "a created role's ARN naming another role",
        changed(CREATE_ROLE, "detail.responseElements.role.arn", f"arn:aws:iam::{ACCOUNT}:role/other"),
        f"malformed: detail.responseElements.role.arn 'arn:aws:iam::{ACCOUNT}:role/other' does not name role dev of account {ACCOUNT}",
    ),
    (
        "a created role's ARN not a string",
        changed(CREATE_ROLE, "detail.responseElements.role.arn", ["x"]),
        f"malformed: detail.responseElements.role.arn a list does not name role dev of account {ACCOUNT}",
    ),
    # -- SSM parameter changes
    (
        "a parameter outside the prefix",
        ssm_event("/other-app/config"),
        "outside the prefix: SSM parameter '/other-app/config' is not under /eks-access-guard/clusters/",
    ),
    (
        "a sibling of the prefix",
        ssm_event(f"/eks-access-guard/clusters-old/{REGION}/{CLUSTER}"),
        f"outside the prefix: SSM parameter '/eks-access-guard/clusters-old/{REGION}/{CLUSTER}' is not under /eks-access-guard/clusters/",
    ),
    (
        "a baseline chunk",
        ssm_event(f"{MANIFEST}/v/0001-abc/0"),
        f"a baseline chunk: '{MANIFEST}/v/0001-abc/0' (the manifest, written last, marks a baseline change)",
    ),
    (
        "a region folder, not a manifest",
        ssm_event(f"{PREFIX}clusters/{REGION}"),
        f"malformed: detail.name '{PREFIX}clusters/{REGION}' is not a baseline manifest ({PREFIX}clusters/REGION/CLUSTER)",
    ),
    (
        "a manifest of a bad cluster name",
        ssm_event(f"{PREFIX}clusters/{REGION}/bad.name"),
        f"malformed: detail.name '{PREFIX}clusters/{REGION}/bad.name' does not name a region and an EKS cluster",
    ),
    (
        "a parameter in another region",
        ssm_event(MANIFEST, region="eu-west-1"),
        f"another region: a parameter in eu-west-1 (this service is in {REGION})",
    ),
    (
        "a baseline for another region",
        ssm_event(f"{PREFIX}clusters/eu-west-1/{CLUSTER}"),
        f"another region: the baseline of {CLUSTER} is for eu-west-1 (this service is in {REGION})",
    ),
    (
        "an unknown parameter operation",
        ssm_event(MANIFEST, "LabelParameterVersion"),
        "unknown operation: Parameter Store 'LabelParameterVersion' changes no baseline",
    ),
    ("an SSM change without an id", changed(SSM, "id"), "malformed: id is missing"),
    (
        "an SSM change at no time",
        changed(SSM, "time", "soon"),
        "malformed: time 'soon' is not an ISO 8601 time",
    ),
    (
        "an SSM change naming nothing",
        changed(SSM, "detail.name", 12),
        "malformed: detail.name is an integer, not a string",
    ),
    (
        "an SSM change without an operation",
        changed(SSM, "detail.operation"),
        "malformed: detail.operation is missing",
    ),
    (
        "an SSM change in another account",
        changed(SSM, "account", OTHER_ACCOUNT),
        f"another account: {OTHER_ACCOUNT} (this service is account {ACCOUNT})",
    ),
]


@pytest.mark.parametrize(("event", "reason"), [(e, r) for _, e, r in BAD], ids=[i for i, _, _ in BAD])
def test_a_bad_event_is_ignored_with_its_reason(event: object, reason: str) -> None:
    # when
    intent = parsed(event)
    # then
    assert isinstance(intent, Ignored)
    assert intent.reason == reason
    assert "\n" not in intent.reason


def test_there_are_at_least_fifty_bad_events() -> None:
    assert len(BAD) >= 50


def test_an_ignored_event_keeps_its_event_id_once_known() -> None:
    intent = parsed(changed(EKS, "detail.errorCode", "AccessDeniedException"))
    assert intent.event_id == EVENT_ID


def test_an_event_without_a_readable_id_is_ignored_without_one() -> None:
    assert parsed(changed(EKS, "detail", "x")).event_id is None


def test_a_long_echoed_value_is_cut_short_in_the_reason() -> None:
    intent = parsed(cluster("x" * 10_000))
    assert isinstance(intent, Ignored) and len(intent.reason) < 300


def test_a_cyclic_object_is_too_large_not_an_endless_walk() -> None:
    event: dict[str, Any] = changed(EKS, "detail.loop", None)
    event["detail"]["loop"] = event
    assert parsed(event).reason.startswith("too large")


# --- URL decoding --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        (encoded(DEV), DEV),
        (DEV, DEV),
        ("a%2Bb", "a+b"),
        ("a+b", "a+b"),  # a path parameter: '+' is itself
        ("%C3%A9", "é"),
        ("%", None),
        ("%4", None),
        ("%GG", None),
        ("%C3", None),  # half a UTF-8 character
    ],
)
def test_url_decoding(text: str, decoded: str | None) -> None:
    assert url_decode(text) == decoded


# --- never raises --------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "detail",
    "detail-type",
    "source",
    "account",
    "detail.eventID",
    "detail.eventName",
    "detail.eventSource",
    "detail.eventTime",
    "detail.awsRegion",
    "detail.recipientAccountId",
    "detail.userIdentity",
    "detail.userIdentity.sessionContext",
    "detail.requestParameters",
    "detail.requestParameters.name",
    "detail.requestParameters.principalArn",
    "detail.responseElements",
]


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES)
def test_any_json_value_is_parsed_without_raising(value: object) -> None:
    intent = parsed(value)
    assert isinstance(intent, Ignored) and intent.reason


@settings(max_examples=500, deadline=None)
@given(
    base=st.sampled_from([EKS, CREATE, IAM, CREATE_ROLE]),
    field=st.sampled_from(FIELDS),
    value=JSON_VALUES,
)
def test_any_value_in_any_field_of_a_real_event_is_parsed_without_raising(
    base: dict[str, Any], field: str, value: object
) -> None:
    if field.startswith("detail.requestParameters.") and not isinstance(
        base["detail"]["requestParameters"], dict
    ):
        return
    event = changed(base, field, value)
    intent = parsed(event)
    assert isinstance(intent, EksChange | PrincipalChange | Ignored)
