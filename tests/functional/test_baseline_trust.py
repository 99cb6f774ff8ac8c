"""Only baseline writers' baselines become cluster access: the local pipeline as `python -m local serve` runs
it (the baseline key under its alias, its ARN in every function's environment). A baseline pushed as a String
or under another key is never applied (the emulator's oracle: nothing changed on the cluster) and is alerted
once, naming the parameter, what it is and who wrote it; the last trusted baseline keeps being enforced.
Every trusted change is told with its writer and its access diff, cluster admins first."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from access_guard.adapters.baseline_store import BaselineRejected, BaselineStore
from access_guard.adapters.breakglass_client import BreakGlassClient
from access_guard.adapters.trusted_copies import TrustedCopies
from access_guard.cli.main import main
from access_guard.core.config import Env, Metrics
from access_guard.core.trust import BASELINE_KEY_ALIAS
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring
from access_guard.services.baselines import TrustedBaselines
from botocore.credentials import Credentials

from local.baseline_key import ensure_baseline_key
from local.runner import Pipeline

from .scenario import ACCOUNT, ADMIN, REGION, VIEW, baseline_doc, create_cluster, entry, role

CLUSTER = "payments"


def person(name: str) -> boto3.Session:
    """An IAM user with keys of its own: what SSM records as the writer of its parameters."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


@pytest.fixture
def key(aws: Any) -> str:
    return ensure_baseline_key(boto3.client("kms", region_name=REGION))


def handlers_wiring() -> Any:
    return importlib.import_module("access_guard.handlers.wiring")


def start(endpoint: str, key: str, **environment: str) -> Pipeline:
    made = Pipeline.create(endpoint, region=REGION, environment={Env.BASELINE_KEY_ARN: key, **environment})
    wiring.reset()
    intake_handler.reset()
    return made


@pytest.fixture
def pipeline(aws: Any, endpoint: str, key: str) -> Iterator[Pipeline]:
    aws.set_eks_settings(mode_update_seconds=0.05)
    yield start(endpoint, key)
    wiring.reset()
    intake_handler.reset()


def push(session: boto3.Session, *entries: dict[str, Any], key_id: str | None) -> None:
    text = json.dumps(baseline_doc(CLUSTER, list(entries), auth="API", prune=True))
    BaselineStore(session.client("ssm", region_name=REGION), kms_key_id=key_id).put(text)


def notes_of(pipeline: Pipeline, kind: str) -> list[dict[str, Any]]:
    return [n["document"] for n in pipeline.notifications(wait_seconds=1) if n["document"]["kind"] == kind]


@pytest.fixture
def managed(pipeline: Pipeline, aws: Any, key: str) -> dict[str, Any]:
    """A cluster at a baseline its writer pushed under the key: platform admin, on-call viewer."""
    platform, oncall = role("platform", "/platform/"), role("oncall")
    create_cluster(CLUSTER, mode="API", bootstrap=False)
    writer = person("writer")
    push(writer, entry(platform, (ADMIN, None)), entry(oncall, (VIEW, ["apps"])), key_id=key)
    pipeline.drain()
    return {"platform": platform, "oncall": oncall, "writer": writer, "notes": pipeline.notifications()}


def test_a_baseline_under_the_key_is_applied_and_its_note_names_the_writer_and_the_admins_it_adds(
    managed, aws
):
    assert aws.admins(CLUSTER) == [managed["platform"]]
    [change] = [n["document"] for n in managed["notes"] if n["document"]["kind"] == "baseline-change"]
    assert change["writer"] == user("writer")
    assert change["diff"]["adminsAdded"] == [managed["platform"]]
    text = change["text"]
    assert text.index(f"+ cluster admin: {managed['platform']}") < text.index(managed["oncall"])


