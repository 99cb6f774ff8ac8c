"""The guard's own roles' IAM policies, taken from the synthesized template, enforced on the local AWS.

`enforce(aws, served, template, cluster=...)` binds each served function's policy statements in the template
(the named configuration's us-east-1 service stack, synthesized once per test run: tests/infra/infra_synth.py)
to the local resources and gives them to the local AWS (local/iam_policies.py), which then refuses every call
of the functions' role sessions that the template does not allow, with AccessDenied as AWS does.

`served` is a local deployment of some of the template's functions (`Served`): the event pipeline
(local.runner.Pipeline, all five functions) or the break-glass world (tests/breakglass/conftest.py: the API
and the expiry). Its functions are registered under the template's names for them (intake, remediate, sweep,
api, expiry: the handler module's name), each with its own role.

Binding: a `{"Ref"}`/`{"Fn::GetAtt"}` of the template's tables, queues, topic, key, scheduler role and expiry
function becomes the local resource the same environment variable names (the intake queue: through its event
source mapping); the configuration's managed clusters in the region become `cluster` (the world's cluster,
as if the deployment had been made for it), its schedule group the local one. What cannot be bound (log
groups) becomes an ARN that matches nothing.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from access_guard.core.config import Env

sys.path.insert(0, str(Path(__file__).parent / "infra"))
from infra_synth import CONFIGS, load  # noqa: E402
from infra_templates import function_policies  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = f"EksAccessGuard-{REGION}"
CONFIG = (
    "named"  # its grant policies: AmazonEKSClusterAdminPolicy, AmazonEKSViewPolicy; node role karpenter-node
)
FUNCTIONS = ("intake", "remediate", "sweep", "api", "expiry")
# Settings the policies repeat: a policy's list equal to the template's value (the API role's eks:policyArn
# condition lists the grant policies) binds to the served function's value, as a deployment made with it
# would have it. Where the local function has no such setting, the template's list stands.
REPEATED_SETTINGS = (Env.GRANT_POLICIES,)


class Served(Protocol):
    """What the binding reads of a local deployment."""

    @property
    def registry(self) -> Any: ...  # local.runtime.FunctionRegistry: functions by their template names

    @property
    def roles(self) -> Mapping[str, str]: ...  # function -> its role ARN

    @property
    def queues(self) -> Mapping[str, str]: ...  # the event sources' queues (intake, work) -> URL, if served


def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The service stack's template (synthesized once per run, shared with tests/infra)."""
    return load(CONFIG, tmp_path_factory).templates[STACK]


def bound_policies(
    template: dict[str, Any], served: Served, *, cluster: str, clusters: Sequence[str] = ()
) -> dict[str, list[dict[str, Any]]]:
    """{local role ARN: the statements the template attaches to that function's role, bound locally}, for
    each function `served` runs. The configuration's managed clusters become `cluster` and `clusters` (each
    statement naming them once for each, as a deployment managing those clusters would name them)."""
    resources = template["Resources"]
    local_env = {name: _environment(served, name) for name in FUNCTIONS}
    arns: dict[str, str] = {}
    literals: dict[str, str] = {}
    lists: dict[tuple[str, ...], list[str]] = {}
    by_function_id: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        function = resource["Properties"]["Handler"].split(".")[2]
        by_function_id[logical_id] = function
        for variable, value in resource["Properties"].get("Environment", {}).get("Variables", {}).items():
            mine = local_env[function].get(variable)
            if mine is None:
                continue
            if isinstance(value, dict) and "Ref" in value:
                arns[value["Ref"]] = _arn_of(variable, mine)
            elif isinstance(value, dict) and "Fn::GetAtt" in value:
                arns[value["Fn::GetAtt"][0]] = mine
            elif isinstance(value, str) and variable.endswith("SCHEDULE_GROUP"):
                literals[f"schedule/{value}/"] = f"schedule/{mine}/"
            elif isinstance(value, str) and variable in REPEATED_SETTINGS:
                lists[tuple(value.split(","))] = mine.split(",")
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            function = by_function_id[resource["Properties"]["FunctionName"]["Ref"]]
            if not local_env[function]:  # its queue is not served here either
                continue
            queue = {"intake": "intake", "remediate": "work"}[function]
            url = served.queues[queue]
            arns[resource["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]] = _arn_of("QUEUE_URL", url)
    per_cluster = []
    for local in dict.fromkeys((cluster, *clusters)):
        named = dict(literals)
        for managed in CONFIGS[CONFIG]["clusters"][REGION]:
            named[f":cluster/{managed}"] = f":cluster/{local}"
            named[f":access-entry/{managed}/"] = f":access-entry/{local}/"
        per_cluster.append(named)
    found = {}
    for handler, statements in function_policies(template).items():
        function = handler.split(".")[2]
        if not local_env[function]:  # not served here (the API and the expiry: Pipeline.serve_api)
            continue
        bound: list[dict[str, Any]] = []
        for statement in statements:
            for named in per_cluster:
                one = _bind(copy.deepcopy(statement), arns, named, lists)
                if one not in bound:
                    bound.append(one)
        found[served.roles[function]] = bound
    return found


def _environment(served: Served, function: str) -> dict[str, str]:
    try:
        return dict(served.registry.get(function).environment)
    except LookupError:
        return {}


def _arn_of(variable: str, value: str) -> str:
    if variable.endswith("_TABLE"):
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{value}"
    if variable.endswith("QUEUE_URL"):
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{value.rstrip('/').rsplit('/', 1)[-1]}"
    return value


def _bind(
    value: Any, arns: dict[str, str], literals: dict[str, str], lists: dict[tuple[str, ...], list[str]]
) -> Any:
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value) and tuple(value) in lists:
            return list(lists[tuple(value)])
        return [_bind(v, arns, literals, lists) for v in value]
    if isinstance(value, str):
        if (value,) in lists:
            return list(lists[(value,)])
        for old, new in literals.items():
            if old.endswith("/"):
                value = value.replace(old, new)
            elif value.endswith(old):
                value = value[: -len(old)] + new
        return value
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return arns.get(value["Ref"], f"arn:unbound:{value['Ref']}")
        if set(value) == {"Fn::GetAtt"}:
            return arns.get(value["Fn::GetAtt"][0], f"arn:unbound:{value['Fn::GetAtt'][0]}")
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(_bind(p, arns, literals, lists)) for p in parts)
        return {k: _bind(v, arns, literals, lists) for k, v in value.items()}
    return value


def enforce(
    aws: Any, served: Served, template: dict[str, Any], *, cluster: str, clusters: Sequence[str] = ()
) -> dict[str, list[dict[str, Any]]]:
    """Enforce the template's policies for the roles of the functions `served` runs (the pipeline's five, the
    break-glass world's two); the bound policies."""
    policies = bound_policies(template, served, cluster=cluster, clusters=clusters)
    aws.enforce_iam(policies)
    return policies


def as_deployed(served: Served, template: dict[str, Any]) -> None:
    """The settings the policies are written for, as the template gives them to each function (the grant
    policies: the API role may associate only those)."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        function = resource["Properties"]["Handler"].split(".")[2]
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        for variable in REPEATED_SETTINGS:
            if isinstance(variables.get(variable), str) and _environment(served, function):
                served.registry.get(function).environment[variable] = variables[variable]
