"""The guard's event pipeline running locally: the same handlers as in AWS, over the local AWS.

`Pipeline.create` makes in the local AWS what the CDK makes in an account (infra/): the intake queue and its
dead-letter queue, the FIFO work queue (one message group per cluster) and its dead-letter queue, the SNS
topic with an SQS subscription to read the notifications from, the DynamoDB tables, the grants' schedule
group, one IAM role per function (their calls come back through CloudTrail as the guard's own), and the
EventBridge rules on the default bus with the runtime's own patterns (core.triggers), IAM's forwarded from
us-east-1 when the service runs elsewhere. Then the local Lambda runtime (local/runtime) runs the handlers
as Lambda's event source mappings would: intake behind the intake queue, remediate behind the work queue,
the sweep on a timer.

`drain()` runs everything to quiet in the caller's thread (tests, benchmarks); `start()` runs it in the
background (`python -m local serve`, the demo).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from .runtime import FunctionRegistry, SqsEventSource, SqsPoller

ACCOUNT = "123456789012"
NAME = "eks-access-guard"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
# The product's handlers, as infra/ names them.
HANDLERS = {
    "intake": "access_guard.handlers.intake.handler",
    "remediate": "access_guard.handlers.remediate.handler",
    "sweep": "access_guard.handlers.sweep.handler",
}
TIMEOUTS = {"intake": 60.0, "remediate": 300.0, "sweep": 900.0}
# The break-glass API and the grants' expiry (registered by local/breakglass_api.py when the API is served).
API_FUNCTIONS = ("api", "expiry")


def _handler(path: str) -> Callable[[Any, Any], Any]:
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@dataclass
class Pipeline:
    endpoint: str
    region: str
    prefix: str
    environment: dict[str, str]
    queues: dict[str, str]  # name -> URL: intake, intake-dlq, work, work-dlq, notifications
    topic_arn: str
    tables: dict[str, str]
    roles: dict[str, str]  # function -> role ARN
    registry: FunctionRegistry
    sources: list[SqsEventSource] = field(default_factory=list)
    _poller: SqsPoller | None = None
    _sweeper: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _client: Any = None
    _gateway: Any = None
    scheduler: Any = None

    # --- building ----------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        endpoint: str,
        *,
        region: str = "us-east-1",
        prefix: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> Pipeline:
        """Make the pipeline's resources in the local AWS at `endpoint` and register its functions.

        Handler modules read their settings when first imported: call this before anything imports them
        (the environment it sets for them is also applied, process-wide, while they run).
        """
        from access_guard.core.config import (
            AUDIT_TABLE_KEYS,
            DEFAULT_PREFIX,
            GRANTS_TABLE_KEYS,
            IDEMPOTENCY_TABLE_KEYS,
            STATE_TABLE_KEYS,
            Env,
            TableKeys,
        )
        from access_guard.core.triggers import IAM_EVENT_REGION, patterns

        prefix = prefix or DEFAULT_PREFIX
        # A new deployment runs in new Lambda containers: the handlers' modules (and what they made when
        # imported, such as clients bound to an endpoint) are imported afresh for this pipeline.
        for module in [m for m in sys.modules if m.startswith("access_guard.handlers")]:
            del sys.modules[module]

        def client(service: str, in_region: str = region) -> Any:
            return boto3.client(service, region_name=in_region, endpoint_url=endpoint)

        sqs, sns, events, iam, dynamodb = (client(s) for s in ("sqs", "sns", "events", "iam", "dynamodb"))
        queues: dict[str, str] = {}
        arns: dict[str, str] = {}

        def queue(name: str, *, fifo: bool = False, dlq: str | None = None) -> None:
            attributes: dict[str, str] = {"VisibilityTimeout": "30"}
            if fifo:
                attributes["FifoQueue"] = "true"
            if dlq:
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": arns[dlq], "maxReceiveCount": "5"}
                )
            suffix = ".fifo" if fifo else ""
            url = sqs.create_queue(QueueName=f"{NAME}-{name}{suffix}", Attributes=attributes)["QueueUrl"]
            queues[name] = url
            arns[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]

        queue("intake-dlq")
        queue("intake", dlq="intake-dlq")
        queue("work-dlq", fifo=True)
        queue("work", fifo=True, dlq="work-dlq")
        queue("notifications")
        topic_arn = sns.create_topic(Name=NAME)["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arns["notifications"])

        tables: dict[str, str] = {}

        def table(name: str, keys: TableKeys) -> None:
            attributes = {keys.partition, *([keys.sort] if keys.sort else [])}
            for _, partition, sort in keys.indexes:
                attributes |= {partition, sort}
            schema = [{"AttributeName": keys.partition, "KeyType": "HASH"}]
            if keys.sort:
                schema.append({"AttributeName": keys.sort, "KeyType": "RANGE"})
            kwargs: dict[str, Any] = {
                "TableName": f"{NAME}-{name}",
                "KeySchema": schema,
                "AttributeDefinitions": [
                    {"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)
                ],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if keys.indexes:
                kwargs["GlobalSecondaryIndexes"] = [
                    {
                        "IndexName": index,
                        "KeySchema": [
                            {"AttributeName": partition, "KeyType": "HASH"},
                            {"AttributeName": sort, "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                    for index, partition, sort in keys.indexes
                ]
            dynamodb.create_table(**kwargs)
            tables[name] = kwargs["TableName"]

        for name, keys in (
            ("idempotency", IDEMPOTENCY_TABLE_KEYS),
            ("state", STATE_TABLE_KEYS),
            ("grants", GRANTS_TABLE_KEYS),
            ("audit", AUDIT_TABLE_KEYS),
        ):
            table(name, keys)

        roles = {
            function: iam.create_role(RoleName=f"{NAME}-{function}", AssumeRolePolicyDocument=TRUST)["Role"][
                "Arn"
            ]
            for function in (*HANDLERS, *API_FUNCTIONS)
        }

        # The rules, with the runtime's own patterns. IAM's events land on us-east-1's bus only: elsewhere a
        # rule there forwards them to this region's bus, as the CDK's forwarder stack does.
        for rule, pattern in patterns(prefix).items():
            name = f"{NAME}-{rule}"
            events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=name, Targets=[{"Id": "intake", "Arn": arns["intake"]}])
        if region != IAM_EVENT_REGION:
            forwarder = client("events", IAM_EVENT_REGION)
            name = f"{NAME}-iam-forward-{region}"
            forwarder.put_rule(Name=name, EventPattern=json.dumps(patterns(prefix)["iam"]), State="ENABLED")
            bus = f"arn:aws:events:{region}:{ACCOUNT}:event-bus/default"
            forwarder.put_targets(Rule=name, Targets=[{"Id": "service-region", "Arn": bus}])

        settings = {
            Env.PREFIX: prefix,
            Env.WORK_QUEUE_URL: queues["work"],
            Env.TOPIC_ARN: topic_arn,
            Env.IDEMPOTENCY_TABLE: tables["idempotency"],
            Env.STATE_TABLE: tables["state"],
            Env.GRANTS_TABLE: tables["grants"],
            Env.AUDIT_TABLE: tables["audit"],
            Env.SELF_ROLE_ARNS: ",".join(roles.values()),
            "AWS_ENDPOINT_URL": endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "POWERTOOLS_METRICS_NAMESPACE": "EksAccessGuard",
            **(environment or {}),
        }
        registry = FunctionRegistry(region=region, account_id=ACCOUNT, endpoint_url=endpoint)
        pipeline = cls(endpoint, region, prefix, settings, queues, topic_arn, tables, roles, registry)
        for function, path in HANDLERS.items():
            registry.register(
                function,
                pipeline._lazy(path),
                timeout=TIMEOUTS[function],
                environment=settings,
                role_arn=roles[function],
            )
        pipeline.sources = [
            # Lambda polls a standard queue with five batches at once to begin with (a FIFO queue: one
            # batch a message group at a time)
            SqsEventSource(registry, "intake", queues["intake"], batch_size=10, concurrency=5),
            SqsEventSource(registry, "remediate", queues["work"], batch_size=10),
        ]
        return pipeline

    def serve_api(
        self,
        *,
        port: int = 0,
        oncall_principals: list[str],
        require_mfa: bool = False,
        clock: Callable[[], Any] | None = None,
        tick_seconds: float | None = 1.0,
    ) -> str:
        """Serve the break-glass API on 127.0.0.1:`port` (its URL is returned), sharing this pipeline's tables
        and topic, with grants' expiries fired by the local scheduler every `tick_seconds` (None: only when
        `scheduler.tick()` is called). `clock` is the services' clock (tests and the demo move it)."""
        from .breakglass_api import LocalNames, expiry_scheduler, serve_api

        names = LocalNames(
            state_table=self.tables["state"],
            grants_table=self.tables["grants"],
            audit_table=self.tables["audit"],
            topic=NAME,
            schedule_group=f"{NAME}-grants",
            scheduler_role=f"{NAME}-grant-scheduler",
            api_function="api",
            expiry_function="expiry",
        )
        settings = {
            k: v for k, v in self.environment.items() if k.startswith(("POWERTOOLS_", "ACCESS_GUARD_SELF"))
        }
        self._gateway = serve_api(
            self.registry,
            oncall_principals=oncall_principals,
            port=port,
            require_mfa=require_mfa,
            clock=clock,
            names=names,
            prefix=self.prefix,
            settings=settings,
            roles={f: self.roles[f] for f in API_FUNCTIONS},
        )
        self.scheduler = expiry_scheduler(self.registry, clock=clock)
        if tick_seconds:
            self.scheduler.start(tick_seconds)
        return str(self._gateway.endpoint)

    def _lazy(self, path: str) -> Callable[[Any, Any], Any]:
        """The handler, imported at its first invocation (under its environment, as Lambda imports it)."""
        loaded: list[Callable[[Any, Any], Any]] = []

        def handler(event: Any, context: Any) -> Any:
            if not loaded:
                loaded.append(_handler(path))
            return loaded[0](event, context)

        return handler

    # --- running -------------------------------------------------------------------------------------
    def drain(self, timeout: float = 60.0) -> int:
        """Process what waits on the queues until all are empty and nothing is in flight; the count."""
        return SqsPoller(self.sources).run_until_idle(timeout)

    def wait_quiet(self, timeout: float = 30.0) -> None:
        """While the pipeline runs in the background: wait until no event waits for delivery and no queue
        has work, for a few checks in a row."""
        from .client import Emulator

        emulator = Emulator(self.endpoint)
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 3:
            if time.monotonic() > deadline:
                raise TimeoutError("the pipeline did not go quiet")
            delivery = emulator.cloudtrail_delivery()
            busy = (
                delivery.get("waiting", 0)
                or delivery.get("held", 0)
                or not all(s.idle() for s in self.sources)
            )
            quiet = 0 if busy else quiet + 1
            time.sleep(0.1)

    def sweep(self, tier: str | None = None, *, drain: bool = True) -> Any:
        """Invoke the sweep (its list check, or `tier`), then, unless told not to, drain the work it queued
        (one item a cluster) as the remediate function would: the sweep's report."""
        event: dict[str, Any] = {"source": "local.runner", "detail-type": "Scheduled Event"}
        if tier is not None:
            event["tier"] = tier
        report = self.registry.invoke("sweep", event)
        if drain and self._poller is None:
            self.drain()
        return report

    def start(self, *, sweep_seconds: float | None = None, poll_interval: float = 0.02) -> None:
        """Run the event source mappings in the background (an idle queue is polled every `poll_interval`
        seconds: Lambda long-polls, so its wait is near zero), and the sweep every `sweep_seconds`."""
        self._poller = SqsPoller(self.sources, poll_interval=poll_interval)
        self._poller.start()
        if sweep_seconds:
            self._sweeper = threading.Thread(target=self._sweep_every, args=(sweep_seconds,), daemon=True)
            self._sweeper.start()

    def _sweep_every(self, seconds: float) -> None:
        while not self._stopping.wait(seconds):
            # a failed sweep is logged by the runtime; the next one tries again
            with contextlib.suppress(Exception):
                self.sweep()

    def stop(self) -> None:
        self._stopping.set()
        if self._poller is not None:
            self._poller.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self._gateway is not None:
            self._gateway.stop()
            from access_guard.handlers import wiring

            wiring.set_clock(None)  # serve_api(clock=...) moved every function's clock
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)

    # --- reading what the guard said ------------------------------------------------------------------
    def _sqs(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sqs", region_name=self.region, endpoint_url=self.endpoint)
        return self._client

    def notifications(self, *, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        """The notes published since the last call: {subject, text, document} each (SNS's SQS delivery)."""
        sqs = self._sqs()
        notes: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_seconds
        while True:
            messages = sqs.receive_message(QueueUrl=self.queues["notifications"], MaxNumberOfMessages=10).get(
                "Messages", []
            )
            for message in messages:
                envelope = json.loads(message["Body"])
                notes.append(
                    {
                        "subject": envelope.get("Subject"),
                        "document": json.loads(envelope["Message"]),
                        "attributes": envelope.get("MessageAttributes", {}),
                    }
                )
                sqs.delete_message(
                    QueueUrl=self.queues["notifications"], ReceiptHandle=message["ReceiptHandle"]
                )
            if messages:
                continue
            if notes or time.monotonic() >= deadline:
                return notes
            time.sleep(0.1)

    def dead_letters(self) -> dict[str, int]:
        sqs = self._sqs()
        return {
            name: int(
                sqs.get_queue_attributes(
                    QueueUrl=self.queues[name], AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            for name in ("intake-dlq", "work-dlq")
        }
