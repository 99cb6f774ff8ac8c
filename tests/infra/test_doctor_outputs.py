"""What `access-guard doctor` reads to find a deployment: the service stack's outputs, named by the core."""

from __future__ import annotations

from access_guard.core import doctor
from infra_synth import Synth

from infra import powertools
from infra.stacks import SERVICE_STACK


def test_each_service_stack_has_the_outputs_the_doctor_reads(synth: Synth) -> None:
    for region in synth.config["regions"]:
        template = synth.templates[SERVICE_STACK.format(region=region)]
        outputs = {k: v["Value"] for k, v in template["Outputs"].items()}
        for name in (
            doctor.TOPIC_OUTPUT,
            doctor.STATE_TABLE_OUTPUT,
            doctor.RULES_OUTPUT,
            doctor.SETTINGS_OUTPUT,
        ):
            assert name in outputs, name
        assert outputs[doctor.LAYER_PARAMETER_OUTPUT] == powertools.layer_parameter_name()
        rules = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
        joined = outputs[doctor.RULES_OUTPUT]["Fn::Join"]
        assert (
            joined[0] == "," and {item["Ref"] for item in joined[1]} == rules
        )  # every rule, the sweep's too
