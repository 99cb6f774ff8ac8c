"""The SSM baseline store against the local AWS (moto SSM)."""

from __future__ import annotations

import json

import boto3
import pytest
from access_guard.adapters.baseline_store import (
    CHUNK_CHARS,
    BaselineNotFound,
    BaselineStore,
    BaselineUnreadable,
)
from access_guard.core.baseline import BaselineError, load
from access_guard.core.policies import POLICY_ARN_PREFIX

REGION = "us-east-1"
ACCOUNT = "123456789012"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
ADMIN = POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"


def baseline_text(cluster: str = "payments", region: str = REGION, n: int = 2) -> str:
    entries = []
    for i in range(n):
        entries.append(
            {
                "principalARN": f"arn:aws:iam::{ACCOUNT}:role/team/team-{i:04d}",
                "kubernetesGroups": [f"team-{i % 7}"],
                "accessPolicies": [
                    {
                        "policyARN": ADMIN if i == 0 else VIEW,
                        "accessScope": {"type": "cluster"}
                        if i == 0
                        else {"type": "namespace", "namespaces": [f"team-{i:04d}", "shared"]},
                    }
                ],
            }
        )
    return json.dumps(
        {
            "apiVersion": "eksctl.io/v1alpha5",
            "kind": "ClusterConfig",
            "metadata": {"name": cluster, "region": region},
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP", "accessEntries": entries},
            "accessGuard": {"mode": "enforce", "prune": True, "maxDeletions": 3},
        }
    )


@pytest.fixture
def ssm(aws):
    return boto3.client("ssm", region_name=REGION)


@pytest.fixture
def store(ssm) -> BaselineStore:
    return BaselineStore(ssm)


def all_parameters(ssm) -> dict[str, dict]:
    found = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/", Recursive=True, WithDecryption=True
    ):
        for p in page["Parameters"]:
            found[p["Name"]] = p
    return found


def test_a_pushed_baseline_reads_back_equal(store):
    # given
    text = baseline_text()
    # when
    stored = store.put(text)
    # then
    assert store.get("payments", REGION) == stored == load(text)


def test_a_1000_entry_baseline_round_trips_through_standard_parameters(store, ssm):
    # given a baseline far larger than one parameter
    text = baseline_text(n=1000)
    # when
    stored = store.put(text)
    # then
    assert len(stored.entries) == 1000
    assert store.get("payments", REGION) == stored
    params = all_parameters(ssm)
    chunks = [p for name, p in params.items() if "/v/" in name]
    assert len(chunks) > 10
    assert all(len(p["Value"]) <= CHUNK_CHARS for p in chunks)
    manifest = json.loads(params["/eks-access-guard/clusters/us-east-1/payments"]["Value"])
    assert manifest["chunks"] == len(chunks)


def test_with_a_kms_key_every_parameter_is_a_securestring_under_that_key(aws, ssm):
    # given
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    store = BaselineStore(ssm, kms_key_id=key_id)
    # when
    store.put(baseline_text(n=50))
    # then
    described = ssm.describe_parameters()["Parameters"]
    assert described and all(p["Type"] == "SecureString" for p in described)
    assert all(key_id in p.get("KeyId", "") for p in described)
    assert store.get("payments", REGION).cluster == "payments"


def test_without_a_kms_key_parameters_are_plain_strings_under_the_prefix(ssm):
    # given
    store = BaselineStore(ssm, prefix="/custom/guard/")
    # when
    store.put(baseline_text())
    # then
    params = all_parameters(ssm)
    assert params and all(name.startswith("/custom/guard/clusters/us-east-1/payments") for name in params)
    assert all(p["Type"] == "String" for p in params.values())


def test_an_invalid_baseline_is_refused_and_nothing_is_stored(store, ssm):
    # given a baseline with a system: group
    doc = json.loads(baseline_text())
    doc["accessConfig"]["accessEntries"][0]["kubernetesGroups"] = ["system:masters"]
    # when / then
    with pytest.raises(BaselineError):
        store.put(json.dumps(doc))
    assert all_parameters(ssm) == {}


def test_no_baseline_for_a_cluster_is_baseline_not_found(store):
    with pytest.raises(BaselineNotFound):
        store.get("nothing-here", REGION)


