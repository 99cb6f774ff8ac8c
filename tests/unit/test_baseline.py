"""The baseline format: eksctl ClusterConfig + accessGuard, validation listing every problem, round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from access_guard.core import baseline, principals
from access_guard.core.baseline import BaselineError, Problem
from access_guard.core.model import (
    AccessScope,
    Baseline,
    EntrySpec,
    GuardSettings,
    KeepRule,
    LiveEntry,
    LiveState,
    PolicyAssociation,
)
from access_guard.core.planner import plan
from access_guard.core.policies import POLICY_ARN_PREFIX

ACCOUNT = "111122223333"
ADMIN = POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"
VIEW = POLICY_ARN_PREFIX + "AmazonEKSViewPolicy"
EDIT = POLICY_ARN_PREFIX + "AmazonEKSEditPolicy"
ADMINS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform/platform-admins"
DEV_ROLE = f"arn:aws:iam::{ACCOUNT}:role/developers"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/karpenter-node"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"

EKSCTL_CLUSTER_CONFIG = f"""\
# A realistic eksctl file, unchanged: it is a valid baseline as it stands.
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: payments-prod
  region: eu-west-1
  version: "1.30"
  tags:
    team: payments
iam:
  withOIDC: true
  serviceAccounts:
    - metadata: {{name: aws-load-balancer-controller, namespace: kube-system}}
      wellKnownPolicies: {{awsLoadBalancerController: true}}
vpc:
  cidr: 10.42.0.0/16
  clusterEndpoints: {{privateAccess: true, publicAccess: false}}
  nat: {{gateway: HighlyAvailable}}
managedNodeGroups:
  - name: general
    instanceType: m6i.large
    minSize: 2
    maxSize: 6
    privateNetworking: true
addons:
  - name: vpc-cni
  - name: coredns
cloudWatch:
  clusterLogging: {{enableTypes: [audit, authenticator]}}
accessConfig:
  authenticationMode: API
  bootstrapClusterCreatorAdminPermissions: false
  accessEntries:
    - principalARN: {ADMINS_ROLE}
      accessPolicies:
        - policyARN: {ADMIN}
          accessScope:
            type: cluster
    - principalARN: {DEV_ROLE}
      kubernetesUsername: "dev:{{{{SessionName}}}}"
      kubernetesGroups: [developers, readers]
      accessPolicies:
        - policyARN: {VIEW}
          accessScope: {{type: namespace, namespaces: [payments, "payments-*"]}}
        - policyARN: {EDIT}
          accessScope: {{type: namespace, namespaces: [sandbox]}}
    - principalARN: {NODE_ROLE}
      type: EC2_LINUX
