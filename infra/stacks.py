"""The stacks: one service stack per region, and the IAM-event forwarder in us-east-1.

The service stack composes the single-purpose components and wires every permission here, in one place,
so the grants each function gets can be read top to bottom.
"""

from __future__ import annotations

from access_guard.core import doctor
from access_guard.core.breakglass import API_URL_OUTPUT, SERVICE_STACK_NAME
from access_guard.core.config import DEFAULT_MODE_UPDATE_WAIT_SECONDS, PARAMETER_SETTINGS, Env
from access_guard.core.deployment import REMEDIATE_TIMEOUT_SECONDS, Deployment, deployment_parameter
from access_guard.core.triggers import IAM_EVENT_REGION, iam_pattern, patterns
from aws_cdk import CfnOutput, Duration, Environment, Fn, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from . import powertools
from .components.api import BreakGlassApi
from .components.baseline_store import BaselineKey
from .components.function import GuardFunction
from .components.grants import GrantExpiry
from .components.monitoring import DeadLetterAlarms, Monitoring, RuleDeliveryAlarms
from .components.notifications import Notifications
from .components.pipeline import RemediationPipeline, RuleTargetDeadLetters, encrypted_queue, event_pattern
from .components.settings import DeploymentSettings
from .components.state import StateTables
from .components.sweep import Sweep
from .config import LOG_RETENTION, GuardConfig
from .eks import EksScope, pass_node_roles
from .iam import arn
from .limits import check_stack
from .nag import acknowledge
from .statements import list_without_resources, read_baselines, read_iam_principals

SERVICE_STACK = SERVICE_STACK_NAME  # the runtime's name: the CLI reads the API's URL from this stack
FORWARDER_STACK = "EksAccessGuard-IamForwarder"
MAX_TARGETS_PER_RULE = 5  # EventBridge's limit

RULE_DLQ_REASON = (
    "This queue is itself the dead-letter queue of EventBridge rule targets (their DeadLetterConfig), "
    "which cdk-nag does not see as DLQ use; a dead-letter queue of a dead-letter queue would only move the "
    "problem. Its depth is alarmed."
)


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """Powertools' public layer for the pinned release, resolved from its public SSM parameter at deploy."""
    layer_arn = ssm.StringParameter.value_for_string_parameter(scope, powertools.layer_parameter_name())
    return lambda_.LayerVersion.from_layer_version_arn(scope, "Powertools", layer_arn)


class ServiceStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: GuardConfig, region: str) -> None:
        super().__init__(
            scope,
            id,
            env=Environment(account=config.account, region=region),
            description=f"EKS Access Guard in {region}: keeps EKS cluster access at its baseline",
        )
        clusters = config.clusters_in(region)
        eks = EksScope(region=region, account=config.account, clusters=clusters, tag=config.cluster_tag)
        retention = getattr(logs.RetentionDays, LOG_RETENTION[config.log_retention_days])
        layer = powertools_layer(self)
        # The cluster and on-call lists grow with the deployment: they go to one SSM parameter the functions
        # read at cold start, not into their 4 KB environments (core.config.PARAMETER_SETTINGS).
        runtime = {k: v for k, v in config.runtime_env(region).items() if k not in PARAMETER_SETTINGS}
        self.settings = DeploymentSettings(
            self, "Settings", prefix=config.prefix, region=region, settings=config.runtime_env(region)
        )
        runtime.update(self.settings.environment)
        remediate_timeout = Duration.seconds(REMEDIATE_TIMEOUT_SECONDS)

        # --- what the guard keeps ------------------------------------------------------------------------
        self.baseline_key = BaselineKey(self, "BaselineKey")
        key = self.baseline_key.key
        self.tables = StateTables(self, "State", key=key)
        self.notifications = Notifications(self, "Notifications", key=key, emails=config.notification_emails)
        self.rule_dead_letters = RuleTargetDeadLetters(self, "RuleTargetDeadLetters", key=key)
        acknowledge(self.rule_dead_letters.queue, "SQS3", RULE_DLQ_REASON)

        tables, topic = self.tables, self.notifications.topic
        shared = {
            **runtime,
            Env.TOPIC_ARN: topic.topic_arn,
            Env.STATE_TABLE: tables.state.name,
            Env.GRANTS_TABLE: tables.grants.name,
        }

        # --- the event path --------------------------------------------------------------------------------
        self.pipeline = RemediationPipeline(
            self,
            "Pipeline",
            key=key,
            patterns=patterns(config.prefix),
            rule_dead_letters=self.rule_dead_letters,
            layer=layer,
            log_retention=retention,
            intake_environment={
                k: v
                for k, v in runtime.items()
                if k in (Env.PREFIX, Env.MODE, Env.SETTINGS_PATH, Env.SETTINGS_DIGEST)
            },
            remediate_environment={
                **shared,
                Env.AUDIT_TABLE: tables.audit.name,  # a run that ends a grant's access audits it
                Env.IDEMPOTENCY_TABLE: tables.idempotency.name,
                Env.MODE_UPDATE_WAIT_SECONDS: str(DEFAULT_MODE_UPDATE_WAIT_SECONDS),
            },
            remediate_timeout=remediate_timeout,
        )
        work_queue_url = self.pipeline.work_queue.queue_url
        self.pipeline.intake.function.add_environment(Env.WORK_QUEUE_URL, work_queue_url)
        self.pipeline.intake.function.add_environment(Env.STATE_TABLE, tables.state.name)  # canaries
        self.pipeline.remediate.function.add_environment(Env.WORK_QUEUE_URL, work_queue_url)

        # --- grants and their expiry -----------------------------------------------------------------------
        self.grants = GrantExpiry(
            self,
            "Grants",
            environment={
                **shared,
                Env.AUDIT_TABLE: tables.audit.name,  # a run that ends a grant's access audits it
                Env.MODE_UPDATE_WAIT_SECONDS: str(DEFAULT_MODE_UPDATE_WAIT_SECONDS),
            },
            layer=layer,
            log_retention=retention,
            timeout=remediate_timeout,
        )
        schedule_group = self.grants.group.schedule_group_name
        # The expiry hands a run's continuation on. (It makes no schedules: passing the scheduler role, which
        # may invoke it, would make a dependency cycle. Its schedule is set in the minute before the end,
        # so it fires early by at most two minutes, which it waits out.)
        self.grants.expiry.function.add_environment(Env.WORK_QUEUE_URL, work_queue_url)

        # --- the sweep -------------------------------------------------------------------------------------
        self.sweep = Sweep(
            self,
            "Sweep",
            interval=Duration.minutes(config.sweep_interval_minutes),
            full_interval=Duration.hours(config.full_sweep_interval_hours),
            environment={
                **shared,
                Env.IDEMPOTENCY_TABLE: tables.idempotency.name,
                Env.WORK_QUEUE_URL: work_queue_url,
                Env.SCHEDULE_GROUP: schedule_group,
                Env.AUDIT_TABLE: tables.audit.name,  # a run that ends a grant's access audits it
                Env.MODE_UPDATE_WAIT_SECONDS: str(DEFAULT_MODE_UPDATE_WAIT_SECONDS),
            },
            layer=layer,
            log_retention=retention,
            dead_letter_queue=self.rule_dead_letters.queue,
        )
        self.rule_dead_letters.allow_rules()

        # --- the break-glass API ---------------------------------------------------------------------------
        self.api = BreakGlassApi(
            self,
            "BreakGlass",
            environment={
                **shared,
                Env.AUDIT_TABLE: tables.audit.name,
                Env.SCHEDULE_GROUP: schedule_group,
                Env.SCHEDULER_ROLE_ARN: self.grants.scheduler_role.role_arn,
                Env.EXPIRY_FUNCTION_ARN: self.grants.expiry.function.function_arn,
                Env.WORK_QUEUE_URL: work_queue_url,  # a restore hands its continuation on (a mode update)
            },
            layer=layer,
            log_retention=retention,
            oncall_principals=config.oncall_principals,
            oncall_permission_sets=config.oncall_permission_sets,
            account=config.account,
            require_mfa=config.require_mfa,
            rate_limit=config.api_rate_limit,
            burst_limit=config.api_burst_limit,
        )

        intake, remediate = self.pipeline.intake, self.pipeline.remediate
        sweep, api, expiry = self.sweep.sweep, self.api.handler, self.grants.expiry
        self.functions: dict[str, GuardFunction] = {
            "Intake": intake,
            "Remediate": remediate,
            "Sweep": sweep,
            "Api": api,
            "Expiry": expiry,
        }
        # Each function knows every role of the service, so it recognises its own calls in CloudTrail.
        self_roles = Fn.join(",", [fn.role_arn for fn in self.functions.values()])
        for fn in self.functions.values():
            fn.function.add_environment(Env.SELF_ROLE_ARNS, self_roles)
            # Every function reads baselines, and applies only SecureStrings under this key.
            fn.function.add_environment(Env.BASELINE_KEY_ARN, key.key_arn)
        self.baseline_key.trust_baselines(
            writers=config.baseline_writers,
            guard_roles=[fn.role_arn for fn in self.functions.values()],
            prefix=config.prefix,
        )

        # --- permissions, function by function -----------------------------------------------------------
        baselines = read_baselines(prefix=config.prefix, region=region, account=config.account)
        iam_reads = read_iam_principals(account=config.account)
        for fn in self.functions.values():
            fn.permissions.add(self.settings.read())
            fn.function.node.add_dependency(*self.settings.parameters)  # read at its first cold start
        node_roles = pass_node_roles(config.node_role_arns)
        bk = self.baseline_key
        decrypt_baselines = bk.use("DecryptBaselines", service="ssm", actions=("kms:Decrypt",))
        use_queues = bk.use("UseQueueKey", service="sqs", actions=("kms:Decrypt", "kms:GenerateDataKey"))
        use_topic = bk.use("UseTopicKey", service="sns", actions=("kms:Decrypt", "kms:GenerateDataKey"))
        use_tables = bk.use(
            "UseTableKey", service="dynamodb", actions=("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
        )
        publish = self.notifications.grant_publish()

        intake.permissions.add(
            baselines,
            decrypt_baselines,
            eks.read(),
            self.pipeline.send_work(),
            use_queues,
            list_without_resources(ssm=True),
            tables.state.record_canaries("RecordCanaries"),
            use_tables,
            publish,  # the notice of a cluster no longer managed, on purpose (`baseline delete`)
            use_topic,
        )
        remediate.permissions.add(
            baselines,
            decrypt_baselines,
            eks.read_write(),
            node_roles,
            iam_reads,
            list_without_resources(eks=True, iam=True, ssm=True),
            publish,
            use_topic,
            tables.idempotency.grant("ReadWriteIdempotencyRecords", write=True),
            tables.state.grant("ReadWriteState", write=True),
            tables.grants.grant("ReadWriteGrants", write=True),  # a run settles the grants it ended
            tables.audit.append("AppendAudit"),
            use_tables,
            self.pipeline.send_work("SendFollowUpWork"),
            use_queues,
        )
        sweep.permissions.add(
            baselines,
            decrypt_baselines,
            eks.read_write(),
            node_roles,
            iam_reads,
            list_without_resources(eks=True, iam=True, ssm=True),
            publish,
            use_topic,
            tables.idempotency.grant("ReadWriteIdempotencyRecords", write=True),
            tables.state.grant("ReadWriteState", write=True),
            tables.grants.grant("ReadWriteGrants", write=True, scan=True),
            tables.audit.append("AppendAudit"),
            use_tables,
            self.pipeline.send_work("SendFollowUpWork"),
            use_queues,
            self.grants.manage_schedules("DeleteGrantSchedules", ("scheduler:DeleteSchedule",)),
        )
        api.permissions.add(
            baselines,
            decrypt_baselines,
            eks.read_write(policy_arns=config.grant_policies),
            iam_reads,
            list_without_resources(eks=True, iam=True, ssm=True),
            publish,
            use_topic,
            tables.grants.grant("ReadWriteGrants", write=True),
            tables.audit.append("ReadAppendAudit", read=True),
            tables.state.grant("ReadWriteState", write=True),
            use_tables,
            self.grants.manage_schedules(
                "CreateDeleteGrantSchedules", ("scheduler:CreateSchedule", "scheduler:DeleteSchedule")
            ),
            self.grants.pass_scheduler_role(),
            self.pipeline.send_work("SendContinuations"),
            use_queues,
        )
        expiry.permissions.add(
            self.pipeline.send_work("SendContinuations"),
            use_queues,
            baselines,
            decrypt_baselines,
            eks.read_write(),
            node_roles,
            iam_reads,
            list_without_resources(eks=True, iam=True, ssm=True),  # the baseline key check describes them
            publish,
            use_topic,
            tables.grants.grant("ReadWriteGrants", write=True),
            tables.state.grant("ReadWriteState", write=True),
            tables.audit.append("AppendAudit"),
            use_tables,
        )
        policies = {name: fn.finish() for name, fn in self.functions.items()}
        # Lambda checks the role can read the queue when the mapping is made: make it after the policy.
        self.pipeline.intake_source.node.add_dependency(*policies["Intake"])
        self.pipeline.work_source.node.add_dependency(*policies["Remediate"])

        # --- alarms and dashboard --------------------------------------------------------------------------
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            topic=topic,
            functions=self.functions,
            dead_letter_queues={
                **self.pipeline.dead_letter_queues,
                "RuleTargetDeadLetters": self.rule_dead_letters.queue,
            },
            queues={"Intake": self.pipeline.intake_queue, "Work": self.pipeline.work_queue},
            rules={**self.pipeline.rules, "sweep": self.sweep.rule, "sweep-full": self.sweep.full_rule},
        )

        CfnOutput(self, API_URL_OUTPUT, value=self.api.url, description="Break-glass API (sign with SigV4)")
        # The deployment record (core.deployment): the CLI's apply and replay find the locks, grants, audit
        # trail and topic with it, so an operator's writes take the same locks and keep the same grants.
        record = Deployment(
            region=region,
            state_table=tables.state.name,
            grants_table=tables.grants.name,
            audit_table=tables.audit.name,
            topic_arn=topic.topic_arn,
            work_queue_url=work_queue_url,
            stack=self.stack_name,  # the API's URL: the stack's ApiUrl output
        )
        deployment_record = ssm.StringParameter(
            self,
            "DeploymentRecord",
            parameter_name=deployment_parameter(config.prefix, region),
            string_value=self.to_json_string(record.to_json()),
            description="EKS Access Guard: where this region's guard keeps its state",
            tier=ssm.ParameterTier.STANDARD,
        )
        for fn in self.functions.values():  # under the deployment's path, as the settings are
            fn.function.node.add_dependency(deployment_record)
        CfnOutput(self, "BaselineKeyArn", value=key.key_arn, description="KMS key for SecureString baselines")
        CfnOutput(self, doctor.TOPIC_OUTPUT, value=topic.topic_arn, description="Notifications and alarms")
        # What `access-guard doctor` reads to find the deployment's parts.
        CfnOutput(self, doctor.STATE_TABLE_OUTPUT, value=tables.state.name, description="Locks and canaries")
        rules = [*self.pipeline.rules.values(), self.sweep.rule, self.sweep.full_rule]
        CfnOutput(self, doctor.RULES_OUTPUT, value=Fn.join(",", [r.rule_name for r in rules]))
        CfnOutput(
            self, doctor.SETTINGS_OUTPUT, value=self.settings.path, description="Cluster, on-call lists"
        )
        CfnOutput(self, doctor.LAYER_PARAMETER_OUTPUT, value=powertools.layer_parameter_name())
        check_stack(self)


