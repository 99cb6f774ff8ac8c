"""IAM as the security review reads it: no `*` in any allowed action, EKS statements on cluster and
access-entry ARNs only, one role per function, PassRole only where it must be, narrowed by service."""

from __future__ import annotations

import re

from access_guard.core.config import Env
from infra_synth import ACCOUNT, Synth
from infra_templates import actions, as_list, by_sid, function_policies, resources_of, statements

from infra.eks import ASSOCIATE, CLUSTER_READ, CLUSTER_WRITE, ENTRY_READ, ENTRY_WRITE
from infra.stacks import SERVICE_STACK

HANDLERS = {
    "access_guard.handlers.intake.handler",
    "access_guard.handlers.remediate.handler",
    "access_guard.handlers.sweep.handler",
    "access_guard.handlers.api.handler",
    "access_guard.handlers.expiry.handler",
}
CLUSTER_ACTIONS = set(CLUSTER_READ + CLUSTER_WRITE)
ENTRY_ACTIONS = set(ENTRY_READ + ENTRY_WRITE + ASSOCIATE)


def test_no_policy_allows_an_action_with_a_wildcard(synth: Synth) -> None:
    # Every policy document of every template: IAM policies, trust policies, key, queue, topic and API
    # resource policies. (Deny statements may say sqs:* etc.: they take away, never give.)
    checked = 0
    for stack, logical_id, statement in statements(synth.templates):
        if statement["Effect"] != "Allow":
            continue
        checked += 1
        for action in actions(statement):
            assert "*" not in action, f"{stack}/{logical_id} {statement.get('Sid')}: {action}"
        assert "NotAction" not in statement, f"{stack}/{logical_id}"
    assert checked > 50


def test_eks_statements_name_managed_cluster_or_access_entry_arns(named: Synth) -> None:
    for region, clusters in named.config["clusters"].items():
        stack = SERVICE_STACK.format(region=region)
        cluster_arns = {f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{c}" for c in clusters}
        entry_arns = {f"arn:aws:eks:{region}:{ACCOUNT}:access-entry/{c}/*" for c in clusters}
        seen = set()
        for _, _, statement in statements({stack: named.templates[stack]}):
            eks = {a for a in actions(statement) if a.startswith("eks:")}
            if not eks or statement["Effect"] != "Allow":
                continue
            seen |= eks
            if eks <= CLUSTER_ACTIONS:
                assert set(resources_of(statement)) == cluster_arns, statement
            elif eks <= ENTRY_ACTIONS:
                assert set(resources_of(statement)) == entry_arns, statement
            else:
                # the one EKS action with no resource type, alone with other such list actions
                assert eks == {"eks:ListAccessPolicies"} and resources_of(statement) == ["*"], statement
        assert seen >= CLUSTER_ACTIONS | ENTRY_ACTIONS


def test_tag_selected_clusters_are_narrowed_by_their_tag_where_eks_allows_it(tagged: Synth) -> None:
    tag = tagged.config["clusterTag"]
    for region in tagged.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        for _, _, statement in statements({stack: tagged.templates[stack]}):
            eks = {a for a in actions(statement) if a.startswith("eks:")}
            if not eks:
                continue
            if eks <= CLUSTER_ACTIONS:
                assert resources_of(statement) == [f"arn:aws:eks:{region}:{ACCOUNT}:cluster/*"]
                assert statement["Condition"]["StringEquals"] == {
                    f"aws:ResourceTag/{tag['key']}": tag["value"]
                }
            elif eks <= ENTRY_ACTIONS:
                # An entry's tags are its own, not its cluster's: no tag condition can narrow these.
                assert resources_of(statement) == [f"arn:aws:eks:{region}:{ACCOUNT}:access-entry/*/*"]


def test_each_function_has_its_own_role_with_its_own_policies_and_no_aws_managed_policy(synth: Synth) -> None:
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        functions = synth.resources("AWS::Lambda::Function", stack)
        assert {f["Properties"]["Handler"] for f in functions.values()} == HANDLERS
        roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
        assert len(set(roles)) == len(roles) == len(HANDLERS)
        template = synth.templates[stack]
        for role in roles:
            assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]
            assert "Policies" not in template["Resources"][role]["Properties"]
            inline = [
                p
                for p in synth.resources("AWS::IAM::Policy", stack).values()
                if {"Ref": role} in p["Properties"]["Roles"]
            ]
            managed = [
                p
                for p in synth.resources("AWS::IAM::ManagedPolicy", stack).values()
                if {"Ref": role} in p["Properties"]["Roles"]
            ]
            assert len(inline) == 1, role
            # Customer managed policies of its own only when the inline policy is full (at scale).
            small = "clusterTag" in synth.config or len(synth.config["clusters"][region]) <= 10
            if small:
                assert managed == [], role
            for policy in managed:
                assert policy["Properties"]["Roles"] == [{"Ref": role}]


def _policies(synth: Synth, region: str) -> dict[str, dict[str, dict]]:
    stack = SERVICE_STACK.format(region=region)
    return {h.split(".")[2]: by_sid(s) for h, s in function_policies(synth.templates[stack]).items()}


