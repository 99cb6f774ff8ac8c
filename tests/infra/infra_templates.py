"""Reading synthesized templates the way a reviewer does: every policy document, wherever it lives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Where each resource type keeps its policy documents.
POLICY_DOCUMENTS = {
    "AWS::IAM::Policy": lambda p: [p["PolicyDocument"]],
    "AWS::IAM::ManagedPolicy": lambda p: [p["PolicyDocument"]],
    "AWS::IAM::Role": lambda p: (
        [p["AssumeRolePolicyDocument"]] + [x["PolicyDocument"] for x in p.get("Policies", [])]
    ),
    "AWS::KMS::Key": lambda p: [p["KeyPolicy"]],
    "AWS::SQS::QueuePolicy": lambda p: [p["PolicyDocument"]],
    "AWS::SNS::TopicPolicy": lambda p: [p["PolicyDocument"]],
    "AWS::ApiGateway::RestApi": lambda p: [p["Policy"]] if "Policy" in p else [],
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(templates: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stack, logical id, statement) of every statement of every policy document in the templates."""
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            documents = POLICY_DOCUMENTS.get(resource["Type"])
            if documents is None:
                continue
            for document in documents(resource["Properties"]):
                for statement in as_list(document["Statement"]):
                    yield stack, logical_id, statement


def function_policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each Lambda function's handler -> the statements of every policy attached to its role (inline or
    customer managed)."""
    resources = template["Resources"]
    by_role: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for role in resource["Properties"]["Roles"]:
                by_role.setdefault(role["Ref"], []).extend(
                    as_list(resource["Properties"]["PolicyDocument"]["Statement"])
                )
    found = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::Function":
            role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
            found[resource["Properties"]["Handler"]] = by_role.get(role, [])
    return found


def by_sid(statements_: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements_}


def actions(statement: dict[str, Any]) -> list[str]:
    return as_list(statement.get("Action", []))


def resources_of(statement: dict[str, Any]) -> list[Any]:
    return as_list(statement.get("Resource", []))


def logical_id_of(synth_metadata: dict[str, list[dict[str, Any]]], path_suffix: str) -> str:
    """The logical id of the CloudFormation resource at a construct path ending in `path_suffix`."""
    matches = [
        entry["data"]
        for path, entries in synth_metadata.items()
        if path.endswith(path_suffix)
        for entry in entries
        if entry["type"] == "aws:cdk:logicalId"
    ]
    assert len(matches) == 1, f"{path_suffix}: {matches}"
    return matches[0]
