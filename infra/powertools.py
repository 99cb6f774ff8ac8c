"""The Lambda runtime and the Powertools layer the functions run with: pinned here, nowhere else.

The layer is Powertools' public one (account 017000801446). Its ARN ends in a layer version number that
differs per release and is not published beside each release, so rather than guess it the stack names
Powertools' public SSM parameter for the exact release (documented form
`/aws/service/powertools/python/{arch}/{python}/{version}`), and CloudFormation resolves it to that
region's layer ARN at deploy time. Synth needs no AWS call; the version is the one requirements.txt pins
(a test keeps the two equal).
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

POWERTOOLS_VERSION = "3.37.0"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


def layer_parameter_name() -> str:
    """The public SSM parameter whose value is the Powertools layer ARN for our runtime and architecture."""
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"