@pytest.mark.parametrize("how", ["String", "another key"])
def test_a_baseline_from_outside_the_boundary_is_never_applied_and_alerted_once(managed, pipeline, aws, how):
    before = aws.access(CLUSTER)
    mallory = person("mallory")
    other_key = None
    if how == "another key":
        other_key = mallory.client("kms").create_key()["KeyMetadata"]["Arn"]
    # when someone who may write SSM parameters, but is no baseline writer, makes herself cluster admin
    push(mallory, entry(user("mallory"), (ADMIN, None)), key_id=other_key)
    pipeline.drain()
    pipeline.sweep()
    pipeline.drain()
    # then nothing changed on the cluster (the oracle), and one alert names the write and its writer
    assert aws.access(CLUSTER) == before
    assert user("mallory") not in aws.admins(CLUSTER)
    [alert] = notes_of(pipeline, "alert")
    assert alert["title"] == "baseline refused: not from a baseline writer"
    rejected = alert["rejected"]
    assert rejected and {r["writer"] for r in rejected} == {user("mallory")}
    assert any(r["parameter"] == f"/eks-access-guard/clusters/{REGION}/{CLUSTER}" for r in rejected)
    found = "a String" if how == "String" else f"a SecureString under key {other_key}"
    assert {r["found"] for r in rejected} == {found}
    assert "keeps enforcing the last trusted baseline" in alert["text"]


def test_the_last_trusted_baseline_keeps_being_enforced_after_a_refused_write(managed, pipeline, aws):
    push(person("mallory"), entry(user("mallory"), (ADMIN, None)), key_id=None)
    pipeline.drain()
    # when bob deletes the on-call viewer's entry
    boto3.client("eks", region_name=REGION).delete_access_entry(
        clusterName=CLUSTER, principalArn=managed["oncall"]
    )
    pipeline.drain()
    # then the trusted baseline puts it back; the refused one gives mallory nothing
    principals = {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}
    assert managed["oncall"] in principals and user("mallory") not in principals


def test_an_untrusted_first_baseline_changes_nothing(pipeline, aws):
    create_cluster(CLUSTER, mode="API", bootstrap=True)
    before = aws.access(CLUSTER)
    push(person("mallory"), entry(user("mallory"), (ADMIN, None)), key_id=None)
    pipeline.drain()
    assert aws.access(CLUSTER) == before
    [alert] = notes_of(pipeline, "alert")
    assert "No trusted baseline is known" in alert["text"]


def test_a_new_admin_waits_the_hold_while_the_rest_of_the_change_goes_ahead(aws, endpoint, key):
    aws.set_eks_settings(mode_update_seconds=0.05)
    pipeline = start(endpoint, key, **{Env.HOLD_NEW_ADMINS_MINUTES: "30"})
    try:
        platform, oncall, newcomer = role("platform"), role("oncall"), role("newcomer")
        create_cluster(CLUSTER, mode="API", bootstrap=False)
        writer = person("writer")
        push(writer, entry(platform, (ADMIN, None)), entry(oncall, (VIEW, ["apps"])), key_id=key)
        pipeline.drain()
        pipeline.notifications()
        # when the writer adds a cluster admin and widens the viewer in one change
        push(
            writer,
            entry(platform, (ADMIN, None)),
            entry(oncall, (VIEW, ["apps", "web"])),
            entry(newcomer, (ADMIN, None)),
            key_id=key,
        )
        pipeline.drain()
        # then the viewer's change is applied, the new admin is not (yet), and the note says so
        assert aws.admins(CLUSTER) == [platform]
        [viewer] = boto3.client("eks", region_name=REGION).list_associated_access_policies(
            clusterName=CLUSTER, principalArn=oncall
        )["associatedAccessPolicies"]
        assert viewer["accessScope"]["namespaces"] == ["apps", "web"]
        [change] = notes_of(pipeline, "baseline-change")
        assert change["diff"]["adminsAdded"] == [newcomer]
        assert [h["principalArn"] for h in change["held"]] == [newcomer]
        # and once the hold is over, the sweep gives it (the clock of the handlers' own wiring module: each
        # local pipeline imports the handlers afresh)
        handlers_wiring().set_clock(lambda: datetime.now(UTC) + timedelta(minutes=31))
        pipeline.sweep()
        pipeline.drain()
        assert sorted(aws.admins(CLUSTER)) == sorted([platform, newcomer])
    finally:
        handlers_wiring().set_clock(None)
        wiring.reset()
        intake_handler.reset()


