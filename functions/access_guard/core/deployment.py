"""The service's own deployed settings, one definition each: the CDK (infra/) deploys them and the local AWS
(local/runner.py) runs its functions and queues with them, so the local world waits as long as AWS does.
"""

from __future__ import annotations

from .config import DEFAULT_MODE_UPDATE_WAIT_SECONDS
from .limits import API_GATEWAY_TIMEOUT_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS

# Function timeouts, seconds.
INTAKE_TIMEOUT_SECONDS = 60
# A run may wait for one mode update, plus a minute for the rest of its work.
REMEDIATE_TIMEOUT_SECONDS = int(DEFAULT_MODE_UPDATE_WAIT_SECONDS) + 60
EXPIRY_TIMEOUT_SECONDS = REMEDIATE_TIMEOUT_SECONDS
SWEEP_TIMEOUT_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS
API_TIMEOUT_SECONDS = API_GATEWAY_TIMEOUT_SECONDS  # the gateway stops waiting then anyway

# Lambda's advice for SQS event sources: a queue's visibility timeout at least six times the function's.
VISIBILITY_TIMEOUT_FACTOR = 6
INTAKE_VISIBILITY_TIMEOUT_SECONDS = INTAKE_TIMEOUT_SECONDS * VISIBILITY_TIMEOUT_FACTOR
WORK_VISIBILITY_TIMEOUT_SECONDS = REMEDIATE_TIMEOUT_SECONDS * VISIBILITY_TIMEOUT_FACTOR

SQS_BATCH_SIZE = 10  # messages per batch, both event sources
MAX_RECEIVES = 5  # deliveries before a message goes to its dead-letter queue
