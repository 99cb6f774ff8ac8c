"""Issue 14, difference 4: IAM enforced locally for the guard's own roles, from the synthesized policies.

The pipeline and the break-glass API run under their roles' sessions; the local AWS refuses each call the
template's policy for that role does not allow (tests/iam_profile.py binds it, local/iam_policies.py judges).
Access is judged by the emulator's oracle.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import iam_profile
import pytest
from access_guard.adapters.breakglass_client import BreakGlassClient
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring

from local.runner import Pipeline

from .scenario import ADMIN, EDIT, REGION, VIEW, entry, role
from .test_pipeline import CLUSTER, make_cluster, person, push
from .test_strict_world import session

NODE_ROLE = "karpenter-node"  # the named configuration's node role (its remediation may pass it)
REASON = "INC-14 restore"
DEV_AT_BASELINE = {"nodes": False, "AmazonEKSEditPolicy": "namespace", "AmazonEKSViewPolicy": "cluster"}


@pytest.fixture
def enforced(aws: Any, endpoint: str, template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pipeline and the API, each function under its role, with the template's policies enforced."""
    aws.set_eks_settings(mode_update_seconds=0.05)
    pipeline = Pipeline.create(endpoint, region=REGION)
    wiring.reset()
    intake_handler.reset()
    engineer = role("engineer", "/ops/")
    url = pipeline.serve_api(oncall_principals=[engineer], tick_seconds=None)
    iam_profile.as_deployed(pipeline, template)
    policies = iam_profile.enforce(aws, pipeline, template, cluster=CLUSTER)
    api = BreakGlassClient(url, credentials=session(engineer), region=REGION)
    try:
        yield {"pipeline": pipeline, "api": api, "engineer": engineer, "policies": policies}
    finally:
        aws.enforce_iam(None)
        pipeline.stop()
        wiring.reset()
        intake_handler.reset()


def access(aws: Any) -> dict[str, dict[str, str]]:
    """principal -> {policy name: scope type} as the oracle sees it, and whether it is a node ("nodes": the
    group EKS gives a node entry's principal)."""
    found = {}
    for p in aws.access(CLUSTER, region=REGION)["principals"]:
        policies = {a["policyArn"].rsplit("/", 1)[-1]: a["accessScope"]["type"] for a in p["accessPolicies"]}
        found[p["principalArn"]] = {"nodes": "system:nodes" in p["kubernetesGroups"], **policies}
    return found


def denied(aws: Any) -> list[tuple[str, str]]:
    """(event name, caller) of every call the local IAM refused, from CloudTrail."""
    return [
        (r["eventName"], r["userIdentity"].get("arn", ""))
        for r in aws.cloudtrail_records()
        if r.get("errorCode") in ("AccessDenied", "AccessDeniedException")
    ]


def world(enforced: dict[str, Any]) -> dict[str, str]:
    """A cluster at a baseline that holds a policy outside the grant policies (EDIT) and a node entry."""
    pipeline: Pipeline = enforced["pipeline"]
    platform, dev, nodes = role("platform", "/platform/"), role("dev"), role(NODE_ROLE)
    make_cluster(person("alice"))
    push(
        pipeline,
        entry(platform, (ADMIN, None)),
        entry(dev, (EDIT, ["payments"]), (VIEW, None)),
        entry(nodes, type="EC2_LINUX"),
        prune=True,
    )
    pipeline.drain()
    return {"platform": platform, "dev": dev, "nodes": nodes}


def at_baseline_and_nothing_denied(aws: Any, made: dict[str, str]) -> None:
    """The developer's EDIT (namespaced) and VIEW, the node entry back, and IAM refused nothing."""
    seen = access(aws)
    assert seen[made["dev"]] == {
        "nodes": False,
        "AmazonEKSEditPolicy": "namespace",
        "AmazonEKSViewPolicy": "cluster",
    }
    assert seen[made["nodes"]]["nodes"]
    assert denied(aws) == []


def test_the_remediation_reaches_a_baseline_with_a_node_entry_and_any_policy_under_its_own_role(
    aws: Any, enforced: dict[str, Any]
) -> None:
    made = world(enforced)
    at_baseline_and_nothing_denied(aws, made)


