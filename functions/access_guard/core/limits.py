"""AWS's limits the design must fit, one definition each, with its source. infra/, the local AWS's runner and
the tests import them from here.
"""

from __future__ import annotations

# API Gateway REST APIs: maximum integration timeout, 50 ms - 29 s (the default quota).
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
API_GATEWAY_TIMEOUT_SECONDS = 29

# Lambda: a function's timeout is at most 900 seconds (15 minutes).
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_MAX_TIMEOUT_SECONDS = 900

# Systems Manager Parameter Store: GetParameter, GetParameters and GetParametersByPath share a default
# throughput of 40 transactions per second per account and region (standard throughput).
# https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm
SSM_GET_TPS = 40

# EventBridge Scheduler: a schedule fires within the minute of its time ("60 second precision").
# https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-types.html
SCHEDULER_PRECISION_SECONDS = 60

# SQS event source mappings: at most 10 messages per batch from a FIFO queue.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
SQS_FIFO_MAX_BATCH_SIZE = 10