def test_break_glass_releases_a_held_admin_early_with_a_reason(aws, endpoint, key):
    aws.set_eks_settings(mode_update_seconds=0.05)
    pipeline = start(endpoint, key, **{Env.HOLD_NEW_ADMINS_MINUTES: "60"})
    try:
        platform, newcomer = role("platform"), role("newcomer")
        engineer = role("engineer", "/aws-reserved/identity-center/")
        create_cluster(CLUSTER, mode="API", bootstrap=False)
        writer = person("writer")
        push(writer, entry(platform, (ADMIN, None)), key_id=key)
        pipeline.drain()
        push(writer, entry(platform, (ADMIN, None)), entry(newcomer, (ADMIN, None)), key_id=key)
        pipeline.drain()
        assert aws.admins(CLUSTER) == [platform]  # held
        url = pipeline.serve_api(oncall_principals=[engineer], tick_seconds=None)
        sts = boto3.client("sts", region_name=REGION)
        c = sts.assume_role(RoleArn=engineer, RoleSessionName="carol")["Credentials"]
        api = BreakGlassClient(
            url,
            credentials=Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
            region=REGION,
        )
        path = f"/clusters/{CLUSTER}/held-admins/release"
        # a release without a reason changes nothing
        assert api.call("POST", path, body={}).status == 400
        assert aws.admins(CLUSTER) == [platform]
        # when the on-call engineer releases the held admin, with a reason
        answer = api.call("POST", path, body={"reason": "INC-9 expected change", "principalArn": newcomer})
        # then it is given now, and a second release finds nothing held
        assert answer.status == 200 and answer.body["released"] == [newcomer]
        assert sorted(aws.admins(CLUSTER)) == sorted([platform, newcomer])
        assert api.call("POST", path, body={"reason": "again"}).status == 404
    finally:
        wiring.set_clock(None)
        wiring.reset()
        intake_handler.reset()


# --- the CLI ---------------------------------------------------------------------------------------------


def baseline_file(tmp_path: Any) -> str:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline_doc(CLUSTER, [entry(role("platform"), (ADMIN, None))], auth="API")))
    return str(path)


def parameters() -> list[dict[str, Any]]:
    return boto3.client("ssm", region_name=REGION).describe_parameters()["Parameters"]


def test_push_encrypts_with_the_deployments_key_found_by_its_alias(aws, key, tmp_path, capsys):
    assert main(["baseline", "push", baseline_file(tmp_path)]) == 0
    stored = parameters()
    assert stored and {(p["Type"], p["KeyId"]) for p in stored} == {("SecureString", key)}