def test_restore_through_the_api_does_what_its_role_may_and_leaves_the_rest_to_the_remediation(
    aws: Any, enforced: dict[str, Any]
) -> None:
    # Given drift the API's role may not repair (EDIT is not a grant policy, a node entry passes a node role)
    made = world(enforced)
    bob = person("bob").client("eks")
    bob.delete_access_entry(clusterName=CLUSTER, principalArn=made["dev"])
    bob.delete_access_entry(clusterName=CLUSTER, principalArn=made["nodes"])
    bob_arn = f"arn:aws:iam::{iam_profile.ACCOUNT}:user/bob"
    bob.create_access_entry(clusterName=CLUSTER, principalArn=bob_arn)
    bob.associate_access_policy(
        clusterName=CLUSTER, principalArn=bob_arn, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    # When the on-call engineer restores through the API, before the remediation runs
    answer = enforced["api"].call("POST", f"/clusters/{CLUSTER}/restore", body={"reason": REASON})
    # Then the steps it may not do are reported, the rest is done (pruning included), and IAM refused nothing
    assert answer.status == 202, answer.body
    assert sorted(answer.body["leftToRemediation"]) == [
        f"EC2_LINUX entry {made['nodes']}: the remediation's role restores it",
        "policy AmazonEKSEditPolicy is outside the grant policies: the remediation's role restores it",
    ]
    seen = access(aws)
    assert bob_arn not in seen
    assert seen[made["dev"]] == {"nodes": False, "AmazonEKSViewPolicy": "cluster"}
    assert made["nodes"] not in seen
    assert denied(aws) == []
    # And the remediation's role does the rest
    enforced["pipeline"].drain()
    at_baseline_and_nothing_denied(aws, made)


def test_without_the_apis_own_filter_its_role_is_refused_as_in_aws(
    aws: Any, enforced: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the API trying every step itself (the product's filter removed)
    from access_guard.services.breakglass import BreakGlass

    made = world(enforced)
    monkeypatch.setattr(BreakGlass, "_outside_the_api_role", lambda self, action: None)
    bob = person("bob").client("eks")
    bob.disassociate_access_policy(clusterName=CLUSTER, principalArn=made["dev"], policyArn=EDIT)
    # When the engineer restores
    enforced["api"].call("POST", f"/clusters/{CLUSTER}/restore", body={"reason": REASON})
    # Then the local IAM refused the API's role the association (eks:policyArn outside the grant policies)
    api_role = enforced["pipeline"].roles["api"].rsplit("/", 1)[-1]
    assert [name for name, caller in denied(aws) if f"/{api_role}/" in caller] == ["AssociateAccessPolicy"]
    assert "AmazonEKSEditPolicy" not in access(aws)[made["dev"]]


def test_a_call_outside_a_roles_synthesized_policy_is_refused(
    aws: Any, enforced: dict[str, Any], template: dict[str, Any]
) -> None:
    # Given the API role's policy without its statement for associating the grant policies
    world(enforced)
    api_role = enforced["pipeline"].roles["api"]
    policies = dict(enforced["policies"])
    policies[api_role] = [s for s in policies[api_role] if s.get("Sid") != "AssociateGrantPolicies"]
    aws.enforce_iam(policies)
    # When the engineer asks for a grant
    body = {"accessPolicy": "AmazonEKSClusterAdminPolicy", "durationMinutes": 15, "reason": "INC-14 outage"}
    answer = enforced["api"].call("POST", f"/clusters/{CLUSTER}/grants", body=body)
    # Then AWS's answer reached the API: no access was given
    assert answer.status >= 400, answer.body
    assert enforced["engineer"] not in aws.admins(CLUSTER, region=REGION)
    assert (
        "AssociateAccessPolicy",
        f"arn:aws:sts::{iam_profile.ACCOUNT}:assumed-role/{api_role.rsplit('/', 1)[-1]}/api",
    ) in [(n, c.rsplit("/", 1)[0] + "/api") for n, c in denied(aws)]
