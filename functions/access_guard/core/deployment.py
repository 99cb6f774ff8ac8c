"""The deployment: its settings, and the record of where it keeps its state.

Settings, one definition each: the CDK (infra/) deploys them and the local AWS (local/runner.py) runs its
functions and queues with them, so the local world waits as long as AWS does.

The record: the stack (and `python -m local serve`) writes one small JSON parameter per region under the
baseline prefix (`PREFIX/deployment/REGION`, beside `PREFIX/clusters/`, so it is neither a baseline nor a
baseline event): the state, grants and audit tables, the topic, the work queue and the API URL. The CLI reads
it, so that an operator's `apply` and `replay` take the same cluster locks and see the same grants as the
service, with no flags; flags and environment variables override it. With no record, the CLI works alone
and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .config import DEFAULT_MODE_UPDATE_WAIT_SECONDS, Env
from .limits import API_GATEWAY_TIMEOUT_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS
from .triggers import baselines_root

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


# --- the record ---------------------------------------------------------------------------------------

RECORD_VERSION = 1


def deployment_parameter(prefix: str, region: str) -> str:
    """The record's SSM parameter name: beside the baselines, never under them."""
    root = baselines_root(prefix)  # PREFIX/clusters/
    return f"{root[: -len('clusters/')]}deployment/{region}"


class DeploymentRecordError(ValueError):
    """The record is not one this version can read: say so, never guess."""


@dataclass(frozen=True)
class Deployment:
    region: str
    state_table: str | None = None
    grants_table: str | None = None
    audit_table: str | None = None
    topic_arn: str | None = None
    work_queue_url: str | None = None
    api_url: str | None = None
    stack: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"version": RECORD_VERSION}
        doc.update({_camel(f.name): getattr(self, f.name) for f in fields(self)})
        return {k: v for k, v in doc.items() if v is not None}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @staticmethod
    def loads(text: str) -> Deployment:
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise DeploymentRecordError(f"the deployment record is not JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("version") != RECORD_VERSION:
            raise DeploymentRecordError(f"the deployment record is not version {RECORD_VERSION}")
        values: dict[str, Any] = {}
        for f in fields(Deployment):
            value = doc.get(_camel(f.name))
            if value is not None and not isinstance(value, str):
                raise DeploymentRecordError(f"the deployment record's {_camel(f.name)} is not a string")
            values[f.name] = value
        if not values.get("region"):
            raise DeploymentRecordError("the deployment record names no region")
        return Deployment(**values)

    def environment(self) -> dict[str, str]:
        """The record as the service's settings (what `Config.from_env` reads)."""
        pairs = {
            Env.STATE_TABLE: self.state_table,
            Env.GRANTS_TABLE: self.grants_table,
            Env.AUDIT_TABLE: self.audit_table,
            Env.TOPIC_ARN: self.topic_arn,
            Env.WORK_QUEUE_URL: self.work_queue_url,
        }
        return {k: v for k, v in pairs.items() if v}


def with_overrides(record: Deployment | None, env: Mapping[str, str]) -> dict[str, str]:
    """The settings a CLI run uses: the record's, with the environment's own settings winning."""
    merged = dict(record.environment()) if record is not None else {}
    merged.update({k: v for k, v in env.items() if k.startswith("ACCESS_GUARD_") and v})
    return merged


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
