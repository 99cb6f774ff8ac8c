"""The deployment config: every problem reported at once, before anything is built; the runtime's
settings judged by the runtime's own parser."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_synth import NAMED, TAGGED, Synth

from infra import config as config_mod
from infra import powertools
from infra.config import DeployConfigError, parse

ROOT = Path(__file__).resolve().parents[2]


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(DeployConfigError) as caught:
        parse(raw)
    return caught.value.problems


def test_the_test_configs_and_the_shipped_example_are_valid() -> None:
    parse(NAMED)
    parse(TAGGED)
    example = json.loads((ROOT / "cdk.json").read_text())["context"][config_mod.CONTEXT_KEY]
    config = parse(example)
    assert config.mode == "detect"  # the example starts by watching, not changing


def test_every_problem_is_reported_at_once_with_the_setting_it_concerns() -> None:
    found = problems(
        {
            "account": "12345",
            "regions": ["eu-west-1", "cn-north-1"],
            "clusters": ["prod a"],
            "oncallPrincipals": ["arn:aws:sts::123456789012:assumed-role/oncall/me"],
            "notificationEmails": ["not-an-address"],
            "mode": "fix",
            "sweepIntervalMinutes": 0,
            "grantPolicies": ["arn:aws:eks::aws:cluster-access-policy/NoSuchPolicy"],
            "requireMFA": True,
        }
    )
    text = "\n".join(found)
    for expected in (
        "account must be the 12-digit",
        "'cn-north-1' is not a region of the aws partition",
        "'prod a' (eu-west-1) is not an EKS cluster name",
        "notificationEmails: 'not-an-address'",
        "sweepIntervalMinutes must be a whole number",
        "unknown setting 'requireMFA'",
        # judged by the runtime's Config.from_env, named by the setting the operator wrote
        "oncallPrincipals: 'arn:aws:sts::123456789012:assumed-role/oncall/me' is not an IAM role or user ARN",
        "mode must be enforce or detect",
        "grantPolicies: 'arn:aws:eks::aws:cluster-access-policy/NoSuchPolicy' is not a known EKS",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "ACCESS_GUARD_" not in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clusterTag": {"key": "a", "value": "b"}}, "exactly one of clusters"),
        ({"clusters": {"eu-west-1": ["a"]}}, "no cluster named for us-east-1"),
        (
            {"clusters": {"eu-west-1": ["a"], "us-east-1": ["b"], "us-west-2": ["c"]}},
            "'us-west-2' is not one of regions",
        ),
        ({"oncallPrincipals": []}, "oncallPrincipals must name at least one"),
        ({"prefix": "/aws/guard/"}, "reserved by AWS"),
        ({"nodeRoleArns": ["arn:aws:iam::999999999999:role/node"]}, "not an IAM role ARN of account"),
        ({"logRetentionDays": 42}, "logRetentionDays must be one of"),
        ({"apiThrottle": {"rateLimit": 10, "burstLimit": 5}}, "burstLimit must be at least"),
        ({"maxGrantMinutes": 5000}, "maxGrantMinutes must be a whole number from 1 to 1440"),
        ({"requireMfa": "yes"}, "requireMfa must be true or false"),
    ],
)
def test_a_bad_setting_is_refused_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    assert any(message in p for p in problems({**NAMED, **change})), problems({**NAMED, **change})


def test_a_bad_config_builds_nothing() -> None:
    from aws_cdk import App

    from infra.app import build

    app = App()
    with pytest.raises(DeployConfigError):
        build(app, parse({**NAMED, "mode": "sometimes"}))
    assert app.node.children == []


def test_a_config_file_named_in_the_context_is_read_relative_to_the_app(tmp_path: Path) -> None:
    (tmp_path / "guard.json").write_text(json.dumps(TAGGED))
    assert config_mod.from_context("guard.json", base_dir=tmp_path).cluster_tag is not None
    with pytest.raises(DeployConfigError, match="cannot read the config file"):
        config_mod.from_context("missing.json", base_dir=tmp_path)
    with pytest.raises(DeployConfigError, match="no configuration"):
        config_mod.from_context(None, base_dir=tmp_path)


def _stack_names(raw: dict[str, Any]) -> list[str]:
    from aws_cdk import App

    from infra.app import build

    return sorted(build(App(), parse(raw)))


def test_us_east_1_alone_needs_no_forwarder() -> None:
    assert _stack_names({**TAGGED, "regions": ["us-east-1"]}) == ["EksAccessGuard-us-east-1"]


def test_powertools_layer_is_the_release_requirements_txt_pins(named: Synth) -> None:
    pinned = re.search(r"^aws-lambda-powertools==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and pinned[1] == powertools.POWERTOOLS_VERSION
    for stack, template in named.templates.items():
        if "Forwarder" in stack:
            continue
        layers = [
            p["Default"]
            for p in template["Parameters"].values()
            if p["Default"].startswith("/aws/service/powertools/")
        ]
        assert layers == [powertools.layer_parameter_name()]
        assert layers[0].endswith(f"/{powertools.RUNTIME.name}/{powertools.POWERTOOLS_VERSION}")
        for function in named.resources("AWS::Lambda::Function", stack).values():
            assert function["Properties"]["Runtime"] == powertools.RUNTIME.name
            assert len(function["Properties"]["Layers"]) == 1


def test_the_code_asset_is_the_runtime_package_alone(named: Synth) -> None:
    assets = [p for p in named.outdir.iterdir() if p.name.startswith("asset.")]
    assert len(assets) == 1  # one asset, shared by every function
    (asset,) = assets
    assert sorted(p.name for p in asset.iterdir()) == ["access_guard"]
    leftovers = [p for p in asset.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert leftovers == []
    assert (asset / "access_guard" / "core" / "triggers.py").is_file()


def test_more_than_five_forwarded_regions_are_spread_over_rules_of_five_targets() -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build
    from infra.stacks import FORWARDER_STACK

    regions = ["eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "sa-east-1"]
    stacks = build(App(), parse({**TAGGED, "regions": regions}))
    rules = Template.from_stack(stacks[FORWARDER_STACK]).find_resources("AWS::Events::Rule")
    targets = [t["Arn"] for r in rules.values() for t in r["Properties"]["Targets"]]
    assert sorted(len(r["Properties"]["Targets"]) for r in rules.values()) == [2, 5]
    assert sorted(targets) == sorted(
        f"arn:aws:events:{r}:{TAGGED['account']}:event-bus/default" for r in regions
    )


def test_require_mfa_with_identity_center_on_call_roles_says_they_are_exempt_and_why() -> None:
    (note,) = parse(NAMED).notes()  # NAMED lists an Identity Center role and requires MFA
    assert "AWSReservedSSO_Admin" in note and "exempt" in note and "AssumeRoleWithSAML" in note
    assert parse({**NAMED, "requireMfa": False}).notes() == []
    plain = [a for a in NAMED["oncallPrincipals"] if "aws-reserved" not in a]
    assert parse({**NAMED, "oncallPrincipals": plain}).notes() == []
