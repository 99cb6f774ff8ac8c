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

Time. The services read the local clock (local/clock.py: real time plus an offset): the functions (through
Env.LOCAL_CLOCK_FILE, which the wiring reads), the scheduler, the sweep's timer and the locks. Moving it
(`POST /_emulator/clock {"advanceSeconds": N}`, or `SERVICE_CLOCK.advance(N)`) fires what is then due before
it answers: the grants' schedules (the expiry runs) and the sweep, if its interval has passed.

Isolation. `Pipeline.create(isolation="process")` (what `python -m local serve` uses) runs every function in
worker processes that are killed at the function's timeout (local/runtime/functions.py); the default,
"inline", runs them in this process (fast tests; a test's own clock through wiring.set_clock).
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
from access_guard.core import deployment

from .clock import SERVICE_CLOCK
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
# Each function's timeout and each queue's visibility timeout, as the CDK deploys them (core.deployment).
TIMEOUTS = {
    "intake": float(deployment.INTAKE_TIMEOUT_SECONDS),
    "remediate": float(deployment.REMEDIATE_TIMEOUT_SECONDS),
    "sweep": float(deployment.SWEEP_TIMEOUT_SECONDS),
}
VISIBILITY = {
    "intake": deployment.INTAKE_VISIBILITY_TIMEOUT_SECONDS,
    "work": deployment.WORK_VISIBILITY_TIMEOUT_SECONDS,
}
# Strict: batches of one function that AWS would run at once (a FIFO source: one per message group).
STRICT_CONCURRENCY = 5
# The break-glass API and the grants' expiry (registered by local/breakglass_api.py when the API is served).
API_FUNCTIONS = ("api", "expiry")


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
    sweep_seconds: float | None = None
    _next_sweep: float = 0.0
    _sweep_lock: threading.Lock = field(default_factory=threading.Lock)
    _unlisten: list[Callable[[], None]] = field(default_factory=list)

    # --- building ----------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        endpoint: str,
        *,
        region: str = "us-east-1",
        prefix: str | None = None,
        environment: Mapping[str, str] | None = None,
        isolation: str = "inline",
        strict: bool = False,
    ) -> Pipeline:
        """Make the pipeline's resources in the local AWS at `endpoint` and register its functions
        (`isolation`: "process" runs them in worker processes stopped at their timeouts, see the module).
        Functions, queues and event sources get the CDK's settings (core.deployment). `strict` is AWS's
        pace: a failed message returns only after its queue's visibility timeout (move the services' clock
        to see it sooner), and each event source runs several batches at once (a FIFO source one per
        message group); without it failed messages return at once, one batch at a time (fast tests).

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
        # imported, such as clients bound to an endpoint) are imported afresh for this pipeline. The wiring
        # module stays (code that imported it keeps the one the handlers use) and forgets what it built.
        from access_guard.handlers import wiring

        for module in [m for m in sys.modules if m.startswith("access_guard.handlers.")]:
            if module != wiring.__name__:
                del sys.modules[module]
        wiring.set_clock(None)
        wiring.reset()

        def client(service: str, in_region: str = region) -> Any:
            return boto3.client(service, region_name=in_region, endpoint_url=endpoint)

        sqs, sns, events, iam, dynamodb = (client(s) for s in ("sqs", "sns", "events", "iam", "dynamodb"))
        queues: dict[str, str] = {}
        arns: dict[str, str] = {}

        def queue(name: str, *, fifo: bool = False, dlq: str | None = None) -> None:
            attributes: dict[str, str] = {"VisibilityTimeout": str(VISIBILITY.get(name, 30))}
            if fifo:
                attributes["FifoQueue"] = "true"
            if dlq:
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": arns[dlq], "maxReceiveCount": str(deployment.MAX_RECEIVES)}
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
            Env.LOCAL_CLOCK_FILE: SERVICE_CLOCK.file,
            **(environment or {}),
        }
        # The deployment record, as the stack writes it: the CLI finds the locks, grants and topic with it.
        from access_guard.adapters.deployment import write_deployment
        from access_guard.core.deployment import Deployment

        write_deployment(
            client("ssm"),
            prefix,
            Deployment(
                region=region,
                state_table=tables["state"],
                grants_table=tables["grants"],
                audit_table=tables["audit"],
                topic_arn=topic_arn,
                work_queue_url=queues["work"],
            ),
        )
        registry = FunctionRegistry(
            region=region, account_id=ACCOUNT, endpoint_url=endpoint, isolation=isolation
        )
        pipeline = cls(endpoint, region, prefix, settings, queues, topic_arn, tables, roles, registry)
        for function, path in HANDLERS.items():
            registry.register(
                function,
                path,
                timeout=TIMEOUTS[function],
                environment=settings,
                role_arn=roles[function],
            )
        pipeline.sources = [
            SqsEventSource(
                registry,
                function,
                queues[queue],
                batch_size=deployment.SQS_BATCH_SIZE,
                # Strict: a failed message comes back when its visibility timeout ends (on the services'
                # clock: moving it ahead brings it back); else at once.
                retry_delay=VISIBILITY[queue] if strict else 0.0,
                # (Lambda polls a standard queue with five batches at once to begin with)
                concurrency=STRICT_CONCURRENCY if strict else (5 if queue == "intake" else 1),
                batch_per_group=strict,
                clock=SERVICE_CLOCK.monotonic,
            )
            for function, queue in (("intake", "intake"), ("remediate", "work"))
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
        scheduler_precision_seconds: float = 0.0,
        scheduler_seed: int | str | None = 0,
        as_deployed: bool = False,
        oncall_permission_sets: list[str] | None = None,
    ) -> str:
        """Serve the break-glass API on 127.0.0.1:`port` (its URL is returned), sharing this pipeline's tables
        and topic, with grants' expiries fired by the local scheduler every `tick_seconds` (None: only when
        `scheduler.tick()` is called, or the local clock moves). `clock` is the services' clock (tests and
        the demo move it; inline isolation only); by default the local clock (local/clock.py).
        `scheduler_precision_seconds` (core.limits.SCHEDULER_PRECISION_SECONDS: as in AWS) fires each
        schedule anywhere within its minute, reproducibly for `scheduler_seed`; 0 at the exact second.
        `as_deployed`: the deployed API's resource policy, request validation and access logs in front of the
        function (local/breakglass_api.serve_api)."""
        from access_guard.core.config import Env

        from .breakglass_api import LocalNames, expiry_scheduler, serve_api

        if clock is not None and self.registry.isolation == "process":
            raise ValueError("a test's clock reaches in-process functions only: move the local clock instead")

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
        # the API reads baselines as every function does (through the baseline key's check and holds), hands
        # a run's continuation on to the work queue, and keeps the local services' clock
        shared = (
            "POWERTOOLS_",
            "ACCESS_GUARD_SELF",
            "ACCESS_GUARD_BASELINE_KEY",
            "ACCESS_GUARD_HOLD",
            "ACCESS_GUARD_WORK_QUEUE",
        )
        settings = {
            k: v for k, v in self.environment.items() if k.startswith(shared) or k == Env.LOCAL_CLOCK_FILE
        }
        if oncall_permission_sets:  # IAM Identity Center permission sets whose roles' sessions are on call
            from access_guard.core.config import Env

            settings[Env.ONCALL_PERMISSION_SETS] = ",".join(oncall_permission_sets)
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
            as_deployed=as_deployed,
        )
        self.scheduler = expiry_scheduler(
            self.registry,
            clock=clock or SERVICE_CLOCK.now,
            precision_seconds=scheduler_precision_seconds,
            seed=scheduler_seed,
        )
        if clock is None:
            self._unlisten.append(SERVICE_CLOCK.on_advance(self.scheduler.tick))
        if tick_seconds:
            self.scheduler.start(tick_seconds)
        return str(self._gateway.endpoint)

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
            # The sweep's schedule runs on the local clock: moving it past the interval sweeps at once.
            self.sweep_seconds = sweep_seconds
            self._next_sweep = SERVICE_CLOCK.time() + sweep_seconds
            self._unlisten.append(SERVICE_CLOCK.on_advance(self._sweep_if_due))
            self._sweeper = threading.Thread(target=self._sweep_every, daemon=True)
            self._sweeper.start()

    def _sweep_every(self) -> None:
        while not self._stopping.wait(min(1.0, self.sweep_seconds or 1.0)):
            self._sweep_if_due()

    def _sweep_if_due(self) -> None:
        with self._sweep_lock:
            if self.sweep_seconds is None or SERVICE_CLOCK.time() < self._next_sweep:
                return
            # One sweep however far the clock moved (EventBridge does not catch up on missed rate() runs).
            self._next_sweep = SERVICE_CLOCK.time() + self.sweep_seconds
            # a failed sweep is logged by the runtime; the next one tries again
            with contextlib.suppress(Exception):
                self.sweep()

    def stop(self) -> None:
        """Stop its pollers, scheduler, API and workers, and stop listening to the local clock (a pipeline
        left listening fires its expiries, with its own settings, for whatever a later one schedules).
        Stopping twice is stopping once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for unlisten in self._unlisten:
            unlisten()
        self._unlisten.clear()
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
        self.registry.close()  # worker processes (process isolation)

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
