#!/usr/bin/env python3
"""CDK entry point: `make synth`, or `npx cdk deploy --all` (see the README, Deploy). No AWS call at synth."""

from infra.app import main

main().synth()