def test_push_refuses_another_key_and_stores_nothing(aws, key, tmp_path, capsys):
    other = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    code = main(["baseline", "push", "--kms-key-id", other, baseline_file(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "not the deployment's baseline key" in err and BASELINE_KEY_ALIAS in err
    assert parameters() == []


def test_push_where_no_guard_is_deployed_stores_a_secure_string_under_awss_key(aws, tmp_path, capsys):
    # No key under the deployment's alias: no guard here to trust it, and push says so (issue 17's rule).
    boto3.client("kms", region_name=REGION).delete_alias(AliasName=BASELINE_KEY_ALIAS)
    code = main(["baseline", "push", baseline_file(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0 and f"no key {BASELINE_KEY_ALIAS} in {REGION}" in err
    assert {
        p["Type"] for p in boto3.client("ssm", region_name=REGION).describe_parameters()["Parameters"]
    } == {"SecureString"}


def test_plan_refuses_a_baseline_from_outside_the_boundary_naming_its_writer(aws, key, tmp_path, capsys):
    create_cluster(CLUSTER, mode="API", bootstrap=True)
    push(person("mallory"), entry(user("mallory"), (ADMIN, None)), key_id=None)
    code = main(["plan", "--cluster", CLUSTER])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: refused:") and err.count("\n") == 1
    assert user("mallory") in err and "a String" in err


def test_a_refused_write_counts_baseline_rejected_once_however_often_it_is_read(aws, endpoint, key):
    resources = Pipeline.create(endpoint, region=REGION)
    metrics: list[tuple[str, float, str]] = []
    store = TrustedBaselines(
        boto3.client("ssm", region_name=REGION),
        prefix=resources.prefix,
        trusted_key_arn=key,
        copies=TrustedCopies(boto3.client("dynamodb", region_name=REGION), resources.tables["state"]),
        metric=lambda *m: metrics.append(m),
    )
    push(person("mallory"), entry(user("mallory"), (ADMIN, None)), key_id=None)
    for _ in range(3):
        with pytest.raises(BaselineRejected):
            store.get(CLUSTER, REGION)
    assert metrics == [(Metrics.BASELINE_REJECTED, 1, "Count")]
    assert [n.kind for n in store.notes] == ["alert"]
    # a second refused write is a new alert
    push(person("trudy"), entry(user("trudy"), (ADMIN, None)), key_id=None)
    with pytest.raises(BaselineRejected):
        store.get(CLUSTER, REGION)
    assert len(metrics) == 2 and user("trudy") in store.notes[-1].text


def test_one_chunk_rewritten_outside_the_boundary_refuses_the_whole_baseline(aws, key):
    writer = person("writer")
    push(writer, entry(role("platform"), (ADMIN, None)), key_id=key)
    ssm = boto3.client("ssm", region_name=REGION)
    store = BaselineStore(ssm, trusted_key_arn=key)
    assert store.get(CLUSTER, REGION).entries  # trusted as written
    chunk = next(p["Name"] for p in ssm.describe_parameters()["Parameters"] if "/v/" in p["Name"])
    value = ssm.get_parameter(Name=chunk, WithDecryption=True)["Parameter"]["Value"]
    # when someone rewrites one chunk, same content, as a String
    person("mallory").client("ssm").put_parameter(Name=chunk, Value=value, Type="String", Overwrite=True)
    with pytest.raises(BaselineRejected) as refused:
        store.get(CLUSTER, REGION)
    [found] = refused.value.untrusted
    assert (found.parameter, found.found, found.writer) == (chunk, "a String", user("mallory"))


def test_a_held_admin_stays_held_through_a_later_change_and_keeps_its_earlier_access(aws, endpoint, key):
    resources = Pipeline.create(endpoint, region=REGION)
    now = [datetime(2026, 12, 4, 8, 0, tzinfo=UTC)]
    store = TrustedBaselines(
        boto3.client("ssm", region_name=REGION),
        prefix=resources.prefix,
        trusted_key_arn=key,
        copies=TrustedCopies(boto3.client("dynamodb", region_name=REGION), resources.tables["state"]),
        clock=lambda: now[0],
        hold_new_admins_minutes=30,
    )
    writer = person("writer")
    platform, newcomer, viewer = role("platform"), role("newcomer"), role("viewer")
    push(writer, entry(platform, (ADMIN, None)), entry(newcomer, (VIEW, ["apps"])), key_id=key)
    store.get(CLUSTER, REGION)

    def newcomers_policies() -> list[str]:
        got = {s.principal_arn: s for s in store.get(CLUSTER, REGION).entries}[newcomer]
        return [p.policy_arn for p in got.policies]

    # when newcomer is made cluster admin, then, ten minutes later, another change comes
    push(writer, entry(platform, (ADMIN, None)), entry(newcomer, (ADMIN, None)), key_id=key)
    assert newcomers_policies() == [VIEW]  # held: it keeps what it had
    now[0] += timedelta(minutes=10)
    push(
        writer,
        entry(platform, (ADMIN, None)),
        entry(newcomer, (ADMIN, None)),
        entry(viewer, (VIEW, ["apps"])),
        key_id=key,
    )
    # then it is still held, with its earlier access, until 30 minutes after the first note
    assert newcomers_policies() == [VIEW]
    assert viewer in {s.principal_arn for s in store.get(CLUSTER, REGION).entries}
    now[0] += timedelta(minutes=21)
    assert newcomers_policies() == [ADMIN]
    assert [n.document["diff"]["adminsAdded"] for n in store.notes] == [[platform], [newcomer], []]