def test_a_manifest_pointing_at_a_missing_chunk_is_unreadable(store, ssm):
    # given a stored baseline that lost one chunk (a put that died half way looks the same)
    store.put(baseline_text(n=100))
    chunk = sorted(n for n in all_parameters(ssm) if "/v/" in n)[1]
    ssm.delete_parameter(Name=chunk)
    # when / then
    with pytest.raises(BaselineUnreadable, match="incomplete"):
        store.get("payments", REGION)


def test_a_corrupted_chunk_is_unreadable(store, ssm):
    # given a chunk edited by hand
    store.put(baseline_text(n=100))
    name = sorted(n for n in all_parameters(ssm) if "/v/" in n)[0]
    value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    ssm.put_parameter(Name=name, Value=value.replace("team-0", "team-9", 1), Type="String", Overwrite=True)
    # when / then
    with pytest.raises(BaselineUnreadable, match="SHA-256"):
        store.get("payments", REGION)


def test_a_malformed_manifest_is_unreadable(store, ssm):
    store.put(baseline_text())
    ssm.put_parameter(
        Name="/eks-access-guard/clusters/us-east-1/payments",
        Value='{"chunks": 2}',
        Type="String",
        Overwrite=True,
    )
    with pytest.raises(BaselineUnreadable, match="malformed"):
        store.get("payments", REGION)


def test_a_stored_document_that_no_longer_validates_is_unreadable(store, ssm):
    # given chunks and a consistent manifest holding an invalid document (written behind the store's back)
    import hashlib

    document = json.dumps(
        {"kind": "ClusterConfig", "metadata": {"name": "payments", "region": REGION}, "x": 1}
    )
    base = "/eks-access-guard/clusters/us-east-1/payments"
    ssm.put_parameter(Name=f"{base}/v/1/0", Value=document, Type="String")
    manifest = {"version": "1", "chunks": 1, "sha256": hashlib.sha256(document.encode()).hexdigest()}
    manifest["bytes"] = len(document)
    ssm.put_parameter(Name=base, Value=json.dumps(manifest), Type="String")
    # when / then
    with pytest.raises(BaselineUnreadable, match="not valid"):
        store.get("payments", REGION)


def test_a_baseline_pushed_for_one_cluster_does_not_leak_into_another(store, ssm):
    # given
    store.put(baseline_text(cluster="payments"))
    # then another cluster, or the same name in another region, has none
    with pytest.raises(BaselineNotFound):
        store.get("orders", REGION)
    with pytest.raises(BaselineNotFound):
        store.get("payments", "eu-west-1")
    # and a manifest copied under another cluster's name is refused, not applied to the wrong cluster
    manifest = ssm.get_parameter(Name="/eks-access-guard/clusters/us-east-1/payments")["Parameter"]["Value"]
    ssm.put_parameter(Name="/eks-access-guard/clusters/us-east-1/orders", Value=manifest, Type="String")
    with pytest.raises(BaselineUnreadable):
        store.get("orders", REGION)


def test_pushing_again_replaces_the_baseline_and_removes_the_old_chunks(store, ssm):
    # given
    store.put(baseline_text(n=100))
    before = {n for n in all_parameters(ssm) if "/v/" in n}
    # when
    second = store.put(baseline_text(n=3))
    # then
    after = {n for n in all_parameters(ssm) if "/v/" in n}
    assert store.get("payments", REGION) == second
    assert not (before & after)
    assert len(after) == 1


def test_list_names_every_stored_baseline_once(store):
    # given
    store.put(baseline_text(cluster="payments", n=200))
    store.put(baseline_text(cluster="orders"))
    store.put(baseline_text(cluster="payments", region="eu-west-1"))
    # when / then
    assert store.list() == [("orders", REGION), ("payments", "eu-west-1"), ("payments", REGION)]


def test_delete_removes_the_manifest_and_every_chunk(store, ssm):
    # given
    store.put(baseline_text(cluster="payments", n=100))
    store.put(baseline_text(cluster="orders"))
    # when
    store.delete("payments", REGION)
    # then
    with pytest.raises(BaselineNotFound):
        store.get("payments", REGION)
    assert all("/payments" not in n for n in all_parameters(ssm))
    assert store.get("orders", REGION).cluster == "orders"


def test_deleting_a_baseline_that_is_not_there_is_baseline_not_found(store):
    with pytest.raises(BaselineNotFound):
        store.delete("nothing-here", REGION)
