"""Break glass decided in the core: who may call, what a request may ask, what a grant may not do. Pure."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from access_guard.core import breakglass as bg
from access_guard.core.config import DEFAULT_GRANT_POLICIES
from access_guard.core.model import AccessScope, Baseline, EntrySpec, LiveEntry, PolicyAssociation
from access_guard.core.policies import ADMIN_POLICY_ARN, POLICY_ARN_PREFIX

ACCOUNT = "123456789012"
SSO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_OnCall_0a1b2c"
PLAIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/sre"
USER = f"arn:aws:iam::{ACCOUNT}:user/people/sam"
ONCALL = (SSO_ROLE, PLAIN_ROLE, USER)
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
EDIT = POLICY_ARN_PREFIX + "AmazonEKSEditPolicy"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_OnCall_0a1b2c/alice@example.com"


def who(arn: str | None, key: str = "ASIAEXAMPLE") -> bg.Identity:
    return bg.Identity(user_arn=arn, access_key=key, source_ip="203.0.113.7")


# --- authorization ------------------------------------------------------------------------------------


def test_a_session_of_a_role_with_a_path_is_that_role_and_the_grant_names_the_role_with_its_path() -> None:
    caller = bg.authorize(who(SESSION), ONCALL, False, None)
    assert isinstance(caller, bg.Caller)
    assert caller.principal_arn == SSO_ROLE  # what an access entry needs: the path kept
    assert caller.arn == SESSION and caller.session == "alice@example.com"
    assert caller.source_ip == "203.0.113.7"


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_OnCall_0a1b2/alice",  # a name it starts with
        f"arn:aws:sts::{ACCOUNT}:assumed-role/awsreservedsso_oncall_0a1b2c/alice",  # names are case-sensitive
        "arn:aws:sts::999999999999:assumed-role/AWSReservedSSO_OnCall_0a1b2c/alice",  # another account
        f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_OnCall_0a1b2c/alice",  # another partition
        f"arn:aws:sts::{ACCOUNT}:federated-user/alice",
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam::{ACCOUNT}:user/sam",  # the on-call user has a path: users match by ARN
        f"arn:aws:iam::{ACCOUNT}:user/people/mallory",
        "not an arn",
    ],
)
def test_anyone_else_is_not_on_call(arn: str) -> None:
    refusal = bg.authorize(who(arn), ONCALL, False, None)
    assert refusal == bg.Refusal(403, f"{arn} is not an on-call principal of this deployment")


def test_a_request_without_a_caller_is_refused() -> None:
    assert isinstance(bg.authorize(who(None), ONCALL, False, None), bg.Refusal)


def test_an_on_call_user_is_matched_by_its_arn() -> None:
    caller = bg.authorize(who(USER, key="AKIAEXAMPLE"), ONCALL, False, None)
    assert isinstance(caller, bg.Caller) and caller.principal_arn == USER


def test_with_mfa_required_a_long_term_key_is_refused_and_a_session_is_left_to_the_resource_policy() -> None:
    assert bg.long_term_key("AKIAEXAMPLE") and not bg.long_term_key("ASIAEXAMPLE")
    refused = bg.authorize(who(USER, "AKIAEXAMPLE"), ONCALL, True, False)
    assert isinstance(refused, bg.Refusal) and "requires MFA" in refused.message
    assert isinstance(bg.authorize(who(SESSION), ONCALL, True, None), bg.Caller)
    assert isinstance(bg.authorize(who(USER, "AKIAEXAMPLE"), ONCALL, False, False), bg.Caller)


def request(**fields: object) -> bg.GrantRequest:
    doc = {"accessPolicy": "AmazonEKSViewPolicy", "durationMinutes": 15, "reason": "INC-1", **fields}
    return bg.parse_grant(doc, allowed_policies=DEFAULT_GRANT_POLICIES, max_minutes=60)


def test_a_grant_is_for_the_caller_unless_it_names_another_on_call_principal() -> None:
    caller = bg.Caller(SSO_ROLE, SESSION)
    assert bg.grant_principal(caller, request(), ONCALL) == SSO_ROLE
    assert bg.grant_principal(caller, request(principalArn=USER), ONCALL) == USER
    # The on-call role named without its path is still that role; the grant names it with its path.
    bare = f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_OnCall_0a1b2c"
    assert bg.grant_principal(caller, request(principalArn=bare), ONCALL) == SSO_ROLE


def test_a_grant_may_not_name_anyone_who_is_not_on_call() -> None:
    caller = bg.Caller(SSO_ROLE, SESSION)
    with pytest.raises(bg.Forbidden, match="may name only an on-call principal"):
        bg.grant_principal(caller, request(principalArn=f"arn:aws:iam::{ACCOUNT}:role/dev"), ONCALL)


# --- bodies -------------------------------------------------------------------------------------------


def test_a_grant_request_is_parsed_into_its_model() -> None:
    parsed = request(namespaces=["payments", "payments-*", "payments"], reason="  INC-7 outage  ")
    assert parsed == bg.GrantRequest(
        policy_arn=VIEW,
        scope=AccessScope("namespace", ("payments", "payments-*")),
        duration_minutes=15,
        reason="INC-7 outage",
    )
    assert request(accessPolicy=ADMIN_POLICY_ARN).policy_arn == ADMIN_POLICY_ARN


BAD_GRANTS = [
    ({"extra": 1}, "unknown field 'extra' in a grant request"),
    ({"durationMinute": 5}, "did you mean durationMinutes?"),
    ({"reason": None}, "reason is required"),
    ({"reason": "   "}, "reason must not be empty"),
    ({"reason": 42}, "reason must be a string, got a number"),
    ({"reason": "x" * 501}, "reason must be at most 500 characters, got 501"),
    ({"reason": "two\nlines"}, "reason must be one line of text"),
    ({"durationMinutes": 0}, "durationMinutes must be between 1 and 60, got 0"),
    ({"durationMinutes": 61}, "durationMinutes must be between 1 and 60, got 61"),
    ({"durationMinutes": 15.5}, "durationMinutes must be a whole number of minutes, got a number"),
    ({"durationMinutes": True}, "durationMinutes must be a whole number of minutes, got a boolean"),
    ({"durationMinutes": "15"}, "durationMinutes must be a whole number of minutes, got a string"),
    ({"durationMinutes": None}, "durationMinutes is required"),
    ({"accessPolicy": None}, "accessPolicy is required"),
    ({"accessPolicy": "AmazonEKSViewPolicyy"}, "unknown access policy 'AmazonEKSViewPolicyy'; did you mean"),
    ({"accessPolicy": "AmazonEKSSecretReaderPolicy"}, "is not a policy this deployment grants"),
    ({"accessPolicy": "arn:aws:iam::aws:policy/AdministratorAccess"}, "is not an access policy ARN"),
    ({"accessPolicy": "AmazonEKSClusterAdminPolicy", "namespaces": ["a"]}, "granted at cluster scope only"),
    ({"accessPolicy": "AmazonEKSAdminViewPolicy", "namespaces": ["a"]}, "granted at cluster scope only"),
    ({"namespaces": []}, "namespaces must name at least one namespace"),
    ({"namespaces": "payments"}, "namespaces must be a list of namespace names, got a string"),
    ({"namespaces": ["Payments"]}, "'Payments' is not a Kubernetes namespace name"),
    ({"namespaces": [f"n{i}" for i in range(26)]}, "namespaces may name at most 25, got 26"),
    ({"principalArn": SESSION}, "principalArn: an STS session ARN is not an IAM principal; use the role ARN"),
    ({"principalArn": "arn:aws:iam::12345:role/x"}, "principalArn: 'arn:aws:iam::12345:role/x': the account"),
    ({"principalArn": f"arn:aws:iam::{ACCOUNT}:root"}, "principalArn: an account root cannot be granted"),
    ({"principalArn": 7}, "principalArn must be an IAM role or user ARN, got a number"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_GRANTS)
def test_a_bad_grant_request_is_refused_with_its_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(bg.BadRequest) as raised:
        request(**fields)
    assert raised.value.status == 400
    assert message in raised.value.message, raised.value.message
    assert raised.value.message.startswith("invalid grant request: ")


def test_every_problem_of_a_request_is_said_at_once() -> None:
    with pytest.raises(bg.BadRequest) as raised:
        bg.parse_grant({"durationMinutes": 0}, allowed_policies=DEFAULT_GRANT_POLICIES, max_minutes=60)
    assert len(raised.value.problems) == 3  # reason, accessPolicy, durationMinutes
    assert raised.value.to_json()["problems"] == list(raised.value.problems)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"reason": "INC-1", "dryRun": "yes"}, "dryRun must be true or false, got a string"),
        ({"dryRun": True}, "reason is required"),
        ({"reason": "INC-1", "force": True}, "unknown field 'force' in a restore request"),
        (["reason"], "the body must be a JSON object (a restore request), got a list"),
    ],
)
def test_a_bad_restore_request_is_refused(doc: object, message: str) -> None:
    with pytest.raises(bg.BadRequest, match=None) as raised:
        bg.parse_restore(doc)
    assert message in raised.value.message


def test_a_restore_request_is_a_reason_and_maybe_a_dry_run() -> None:
    assert bg.parse_restore({"reason": " INC-1 "}) == bg.RestoreRequest("INC-1", False)
    assert bg.parse_restore({"reason": "INC-1", "dryRun": True}).dry_run


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (None, bg.BadRequest, "a JSON body is required"),
        ("", bg.BadRequest, "a JSON body is required"),
        ("{", bg.BadRequest, "the body is not valid JSON: Expecting property name"),
        ('{"a": NaN}', bg.BadRequest, "NaN is not a JSON number"),
        ('{"reason": "a", "reason": "b"}', bg.BadRequest, "the body has the field 'reason' twice"),
        ('{"reason": "' + "x" * bg.MAX_BODY_BYTES + '"}', bg.PayloadTooLarge, "at most 16384 are accepted"),
    ],
)
def test_a_body_that_is_not_one_json_document_is_refused(
    text: str | None, error: type[bg.ApiError], message: str
) -> None:
    with pytest.raises(error) as raised:
        bg.decode_body(text)
    assert message in raised.value.message


def test_a_base64_body_is_decoded() -> None:
    import base64

    encoded = base64.b64encode(json.dumps({"reason": "x"}).encode()).decode()
    assert bg.decode_body(encoded, base64_encoded=True) == {"reason": "x"}
    with pytest.raises(bg.BadRequest, match="not UTF-8"):
        bg.decode_body(base64.b64encode(b"\xff\xfe").decode(), base64_encoded=True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit must be a whole number from 1 to 100"),
        ({"limit": "many"}, "limit must be a whole number from 1 to 100"),
        ({"cluster": "bad name"}, "'bad name' is not an EKS cluster name"),
        ({"page": "2"}, "unknown query parameter 'page'"),
    ],
)
def test_a_bad_audit_query_is_refused(params: dict[str, str], message: str) -> None:
    with pytest.raises(bg.BadRequest) as raised:
        bg.parse_audit_query(params)
    assert message in raised.value.message


def test_names_in_the_path_are_checked() -> None:
    assert bg.check_cluster_name("payments-eu_1") == "payments-eu_1"
    for bad in ("-payments", "pay ments", "x" * 101, ""):
        with pytest.raises(bg.BadRequest):
            bg.check_cluster_name(bad)
    with pytest.raises(bg.BadRequest, match="not a grant id"):
        bg.check_grant_id("g-1")


# --- what a grant may do ------------------------------------------------------------------------------


def baseline(*entries: EntrySpec) -> Baseline:
    return Baseline("payments", "us-east-1", "API", entries)


def test_the_cluster_maximum_lowers_the_deployment_maximum_and_never_raises_it() -> None:
    assert bg.max_minutes(60, None) == 60
    assert bg.max_minutes(60, 30) == 30
    assert bg.max_minutes(60, 120) == 60


def test_a_grant_on_a_node_entry_is_refused() -> None:
    nodes = f"arn:aws:iam::{ACCOUNT}:role/nodes"
    in_baseline = baseline(EntrySpec(nodes, type="EC2_LINUX"))
    assert "node entry in the baseline" in (
        bg.grant_conflict(in_baseline, None, nodes, VIEW, AccessScope()) or ""
    )
    live = LiveEntry(nodes, "EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", (), ())
    assert "has a EC2_LINUX node entry" in (
        bg.grant_conflict(baseline(), live, nodes, VIEW, AccessScope()) or ""
    )


def test_a_grant_the_baseline_already_covers_is_refused_as_narrowing() -> None:
    spec = EntrySpec(PLAIN_ROLE, policies=(PolicyAssociation(EDIT, AccessScope()),))
    why = bg.grant_conflict(baseline(spec), None, PLAIN_ROLE, EDIT, AccessScope.of("namespace", ["payments"]))
    assert why is not None and "a grant never narrows a baseline path" in why
    assert bg.grant_conflict(baseline(spec), None, PLAIN_ROLE, EDIT, AccessScope()) is not None


def test_a_grant_that_widens_or_adds_is_allowed() -> None:
    spec = EntrySpec(PLAIN_ROLE, policies=(PolicyAssociation(EDIT, AccessScope.of("namespace", ["a"])),))
    assert bg.grant_conflict(baseline(spec), None, PLAIN_ROLE, EDIT, AccessScope()) is None
    assert (
        bg.grant_conflict(baseline(spec), None, PLAIN_ROLE, EDIT, AccessScope.of("namespace", ["b"])) is None
    )
    assert bg.grant_conflict(baseline(spec), None, PLAIN_ROLE, ADMIN_POLICY_ARN, AccessScope()) is None


# --- the record ----------------------------------------------------------------------------------------


def test_an_audit_record_round_trips_through_json_and_says_its_outcome() -> None:
    record = bg.AuditRecord(
        at=datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
        request_id="r-1",
        action="grant",
        region="us-east-1",
        status=409,
        detail="the baseline already gives ...",
        cluster="payments",
        caller=SESSION,
        principal=SSO_ROLE,
        source_ip="203.0.113.7",
        reason="INC-1",
        request={"method": "POST", "path": "/clusters/payments/grants"},
    )
    assert bg.AuditRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert record.outcome == "conflict"
    assert [bg.outcome_of(s) for s in (200, 201, 202, 400, 403, 404, 413, 429, 500)] == [
        "ok",
        "ok",
        "accepted",
        "invalid",
        "refused",
        "not-found",
        "invalid",
        "rate-limited",
        "failed",
    ]


def test_the_note_of_a_write_says_who_from_where_why_what_and_how_it_went() -> None:
    record = bg.AuditRecord(
        at=datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
        request_id="r-1",
        action="restore",
        region="us-east-1",
        status=200,
        detail="restored to the baseline (3 writes)",
        cluster="payments",
        caller=SESSION,
        principal=SSO_ROLE,
        source_ip="203.0.113.7",
        reason="INC-1 nobody can get in",
        request={"method": "POST", "body": {"reason": "INC-1 nobody can get in", "dryRun": False}},
    )
    note = bg.breakglass_note(record, "Cluster payments (us-east-1): access restored to the baseline.\n")
    assert note.kind == "break-glass" and note.cluster == "payments"
    assert note.subject == "[payments] break glass: restore by alice@example.com (ok)"
    assert f"by {SESSION} (on-call principal {SSO_ROLE}), from 203.0.113.7" in note.text
    assert "Reason: INC-1 nobody can get in" in note.text
    assert "Outcome: 200 ok: restored to the baseline (3 writes)" in note.text
    assert note.text.rstrip().endswith("access restored to the baseline.")
    assert note.document["caller"] == SESSION and note.document["kind"] == "break-glass"
