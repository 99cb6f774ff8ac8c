"""Build the whole app from a config: the service stacks, the forwarder, and the cdk-nag gate."""

from __future__ import annotations

from pathlib import Path

from access_guard.core.config import APP_ID
from access_guard.core.triggers import IAM_EVENT_REGION
from aws_cdk import Annotations, App, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from . import config as config_mod
from .config import GuardConfig
from .stacks import FORWARDER_STACK, SERVICE_STACK, ForwarderStack, ServiceStack

ROOT = Path(__file__).resolve().parents[1]


def build(app: App, config: GuardConfig) -> dict[str, ServiceStack | ForwarderStack]:
    """Add every stack of `config` to `app`, with AwsSolutions checks on all of them."""
    stacks: dict[str, ServiceStack | ForwarderStack] = {}
    for region in config.regions:
        name = SERVICE_STACK.format(region=region)
        stacks[name] = ServiceStack(app, name, config=config, region=region)
    # A service region other than us-east-1 gets IAM events only through the forwarder; us-east-1's own
    # service stack has its "iam" rule on the bus the events reach.
    forwarded = [r for r in config.regions if r != IAM_EVENT_REGION]
    if forwarded:
        stacks[FORWARDER_STACK] = ForwarderStack(
            app, FORWARDER_STACK, config=config, targets_regions=forwarded
        )
    for note in config.notes():
        for stack in stacks.values():
            Annotations.of(stack).add_info(note)
    Tags.of(app).add("app", APP_ID)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


def main() -> App:
    app = App()
    config = config_mod.from_context(app.node.try_get_context(config_mod.CONTEXT_KEY), base_dir=ROOT)
    build(app, config)
    return app
