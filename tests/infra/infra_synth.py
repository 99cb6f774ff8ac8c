"""Synthesizing the app once per configuration for the whole test run, and sharing the cloud assembly.

Synthesis (jsii, every stack, the cdk-nag checks) takes seconds, so each configuration is synthesized once
per run: under pytest-xdist the first worker to need it synthesizes into a directory shared by all
workers (under a file lock), the others read what it wrote. Tests assert on the synthesized templates
only, as CloudFormation will see them.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ACCOUNT = "123456789012"

# Named clusters in two regions, one of them us-east-1 (its own "iam" rule), one forwarded to.
NAMED: dict[str, Any] = {
    "account": ACCOUNT,
    "regions": ["eu-west-1", "us-east-1"],
    "clusters": {"eu-west-1": ["prod-a", "prod-b"], "us-east-1": ["edge"]},
    "prefix": "/eks-access-guard/",
    "oncallPrincipals": [
        f"arn:aws:iam::{ACCOUNT}:role/oncall",
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
        f"arn:aws:iam::{ACCOUNT}:user/breakglass",
    ],
    "requireMfa": True,
    "notificationEmails": ["oncall@example.com"],
    "mode": "enforce",
    "sweepIntervalMinutes": 10,
    "maxGrantMinutes": 30,
    "grantPolicies": [
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
    ],
    "nodeRoleArns": [f"arn:aws:iam::{ACCOUNT}:role/karpenter-node"],
    "baselineWriters": [
        f"arn:aws:iam::{ACCOUNT}:role/platform-ci",
        f"arn:aws:iam::{ACCOUNT}:user/platform-lead",
    ],
    "holdNewAdminsMinutes": 30,
}
# Clusters chosen by tag, two regions outside us-east-1 (both forwarded to), no MFA requirement.
TAGGED: dict[str, Any] = {
    "account": ACCOUNT,
    "regions": ["eu-west-1", "ap-southeast-2"],
    "clusterTag": {"key": "access-guard", "value": "managed"},
    "oncallPrincipals": [f"arn:aws:iam::{ACCOUNT}:role/oncall"],
    "oncallPermissionSets": ["PlatformOnCall"],
    "requireMfa": False,
    "mode": "detect",
    "baselineWriters": [f"arn:aws:iam::{ACCOUNT}:role/platform-ci"],
}
# At scale: 100 named clusters in each of two regions and 40 on-call principals (half of them Identity
# Center roles with the region segment), names as long as real ones get. Every AWS limit must still hold.
SCALE_REGIONS = ("eu-west-1", "ap-southeast-2")
SCALE: dict[str, Any] = {
    **NAMED,
    "regions": list(SCALE_REGIONS),
    "clusters": {r: [f"payments-prod-{r}-{i:03d}" for i in range(100)] for r in SCALE_REGIONS},
    "oncallPrincipals": [
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
        f"AWSReservedSSO_PlatformOnCallTeam{i:02d}_{i:02d}23456789abcdef"
        for i in range(20)
    ]
    + [f"arn:aws:iam::{ACCOUNT}:role/oncall/responders/team-{i:02d}-incident-responder" for i in range(20)],
}
CONFIGS = {"named": NAMED, "tagged": TAGGED, "scale": SCALE}


@dataclass
class Synth:
    """A synthesized app: its templates by stack name, and what the cdk-nag gate said."""

    config: dict[str, Any]
    outdir: Path
    seconds: float
    error: str | None  # synth's exception (cdk-nag findings fail synth), None when it passed
    violations: list[dict[str, Any]]
    manifest: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stacks(self) -> dict[str, dict[str, Any]]:
        return {
            name: a
            for name, a in self.manifest["artifacts"].items()
            if a["type"] == "aws:cloudformation:stack"
        }

    def resources(self, kind: str, stack: str | None = None) -> dict[str, dict[str, Any]]:
        """Resources of a CloudFormation type, keyed `stack/logicalId`."""
        found = {}
        for name, template in self.templates.items():
            if stack is None or name == stack:
                for logical_id, resource in template["Resources"].items():
                    if resource["Type"] == kind:
                        found[f"{name}/{logical_id}"] = resource
        return found

    def metadata(self, stack: str) -> dict[str, list[dict[str, Any]]]:
        return json.loads((self.outdir / f"{stack}.metadata.json").read_text())


def synthesize(config: dict[str, Any], outdir: Path) -> dict[str, Any]:
    """Build and synthesize the app in this process; return what the tests need (JSON-able)."""
    from aws_cdk import App

    from infra import config as config_mod
    from infra.app import build

    started = time.monotonic()
    app = App(outdir=str(outdir), context={"@aws-cdk/core:validationReportJson": True})
    build(app, config_mod.parse(config))
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # ValidationFailed: the cdk-nag report lists what is not acknowledged
        error = str(exc)
    report = json.loads((outdir / "policy-validation-report.json").read_text())
    violations = [v for plugin in report.get("pluginReports", []) for v in plugin.get("violations", [])]
    return {"seconds": time.monotonic() - started, "error": error, "violations": violations}


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist every worker's basetemp is a sibling in one run directory: share that.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _load(name: str, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    root = _shared_root(tmp_path_factory) / "infra-synth"
    root.mkdir(exist_ok=True)
    outdir, done = root / name, root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            outdir.mkdir(exist_ok=True)
            done.write_text(json.dumps(synthesize(CONFIGS[name], outdir)))
    result = json.loads(done.read_text())
    synth = Synth(config=CONFIGS[name], outdir=outdir, **result)
    synth.manifest = json.loads((outdir / "manifest.json").read_text())
    for stack, artifact in synth.stacks().items():
        synth.templates[stack] = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
    return synth


def load(name: str, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _load(name, tmp_path_factory)