def test_only_the_api_may_pass_the_scheduler_role_and_only_to_scheduler(synth: Synth) -> None:
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        scheduler_roles = [
            k.split("/")[1]
            for k, r in synth.resources("AWS::IAM::Role", stack).items()
            if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            == {"Service": "scheduler.amazonaws.com"}
        ]
        assert len(scheduler_roles) == 1
        for name, policy in _policies(synth, region).items():
            passes = [s for s in policy.values() if "iam:PassRole" in actions(s)]
            for statement in passes:
                assert actions(statement) == ["iam:PassRole"]
                service = statement["Condition"]["StringEquals"]["iam:PassedToService"]
                if service == "scheduler.amazonaws.com":
                    assert name == "api"
                    assert resources_of(statement) == [{"Fn::GetAtt": [scheduler_roles[0], "Arn"]}]
                else:  # node roles, for re-creating node entries: named ones only
                    assert service == "ec2.amazonaws.com" and name in ("remediate", "sweep", "expiry")
                    assert resources_of(statement) == synth.config["nodeRoleArns"]
        assert "PassSchedulerRoleToScheduler" in _policies(synth, region)["api"]


def test_api_may_associate_only_the_configured_grant_policies(synth: Synth) -> None:
    from access_guard.core.config import DEFAULT_GRANT_POLICIES

    expected = synth.config.get("grantPolicies", list(DEFAULT_GRANT_POLICIES))
    for region in synth.config["regions"]:
        policies = _policies(synth, region)
        api = policies["api"]
        associating = [s for s in api.values() if "eks:AssociateAccessPolicy" in actions(s)]
        assert associating and all(s["Sid"].startswith("AssociateGrantPolicies") for s in associating)
        for statement in associating:  # one statement, or its parts when split at scale
            assert statement["Condition"] == {"StringEquals": {"eks:policyArn": expected}}
        # Remediation restores whatever the baseline says, so it is not limited to grant policies.
        for associate in [s for s in policies["remediate"].values() if ASSOCIATE[0] in actions(s)]:
            assert "Condition" not in associate


def test_the_intake_reads_and_enqueues_but_writes_nothing_to_eks_only_canaries_to_the_state(
    synth: Synth,
) -> None:
    for region in synth.config["regions"]:
        intake = _policies(synth, region)["intake"]
        eks = {a for s in intake.values() for a in actions(s) if a.startswith("eks:")}
        assert eks == {
            "eks:DescribeCluster",
            "eks:ListAccessEntries",
            "eks:DescribeAccessEntry",
            "eks:ListAssociatedAccessPolicies",
        }
        assert not any(a.startswith(("scheduler:", "iam:")) for s in intake.values() for a in actions(s))
        # it publishes only the notice of a cluster no longer managed on purpose (`baseline delete`)
        assert {a for s in intake.values() for a in actions(s) if a.startswith("sns:")} == {"sns:Publish"}
        # its one table write: the doctor's canary items, and no other key
        writes = [s for s in intake.values() if any(a.startswith("dynamodb:") for a in actions(s))]
        assert [actions(s) for s in writes] == [["dynamodb:PutItem"]]
        assert writes[0]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["canary#*"]}}


def test_key_use_goes_through_one_named_service_per_statement(synth: Synth) -> None:
    for region in synth.config["regions"]:
        for name, policy in _policies(synth, region).items():
            for sid, statement in policy.items():
                if any(a.startswith("kms:") for a in actions(statement)):
                    via = statement["Condition"]["StringEquals"]["kms:ViaService"]
                    assert re.fullmatch(rf"(ssm|sqs|sns|dynamodb)\.{region}\.amazonaws\.com", via), (
                        name,
                        sid,
                    )


def test_baselines_are_read_only_under_the_prefix_for_this_region(synth: Synth) -> None:
    prefix = synth.config.get("prefix", "/eks-access-guard/")
    for region in synth.config["regions"]:
        base = f"arn:aws:ssm:{region}:{ACCOUNT}:parameter{prefix}clusters/{region}"
        for name, policy in _policies(synth, region).items():
            read = policy["ReadBaselines"]
            assert sorted(resources_of(read)) == [base, f"{base}/*"], name
            assert not any(
                a.startswith("ssm:Put") or a.startswith("ssm:Delete")
                for s in policy.values()
                for a in actions(s)
            )


def test_the_environment_names_are_the_runtimes_own(synth: Synth) -> None:
    names = {v for k, v in vars(Env).items() if not k.startswith("_")}
    for region in synth.config["regions"]:
        stack = SERVICE_STACK.format(region=region)
        for function in synth.resources("AWS::Lambda::Function", stack).values():
            variables = function["Properties"]["Environment"]["Variables"]
            ours = {k for k in variables if k.startswith("ACCESS_GUARD_")}
            assert ours <= names, ours - names
            assert {Env.PREFIX, Env.MODE, Env.SELF_ROLE_ARNS} <= ours
            self_roles = variables[Env.SELF_ROLE_ARNS]["Fn::Join"][1]
            assert len(as_list(self_roles)) == len(HANDLERS)
