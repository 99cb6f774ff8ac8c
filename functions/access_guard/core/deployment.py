"""The deployment record: where one region's guard keeps its state, so every writer finds it.

The stack (and `python -m local serve`) writes one small JSON parameter per region under the baseline prefix
(`PREFIX/deployment/REGION`, beside `PREFIX/clusters/`, so it is neither a baseline nor a baseline event):
the state, grants and audit tables, the topic, the work queue and the API URL. The CLI reads it, so that an
operator's `apply` and `replay` take the same cluster locks and see the same grants as the service, with no
flags; flags and environment variables override it. With no record, the CLI works alone and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .config import Env
from .triggers import baselines_root

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
