"""A local Lambda runtime: runs Lambda handlers in process or in worker processes stopped at their timeout
(`FunctionRegistry(isolation="process")`), driven by the local AWS.

moto stores functions, queues and schedules but runs no code. This package does what AWS's services do
with them: SQS event source mappings (`SqsEventSource`, `SqsPoller`), EventBridge Scheduler's one-time
schedules (`LocalScheduler`) and an API Gateway REST API with IAM authorization (`LocalApiGateway`), all
invoking plain `handler(event, context)` callables registered in a `FunctionRegistry`.

    registry = FunctionRegistry(endpoint_url=aws.endpoint)          # or AWS_ENDPOINT_URL
    registry.register("remediate", handler, timeout=60, environment={"TABLE": "grants"})
    SqsEventSource(registry, "remediate", queue_url).run_until_idle()  # or SqsPoller([...]).start()
    LocalScheduler(registry, clock=clock).tick()                      # fire the schedules now due
    with LocalApiGateway(registry, "api", ["POST /grants", "GET /grants/{id}"]) as api:
        ...                                                          # SigV4-signed requests to api.endpoint

Each module's docstring says what it models of AWS, and what it does not.
"""

from .functions import (
    AsyncResult,
    Function,
    FunctionNotFound,
    FunctionRegistry,
    FunctionTimeout,
    InvocationError,
    LambdaContext,
)
from .gateway import LocalApiGateway, Route
from .scheduler import Firing, LocalScheduler
from .sqs import SqsEventSource, SqsPoller

__all__ = [
    "AsyncResult",
    "Firing",
    "Function",
    "FunctionNotFound",
    "FunctionRegistry",
    "FunctionTimeout",
    "InvocationError",
    "LambdaContext",
    "LocalApiGateway",
    "LocalScheduler",
    "Route",
    "SqsEventSource",
    "SqsPoller",
]
