"""Deploy order: CloudFormation creates every function only after each policy its role holds and each
setting it reads at its first cold start. With active tracing, Lambda refuses CreateFunction while the role
cannot call xray:PutTraceSegments (aws-cdk #4176; reference, section 6), and a failed first deploy leaves
the retained key, tables and log groups behind."""

from __future__ import annotations

from typing import Any

from infra_synth import Synth


def _depends_on(resource: dict[str, Any]) -> set[str]:
    found = resource.get("DependsOn", [])
    return {found} if isinstance(found, str) else set(found)


def test_every_function_is_created_after_every_policy_of_its_role_and_its_settings(synth: Synth) -> None:
    checked = 0
    for stack, template in synth.templates.items():
        resources = template["Resources"]
        settings = {k for k, r in resources.items() if r["Type"] == "AWS::SSM::Parameter"}
        for logical_id, function in resources.items():
            if function["Type"] != "AWS::Lambda::Function":
                continue
            role = function["Properties"]["Role"]["Fn::GetAtt"][0]
            policies = {
                k
                for k, r in resources.items()
                if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
                and {"Ref": role} in r["Properties"].get("Roles", [])
            }
            assert policies, f"{stack}/{logical_id}: its role has no policy"
            missing = (policies | settings) - _depends_on(function)
            assert not missing, f"{stack}/{logical_id} may be created before {sorted(missing)}"
            checked += 1
    assert checked >= 5
