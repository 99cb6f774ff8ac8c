"""The Lambda runtime and the Powertools layer the functions run with: pinned here, nowhere else.

The layer is Powertools' public one (account 017000801446). Its ARN ends in a layer version number that
differs per release and is not published beside each release, so rather than guess it the stack names
Powertools' public SSM parameter for the exact release (documented form
`/aws/service/powertools/python/{arch}/{python}/{version}`), and CloudFormation resolves it to that
region's layer ARN at deploy time. Synth needs no AWS call; the version is the one requirements.txt pins
(a test keeps the two equal).
"""

from __future__ import annotations

from access_guard.core import doctor
from aws_cdk import aws_lambda as lambda_

POWERTOOLS_VERSION = doctor.POWERTOOLS_VERSION  # pinned in the core, which the doctor reads too
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
assert (RUNTIME.name, ARCHITECTURE.name) == (doctor.LAMBDA_PYTHON, doctor.LAMBDA_ARCHITECTURE)


def layer_parameter_name() -> str:
    """The public SSM parameter whose value is the Powertools layer ARN for our runtime and architecture."""
    return doctor.powertools_layer_parameter()
