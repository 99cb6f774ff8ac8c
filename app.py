#!/usr/bin/env python3
"""CDK entry point: `make synth`, or `npx cdk deploy --all` (see infra/DEPLOY.md). No AWS call at synth."""

from infra.app import main

main().synth()