class ForwarderStack(Stack):
    """IAM is global and its CloudTrail events reach only us-east-1's default bus: forward them to the
    default bus of every other service region (a cross-region EventBridge target)."""

    def __init__(self, scope: Construct, id: str, *, config: GuardConfig, targets_regions: list[str]) -> None:
        super().__init__(
            scope,
            id,
            env=Environment(account=config.account, region=IAM_EVENT_REGION),
            description="EKS Access Guard: forwards IAM principal events from us-east-1 to service regions",
        )
        self.key = BaselineKey(self, "Key", alias="alias/eks-access-guard-forwarder").key
        self.dead_letters = encrypted_queue(
            self, "DeadLetters", key=self.key, retention_period=Duration.days(14)
        )
        acknowledge(self.dead_letters, "SQS3", RULE_DLQ_REASON)
        self.notifications = Notifications(
            self, "Notifications", key=self.key, emails=config.notification_emails
        )
        self.rules: list[events.Rule] = []
        for start in range(0, len(targets_regions), MAX_TARGETS_PER_RULE):
            batch = targets_regions[start : start + MAX_TARGETS_PER_RULE]
            rule = events.Rule(
                self,
                "iam" if start == 0 else f"iam{start // MAX_TARGETS_PER_RULE + 1}",
                description="EKS Access Guard: IAM principal events to the service regions' default buses",
                event_pattern=event_pattern(iam_pattern()),
            )
            for region in batch:
                bus = events.EventBus.from_event_bus_arn(
                    self, f"Bus-{region}", arn("events", region, config.account, "event-bus/default")
                )
                rule.add_target(targets.EventBus(bus, dead_letter_queue=self.dead_letters))
            self.rules.append(rule)
        self.alarms = DeadLetterAlarms(
            self, "Alarms", queues={"ForwarderDeadLetters": self.dead_letters}, topic=self.notifications.topic
        )
        self.delivery_alarms = RuleDeliveryAlarms(
            self,
            "Deliveries",
            rules={rule.node.id: rule for rule in self.rules},
            topic=self.notifications.topic,
        )
        check_stack(self)
