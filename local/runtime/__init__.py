"""A local Lambda runtime: runs Lambda handlers in process, driven by the local AWS.

moto stores functions, queues and schedules but runs no code. This package does what AWS's services do
with them: SQS event source mappings (`SqsEventSource`, `SqsPoller`), EventBridge Scheduler's one-time
schedules (`LocalScheduler`) and an API Gateway REST API with IAM authorization (`LocalApiGateway`), all
invoking plain `handler(event, context)` callables registered in a `FunctionRegistry`.
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