"""


def good_doc(**sections: Any) -> dict[str, Any]:
    """A small valid document; keyword arguments replace (or, with None, remove) top-level sections."""
    doc: dict[str, Any] = {
        "metadata": {"name": "payments", "region": "us-east-1"},
        "accessConfig": {
            "authenticationMode": "API_AND_CONFIG_MAP",
            "accessEntries": [
                {
                    "principalARN": ADMINS_ROLE,
                    "accessPolicies": [{"policyARN": ADMIN, "accessScope": {"type": "cluster"}}],
                }
            ],
        },
    }
    for key, value in sections.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def with_entry(**fields: Any) -> dict[str, Any]:
    """A valid document whose second entry has `fields` (a STANDARD developer entry unless overridden)."""
    entry: dict[str, Any] = {"principalARN": DEV_ROLE}
    entry.update(fields)
    doc = good_doc()
    doc["accessConfig"]["accessEntries"].append(entry)
    return doc


def with_raw_entry(value: object) -> dict[str, Any]:
    doc = good_doc()
    doc["accessConfig"]["accessEntries"].append(value)
    return doc


def with_policy(**fields: Any) -> dict[str, Any]:
    policy: dict[str, Any] = {"policyARN": VIEW, "accessScope": {"type": "cluster"}}
    policy.update(fields)
    return with_entry(accessPolicies=[policy])


def with_guard(**fields: Any) -> dict[str, Any]:
    return good_doc(accessGuard=fields)


E1 = "accessConfig.accessEntries[1]"

BAD_DOCUMENTS: list[tuple[str, object, str, str]] = [
    # (case id, document, exact problem path, message fragment)
    ("not-a-mapping", ["metadata"], "<document>", "must be a mapping"),
    ("empty", None, "<document>", "document is empty"),
    ("unknown-top-level", good_doc(acessGuard={"prune": True}), "acessGuard", "did you mean accessGuard?"),
    ("no-metadata", good_doc(metadata=None), "metadata", "is required"),
    ("no-region", good_doc(metadata={"name": "payments"}), "metadata.region", "is required"),
    ("bad-region", good_doc(metadata={"name": "payments", "region": "Ireland"}), "metadata.region", "region"),
    (
        "bad-name",
        good_doc(metadata={"name": "-payments", "region": "us-east-1"}),
        "metadata.name",
        "cluster name",
    ),
    (
        "name-not-string",
        good_doc(metadata={"name": 42, "region": "us-east-1"}),
        "metadata.name",
        "must be a string",
    ),
    (
        "unknown-metadata-field",
        good_doc(metadata={"name": "p", "region": "us-east-1", "owner": "me"}),
        "metadata.owner",
        "unknown field",
    ),
    (
        "unknown-access-config-field",
        good_doc(accessConfig={"authenticationMode": "API", "entries": []}),
        "accessConfig.entries",
        "unknown field",
    ),
    (
        "bad-mode",
        good_doc(accessConfig={"authenticationMode": "API_AND_CONFIGMAP"}),
        "accessConfig.authenticationMode",
        "did you mean API_AND_CONFIG_MAP?",
    ),
    (
        "config-map-with-entries",
        good_doc(
            accessConfig={"authenticationMode": "CONFIG_MAP", "accessEntries": [{"principalARN": DEV_ROLE}]}
        ),
        "accessConfig.authenticationMode",
        "CONFIG_MAP cannot have accessEntries",
    ),
    (
        "entries-not-a-list",
        good_doc(accessConfig={"accessEntries": {"principalARN": DEV_ROLE}}),
        "accessConfig.accessEntries",
        "must be a list, got mapping",
    ),
    ("entry-not-a-mapping", with_raw_entry(DEV_ROLE), E1, "must be a mapping, got string"),
    ("unknown-entry-field", with_entry(username="dev"), f"{E1}.username", "did you mean kubernetesUsername?"),
    ("no-principal", with_entry(principalARN=None), f"{E1}.principalARN", "is required"),
    ("malformed-arn", with_entry(principalARN="developers"), f"{E1}.principalARN", "not a well-formed ARN"),
    (
        "session-arn",
        with_entry(principalARN=f"arn:aws:sts::{ACCOUNT}:assumed-role/developers/alice"),
        f"{E1}.principalARN",
        f"use the role ARN (arn:aws:iam::{ACCOUNT}:role/developers",
    ),
    (
        "short-account",
        with_entry(principalARN="arn:aws:iam::1111:role/developers"),
        f"{E1}.principalARN",
        "12 digits",
    ),
    (
        "service-linked-role",
        with_entry(
            principalARN=f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
        ),
        f"{E1}.principalARN",
        "service-linked",
    ),
    (
        "group-arn",
        with_entry(principalARN=f"arn:aws:iam::{ACCOUNT}:group/admins"),
        f"{E1}.principalARN",
        "not an IAM role or user ARN",
    ),
    (
        "root-node-entry",
        with_entry(principalARN=f"arn:aws:iam::{ACCOUNT}:root", type="EC2_LINUX"),
        f"{E1}.principalARN",
        "need an IAM role ARN, not a root",
    ),
    ("bad-type", with_entry(type="EC2_LINUXX"), f"{E1}.type", "did you mean EC2_LINUX?"),
    (
        "node-type-with-user",
        with_entry(principalARN=ALICE, type="EC2_LINUX"),
        f"{E1}.principalARN",
        "need an IAM role ARN",
    ),
    (
        "node-type-with-username",
        with_entry(type="EC2_LINUX", kubernetesUsername="node"),
        f"{E1}.kubernetesUsername",
        "only STANDARD entries",
    ),
    (
        "node-type-with-groups",
        with_entry(type="FARGATE_LINUX", kubernetesGroups=["nodes"]),
        f"{E1}.kubernetesGroups",
        "only STANDARD entries",
    ),
    (
        "node-type-with-policies",
        with_entry(
            type="EC2_WINDOWS", accessPolicies=[{"policyARN": VIEW, "accessScope": {"type": "cluster"}}]
        ),
        f"{E1}.accessPolicies",
        "only STANDARD entries",
    ),
    ("reserved-username", with_entry(kubernetesUsername="eks:admin"), f"{E1}.kubernetesUsername", "eks:"),
    (
        "session-name-without-colon",
        with_entry(kubernetesUsername="dev-{{SessionName}}"),
        f"{E1}.kubernetesUsername",
        "a colon must come before {{SessionName}}",
    ),
    (
        "session-name-raw-without-colon",
        with_entry(kubernetesUsername="{{SessionNameRaw}}:x"),
        f"{E1}.kubernetesUsername",
        "{{SessionNameRaw}}",
    ),
    (
        "system-group",
        with_entry(kubernetesGroups=["ok", "system:masters"]),
        f"{E1}.kubernetesGroups[1]",
        "cannot start with system:",
    ),
    (
        "groups-not-a-list",
        with_entry(kubernetesGroups="developers"),
        f"{E1}.kubernetesGroups",
        "must be a list",
    ),
    ("group-not-string", with_entry(kubernetesGroups=[7]), f"{E1}.kubernetesGroups[0]", "must be a string"),
    (
        "unknown-policy",
        with_policy(policyARN=POLICY_ARN_PREFIX + "AmazonEKSViewerPolicy"),
        f"{E1}.accessPolicies[0].policyARN",
        "unknown access policy 'AmazonEKSViewerPolicy'; did you mean AmazonEKSViewPolicy?",
    ),
    (
        "malformed-policy-arn",
        with_policy(policyARN="arn:aws:iam::aws:policy/AdministratorAccess"),
        f"{E1}.accessPolicies[0].policyARN",
        "not a well-formed access policy ARN",
    ),
    ("no-scope", with_policy(accessScope=None), f"{E1}.accessPolicies[0].accessScope", "is required"),
    (
        "bad-scope-type",
        with_policy(accessScope={"type": "namespaces", "namespaces": ["a"]}),
        f"{E1}.accessPolicies[0].accessScope.type",
        "not a scope type",
    ),
    (
        "namespace-scope-without-namespaces",
        with_policy(accessScope={"type": "namespace"}),
        f"{E1}.accessPolicies[0].accessScope.namespaces",
        "needs at least one namespace",
    ),
    (
        "namespace-scope-with-empty-namespaces",
        with_policy(accessScope={"type": "namespace", "namespaces": []}),
        f"{E1}.accessPolicies[0].accessScope.namespaces",
        "needs at least one namespace",
    ),
    (
        "cluster-scope-with-namespaces",
        with_policy(accessScope={"type": "cluster", "namespaces": ["dev"]}),
        f"{E1}.accessPolicies[0].accessScope.namespaces",
        "cluster scope takes no namespaces",
    ),
    (
        "bad-namespace",
        with_policy(accessScope={"type": "namespace", "namespaces": ["Dev_Team"]}),
        f"{E1}.accessPolicies[0].accessScope.namespaces[0]",
        "not a Kubernetes namespace name",
    ),
    (
        "unknown-scope-field",
        with_policy(accessScope={"type": "cluster", "namespace": "dev"}),
        f"{E1}.accessPolicies[0].accessScope.namespace",
        "did you mean namespaces?",
    ),
    (
        "duplicate-policy",
        with_entry(
            accessPolicies=[
                {"policyARN": VIEW, "accessScope": {"type": "cluster"}},
                {"policyARN": VIEW, "accessScope": {"type": "namespace", "namespaces": ["a"]}},
            ]
        ),
        f"{E1}.accessPolicies[1].policyARN",
        "duplicate policy AmazonEKSViewPolicy",
    ),
    (
        "duplicate-principal",
        with_entry(principalARN=ADMINS_ROLE),
        f"{E1}.principalARN",
        "duplicate principal",
    ),
    ("guard-not-a-mapping", good_doc(accessGuard=["enforce"]), "accessGuard", "must be a mapping"),
    ("guard-bad-mode", with_guard(mode="enfroce"), "accessGuard.mode", "did you mean enforce?"),
    ("guard-prune-string", with_guard(prune="yes"), "accessGuard.prune", "must be true or false"),
    ("guard-negative-limit", with_guard(maxDeletions=-1), "accessGuard.maxDeletions", "0 or more"),
    ("guard-limit-bool", with_guard(maxDeletions=True), "accessGuard.maxDeletions", "must be an integer"),
    ("guard-unknown-field", with_guard(dryRun=True), "accessGuard.dryRun", "unknown field"),
    ("keep-empty-rule", with_guard(keep=[{}]), "accessGuard.keep[0]", "needs principalARN"),
    (
        "keep-bad-type",
        with_guard(keep=[{"type": "NODE"}]),
        "accessGuard.keep[0].type",
        "not an access entry type",
    ),
    (
        "keep-glob-not-arn",
        with_guard(keep=[{"principalARN": "karpenter-*"}]),
        "accessGuard.keep[0].principalARN",
        "can never match",
    ),
]


@pytest.mark.parametrize(
    ("doc", "path", "fragment"), [c[1:] for c in BAD_DOCUMENTS], ids=[c[0] for c in BAD_DOCUMENTS]
)
def test_an_invalid_baseline_is_refused_with_where_and_what(doc: object, path: str, fragment: str) -> None:
    # when
    with pytest.raises(BaselineError) as refused:
        baseline.from_document(doc)
    # then
    problems = refused.value.problems
    assert any(p.path == path and fragment in p.message for p in problems), problems
    assert f"{path}: " in str(refused.value)


def test_the_bad_document_table_is_large_and_each_case_is_valid_apart_from_its_defect() -> None:
    assert len(BAD_DOCUMENTS) >= 20
    assert baseline.validate(good_doc()) == []
    assert baseline.validate(with_entry()) == []
    assert baseline.validate(with_policy()) == []
    assert baseline.validate(with_guard()) == []


def test_every_problem_in_a_document_is_listed_not_just_the_first() -> None:
    # given a document with four independent defects
    doc = good_doc(metadata={"name": "payments"}, accessGuard={"maxDeletions": "five"})
    doc["accessConfig"]["accessEntries"].append(
        {
            "principalARN": DEV_ROLE,
            "kubernetesGroups": ["system:masters"],
            "type": "STANDARD",
            "colour": "red",
        }
    )
    # when
    problems = baseline.validate(doc)
    # then
    assert {p.path for p in problems} == {
        "metadata.region",
        "accessGuard.maxDeletions",
        f"{E1}.kubernetesGroups[0]",
        f"{E1}.colour",
    }
    with pytest.raises(BaselineError) as refused:
        baseline.from_document(doc)
    assert str(refused.value).startswith("invalid baseline (4 problems):")
    assert all(str(p) in str(refused.value) for p in problems)


def test_a_problem_reads_as_path_colon_message() -> None:
    assert str(Problem("metadata.region", "is required")) == "metadata.region: is required"


def test_an_eksctl_cluster_config_is_a_valid_baseline_as_it_stands() -> None:
    # when
    loaded = baseline.load(EKSCTL_CLUSTER_CONFIG)
    # then
    assert loaded == Baseline(
        cluster="payments-prod",
        region="eu-west-1",
        authentication_mode="API",
        entries=(
            EntrySpec(ADMINS_ROLE, policies=(PolicyAssociation(ADMIN, AccessScope()),)),
            EntrySpec(
                DEV_ROLE,
                username="dev:{{SessionName}}",
                kubernetes_groups=("developers", "readers"),
                policies=(
                    PolicyAssociation(EDIT, AccessScope("namespace", ("sandbox",))),
                    PolicyAssociation(VIEW, AccessScope("namespace", ("payments", "payments-*"))),
                ),
            ),
            EntrySpec(NODE_ROLE, type="EC2_LINUX"),
        ),
        settings=GuardSettings(),
    )


def test_guard_settings_default_to_enforce_without_pruning() -> None:
    settings = baseline.from_document(good_doc()).settings
    assert settings == GuardSettings(mode="enforce", prune=False, keep=(), max_deletions=5)


def test_guard_settings_are_read_from_the_access_guard_section() -> None:
    doc = good_doc(
        accessGuard={
            "mode": "detect",
            "prune": True,
            "maxDeletions": 0,
            "keep": [
                {"principalARN": "arn:aws:iam::*:role/eksctl-*-NodeInstanceRole-*"},
                {"type": "EC2_LINUX"},
            ],
        }
    )
    assert baseline.from_document(doc).settings == GuardSettings(
        mode="detect",
        prune=True,
        max_deletions=0,
        keep=(
            KeepRule(principal_arn="arn:aws:iam::*:role/eksctl-*-NodeInstanceRole-*"),
            KeepRule(type="EC2_LINUX"),
        ),
    )


def test_an_omitted_mode_means_api_and_config_map_when_there_are_entries() -> None:
    doc = good_doc()
    del doc["accessConfig"]["authenticationMode"]
    assert baseline.from_document(doc).authentication_mode == "API_AND_CONFIG_MAP"


def test_an_omitted_mode_means_no_requirement_when_there_are_no_entries() -> None:
    loaded = baseline.from_document(good_doc(accessConfig=None))
    assert loaded.authentication_mode is None
    assert loaded.entries == ()


def test_groups_and_namespaces_are_stored_sorted_and_unique() -> None:
    doc = with_entry(
        kubernetesGroups=["b", "a", "b"],
        accessPolicies=[
            {"policyARN": VIEW, "accessScope": {"type": "namespace", "namespaces": ["z", "a", "z"]}}
        ],
    )
    spec = baseline.from_document(doc).entries[1]
    assert spec.kubernetes_groups == ("a", "b")
    assert spec.policies[0].scope.namespaces == ("a", "z")


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd",
        f"arn:aws:iam::{ACCOUNT}:user/engineering/alice",
        f"arn:aws-cn:iam::{ACCOUNT}:role/admins",
        f"arn:aws-us-gov:iam::{ACCOUNT}:role/admins",
    ],
)
def test_role_and_user_arns_with_paths_and_other_partitions_are_accepted(arn: str) -> None:
    assert baseline.validate(with_entry(principalARN=arn)) == []


def test_a_username_with_a_colon_before_the_session_name_is_accepted() -> None:
    assert baseline.validate(with_entry(kubernetesUsername="admin:{{SessionName}}")) == []


def test_accepted_eksctl_fields_are_ignored_whatever_they_hold() -> None:
    doc = good_doc(
        vpc="anything", nodeGroups=[{"name": "ng"}], apiVersion="eksctl.io/v1alpha5", kind="ClusterConfig"
    )
    doc["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] = True
    doc["metadata"].update(version="1.31", tags={"a": "b"}, accountID=ACCOUNT)
    assert baseline.from_document(doc) == baseline.from_document(good_doc())


def test_json_text_is_a_baseline_too() -> None:
    assert baseline.load(json.dumps(good_doc())) == baseline.from_document(good_doc())


def test_invalid_yaml_is_refused_with_the_line() -> None:
    with pytest.raises(BaselineError) as refused:
        baseline.parse_text("metadata:\n  name: [payments\n  region: us-east-1\n")
    assert refused.value.problems[0].path == "<document>"
    assert "not valid YAML" in refused.value.problems[0].message
    assert "line" in refused.value.problems[0].message


def test_invalid_json_is_refused_with_the_line() -> None:
    with pytest.raises(BaselineError) as refused:
        baseline.parse_text('{"metadata": {"name": "payments"}')
    assert "not valid JSON" in str(refused.value)
    assert "line 1" in str(refused.value)


def test_a_duplicate_yaml_key_is_refused_rather_than_silently_overwritten() -> None:
    text = "metadata: {name: a, region: us-east-1}\naccessGuard: {prune: false}\naccessGuard: {prune: true}\n"
    with pytest.raises(BaselineError) as refused:
        baseline.load(text)
    assert "duplicate key 'accessGuard'" in str(refused.value)
    assert "line 3" in str(refused.value)


def test_a_duplicate_json_key_is_refused() -> None:
    with pytest.raises(BaselineError, match="duplicate key 'metadata'"):
        baseline.parse_text('{"metadata": {}, "metadata": {}}')


def test_a_baseline_round_trips_through_its_document() -> None:
    loaded = baseline.load(EKSCTL_CLUSTER_CONFIG)
    assert baseline.from_document(baseline.to_document(loaded)) == loaded


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_baseline_round_trips_through_text(fmt: str) -> None:
    loaded = baseline.from_document(
        with_guard(
            mode="detect", prune=True, maxDeletions=2, keep=[{"type": "EC2_LINUX", "principalARN": "arn:*"}]
        )
    )
    assert baseline.load(baseline.dump(loaded, fmt)) == loaded


def test_the_written_document_is_an_eksctl_cluster_config() -> None:
    doc = baseline.to_document(baseline.load(EKSCTL_CLUSTER_CONFIG))
    assert doc["apiVersion"] == "eksctl.io/v1alpha5"
    assert doc["kind"] == "ClusterConfig"
    assert doc["accessConfig"]["accessEntries"][1]["accessPolicies"][0] == {
        "policyARN": EDIT,
        "accessScope": {"type": "namespace", "namespaces": ["sandbox"]},
    }
    assert doc["accessConfig"]["accessEntries"][2] == {"principalARN": NODE_ROLE, "type": "EC2_LINUX"}


def test_dump_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="toml"):
        baseline.dump(baseline.from_document(good_doc()), "toml")


def test_default_username_of_a_role_drops_its_path() -> None:
    assert (
        principals.default_username(ADMINS_ROLE)
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-admins/{{{{SessionName}}}}"
    )


def test_default_username_of_a_user_is_its_arn() -> None:
    assert principals.default_username(ALICE) == ALICE


def test_default_username_keeps_the_partition() -> None:
    arn = f"arn:aws-cn:iam::{ACCOUNT}:role/ops"
    assert (
        principals.default_username(arn) == f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/ops/{{{{SessionName}}}}"
    )


def live_entry(arn: str, **fields: Any) -> LiveEntry:
    values: dict[str, Any] = {
        "principal_arn": arn,
        "type": "STANDARD",
        "username": principals.default_username(arn),
        "kubernetes_groups": (),
        "policies": (),
        "principal_status": "ok",
    }
    values.update(fields)
    return LiveEntry(**values)


def a_live_cluster() -> LiveState:
    entries = [
        live_entry(ADMINS_ROLE, policies=(PolicyAssociation(ADMIN, AccessScope()),)),
        live_entry(
            DEV_ROLE,
            username="dev:{{SessionName}}",
            kubernetes_groups=("readers", "developers"),
            policies=(PolicyAssociation(VIEW, AccessScope("namespace", ("payments",))),),
        ),
        live_entry(ALICE, principal_status="unknown"),
        live_entry(
            NODE_ROLE,
            type="EC2_LINUX",
            username="system:node:{{EC2PrivateDNSName}}",
            kubernetes_groups=("system:nodes",),
        ),
    ]
    return LiveState("payments", "us-east-1", ACCOUNT, "API", {e.principal_arn: e for e in entries})


def test_a_captured_baseline_plans_nothing_against_the_cluster_it_came_from() -> None:
    # given
    live = a_live_cluster()
    # when
    captured = baseline.load(baseline.dump(baseline.from_document(baseline.capture_document(live))))
    # then
    result = plan(captured, live)
    assert result.actions == ()
    assert result.warnings == () and result.refusals == ()
    assert {s.principal_arn for s in captured.entries} == set(live.entries) - {NODE_ROLE}


def test_capture_writes_generated_usernames_as_omitted_and_custom_ones_as_set() -> None:
    doc = baseline.capture_document(a_live_cluster())
    by_arn = {e["principalARN"]: e for e in doc["accessConfig"]["accessEntries"]}
    assert "kubernetesUsername" not in by_arn[ADMINS_ROLE]
    assert by_arn[DEV_ROLE]["kubernetesUsername"] == "dev:{{SessionName}}"


def test_capture_leaves_node_entries_to_eks() -> None:
    # node entries come and go with their node groups: in a baseline they would be recreated after EKS
    # removed them, so Guard leaves them alone unless a baseline names them
    doc = baseline.capture_document(a_live_cluster())
    assert NODE_ROLE not in {e["principalARN"] for e in doc["accessConfig"]["accessEntries"]}


def test_capture_leaves_out_dead_entries_and_kept_ones_and_writes_the_settings() -> None:
    # given
    live = a_live_cluster()
    gone = f"arn:aws:iam::{ACCOUNT}:role/deleted"
    reborn = f"arn:aws:iam::{ACCOUNT}:role/recreated"
    live.entries[gone] = live_entry(gone, principal_status="missing")
    live.entries[reborn] = live_entry(reborn, principal_status="recreated")
    settings = GuardSettings(prune=True, keep=(KeepRule(type="EC2_LINUX"),))
    # when
    captured = baseline.from_document(baseline.capture_document(live, settings))
    # then
    assert {s.principal_arn for s in captured.entries} == {ADMINS_ROLE, DEV_ROLE, ALICE}
    assert captured.settings == settings
    assert captured.authentication_mode == "API"
