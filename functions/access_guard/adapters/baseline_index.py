"""The baselines of a region as the intake needs them for an IAM event: which clusters have one, and what each
names, without reading every baseline for every event.

Parameter Store allows 40 reads a second by default (GetParameter, GetParameters and GetParametersByPath
together, core.limits.SSM_GET_TPS), and the intake used to read every managed cluster's baseline (manifest and
chunks) for each IAM event. The index lists the region's manifests with GetParametersByPath (non-recursive:
the manifests, not their chunks; ten a page), through Powertools Parameters with a `max_age` cache, and keeps
each baseline it has read under its manifest's version: a baseline is read again only when its version
changes. So an IAM event costs one listing per ten clusters at most once per `max_age`, plus the baselines
that changed since.

Safe to cache: a baseline written during the `max_age` window sends its own change event, whose work
reconciles the whole cluster against the new baseline; an index a few seconds old only decides which
clusters an IAM event concerns. Throttled reads are retried by botocore with backoff (adapters.clients).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider

from ..core.model import Baseline
from ..core.triggers import baselines_root
from .baseline_store import BaselineNotFound, BaselineStore

LISTING_MAX_AGE_SECONDS = 10  # how long a listing of the manifests is reused


class BaselineIndex:
    def __init__(
        self, store: BaselineStore, ssm: Any, *, max_age_seconds: int = LISTING_MAX_AGE_SECONDS
    ) -> None:
        self.store = store
        self.max_age_seconds = max_age_seconds
        self._provider = SSMProvider(boto3_client=ssm)
        self._baselines: dict[
            tuple[str, str], tuple[str, Baseline]
        ] = {}  # (cluster, region) -> (version, it)
        self._lock = threading.Lock()

    def versions(self, region: str) -> dict[str, str]:
        """cluster -> the version its manifest names, for every baseline stored in `region`."""
        path = f"{baselines_root(self.store.prefix)}{region}"
        listing = self._provider.get_multiple(
            path, max_age=self.max_age_seconds, decrypt=True, recursive=False
        )
        found: dict[str, str] = {}
        for name, value in listing.items():
            cluster = name.strip("/")
            try:
                manifest = json.loads(value) if isinstance(value, str | bytes) else value
                found[cluster] = str(manifest["version"]) if isinstance(manifest, dict) else ""
            except (ValueError, KeyError, TypeError):
                found[cluster] = ""  # malformed: read it whole (the store says why it cannot be trusted)
        return found

    def baseline(self, cluster: str, region: str) -> Baseline:
        """The cluster's baseline, read again only when its manifest's version changed. BaselineNotFound when
        the listing has none; BaselineUnreadable as the store raises it (never cached)."""
        version = self.versions(region).get(cluster)
        if version is None:
            raise BaselineNotFound(f"no baseline stored for cluster {cluster} in {region}")
        with self._lock:
            cached = self._baselines.get((cluster, region))
        if cached is not None and version and cached[0] == version:
            return cached[1]
        baseline = self.store.get(cluster, region)
        if version:
            with self._lock:
                self._baselines[(cluster, region)] = (version, baseline)
        return baseline

    def clear(self) -> None:
        self._provider.clear_cache()
        with self._lock:
            self._baselines.clear()
