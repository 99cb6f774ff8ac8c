"""The baseline store: one baseline per cluster in SSM Parameter Store.

Layout (under `prefix`, default `/eks-access-guard/`):

    {prefix}clusters/{region}/{cluster}                  the manifest, written LAST (the commit point):
                                                         {"version", "chunks", "sha256", "bytes"}
    {prefix}clusters/{region}/{cluster}/v/{version}/{i}  chunk i (0-based) of the baseline document

The document stored is the validated baseline written out canonically (`baseline.to_document`) as compact,
ASCII-only JSON, cut into chunks of at most 4,096 characters (one Standard-tier parameter; ASCII so that
characters are bytes), so a 1,000-entry baseline needs no Advanced-tier parameter. A put writes a fresh
version's chunks, then the manifest, then deletes the chunks of the version the manifest pointed to before.

A reader reads the manifest, then exactly the chunks it names, and checks their count, total size and
SHA-256, then validates the document again and checks it names the cluster and region asked for. Any
mismatch (a put in progress that overwrote nothing yet, a chunk deleted or edited by hand, a baseline copied
under another cluster's name) raises `BaselineUnreadable`: a half-written baseline is never returned, so it
is never applied. A read that races a put and loses the old version's chunks retries once from the manifest.

Parameters are SecureString encrypted with `kms_key_id` when one is configured, else String.

The trust boundary (`trusted_key_arn`, the deployment's baseline key): a reader configured with it checks,
with DescribeParameters, that the manifest and every chunk it read is a SecureString under that key, and
raises `BaselineRejected` (naming each parameter, its type or key, and its last writer) otherwise. Only the
deployment's baseline writers may encrypt with that key through SSM (its key policy), so a baseline that
passes was written by one of them. `read` also gives who last wrote the manifest and the document's digest.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..core import baseline as baseline_mod
from ..core.config import DEFAULT_PREFIX
from ..core.model import Baseline
from ..core.triggers import RETIRED, baselines_root
from ..core.trust import StoredParameter, Untrusted, untrusted
from .clients import error_code

CHUNK_CHARS = 4096
_BATCH = 10  # GetParameters and DeleteParameters take at most 10 names
_DESCRIBE_BATCH = 50  # a DescribeParameters filter takes at most 50 values


class BaselineNotFound(LookupError):
    """No baseline is stored for this cluster."""


class BaselineUnreadable(RuntimeError):
    """A baseline is stored but cannot be trusted (incomplete, corrupted or invalid): never apply it."""


class BaselineRejected(BaselineUnreadable):
    """A baseline with a parameter from outside the trust boundary (not a SecureString under the baseline
    key): never apply it. `.untrusted` names each such parameter, what it is, and who wrote it."""

    def __init__(self, cluster: str, region: str, found: builtins.list[Untrusted]) -> None:
        self.cluster, self.region, self.untrusted = cluster, region, found
        lines = "; ".join(u.line() for u in found)
        super().__init__(
            f"the baseline of {cluster} ({region}) is not a SecureString under the baseline key, so it did "
            f"not come from a baseline writer: {lines}"
        )


@dataclass(frozen=True)
class StoredBaseline:
    """A baseline as read: the document, its digest, and who last wrote its manifest (when SSM says)."""

    baseline: Baseline
    text: str
    sha256: str
    writer: str | None
    manifest_version: int | None


def _writer(value: object) -> str | None:
    """SSM's LastModifiedUser, when it names someone."""
    return value if isinstance(value, str) and value.startswith("arn:") else None


def _chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _batches(items: list[str], size: int = _BATCH) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class BaselineStore:
    def __init__(
        self,
        ssm_client: Any,
        *,
        prefix: str = DEFAULT_PREFIX,
        kms_key_id: str | None = None,
        trusted_key_arn: str | None = None,
    ) -> None:
        if not prefix.startswith("/"):
            raise ValueError(f"the SSM prefix must start with '/': {prefix!r}")
        self._ssm = ssm_client
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.kms_key_id = kms_key_id
        self.trusted_key_arn = trusted_key_arn

    # --- names -------------------------------------------------------------------------------------------
    def manifest_name(self, cluster: str, region: str) -> str:
        return f"{baselines_root(self.prefix)}{region}/{cluster}"

    def retirement_name(self, cluster: str, region: str) -> str:
        """The marker `baseline delete` writes before it deletes: the deletion is on purpose (no alarm)."""
        return f"{self.manifest_name(cluster, region)}/{RETIRED}"

    def _chunk_name(self, cluster: str, region: str, version: str, index: int) -> str:
        return f"{self.manifest_name(cluster, region)}/v/{version}/{index}"

    # --- writing -----------------------------------------------------------------------------------------
    def put(self, text: str) -> Baseline:
        """Validate `text` (YAML or JSON; raises BaselineError, storing nothing) and store it."""
        baseline = baseline_mod.load(text)
        document = json.dumps(baseline_mod.to_document(baseline), separators=(",", ":"), sort_keys=True)
        self._write(baseline.cluster, baseline.region, document)
        # Managed again: the marker of an earlier `baseline delete` goes.
        self._delete_names_if_there([self.retirement_name(baseline.cluster, baseline.region)])
        return baseline

    def _write(self, cluster: str, region: str, document: str) -> None:
        previous = self._read_manifest(cluster, region, missing_ok=True)
        version = f"{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:8]}"
        chunks = _chunks(document)
        for index, chunk in enumerate(chunks):
            self._put_parameter(self._chunk_name(cluster, region, version, index), chunk)
        manifest = {
            "version": version,
            "chunks": len(chunks),
            "sha256": hashlib.sha256(document.encode()).hexdigest(),
            "bytes": len(document.encode()),
        }
        self._put_parameter(self.manifest_name(cluster, region), json.dumps(manifest, separators=(",", ":")))
        if previous is not None and previous.get("version") != version:
            self._delete_version(cluster, region, previous)

    def _put_parameter(self, name: str, value: str) -> None:
        kwargs: dict[str, Any] = {"Name": name, "Value": value, "Overwrite": True, "Tier": "Standard"}
        if self.kms_key_id:
            kwargs.update(Type="SecureString", KeyId=self.kms_key_id)
        else:
            kwargs["Type"] = "String"
        self._ssm.put_parameter(**kwargs)

    def _delete_version(self, cluster: str, region: str, manifest: dict[str, Any]) -> None:
        try:
            count = int(manifest.get("chunks", 0))
            version = str(manifest["version"])
        except (KeyError, TypeError, ValueError):
            return
        names = [self._chunk_name(cluster, region, version, i) for i in range(count)]
        self._delete_names(names)

    def _delete_names(self, names: builtins.list[str]) -> None:
        for batch in _batches(names):
            self._ssm.delete_parameters(Names=batch)

    # --- reading -----------------------------------------------------------------------------------------
    def get(self, cluster: str, region: str) -> Baseline:
        """The stored baseline, validated again. BaselineNotFound / BaselineUnreadable otherwise."""
        return self.read(cluster, region).baseline

    def read(self, cluster: str, region: str) -> StoredBaseline:
        """The stored baseline with its digest and writer; checked against the trusted key when one is set
        (BaselineRejected). BaselineNotFound / BaselineUnreadable otherwise."""
        try:
            text, described = self._read_document(cluster, region)
        except BaselineRejected:
            raise
        except BaselineUnreadable:
            text, described = self._read_document(cluster, region)  # a put raced us: once more
        baseline = self._validated(cluster, region, text)
        manifest = described.get(self.manifest_name(cluster, region))
        return StoredBaseline(
            baseline=baseline,
            text=text,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            writer=manifest.writer if manifest else None,
            manifest_version=manifest.version if manifest else None,
        )

    def _validated(self, cluster: str, region: str, text: str) -> Baseline:
        try:
            baseline = baseline_mod.load(text)
        except baseline_mod.BaselineError as exc:
            raise BaselineUnreadable(
                f"the stored baseline for {cluster} ({region}) is not valid: {exc}"
            ) from exc
        if (baseline.cluster, baseline.region) != (cluster, region):
            raise BaselineUnreadable(
                f"the baseline stored for {cluster} ({region}) names {baseline.cluster} ({baseline.region})"
            )
        return baseline

    def get_text(self, cluster: str, region: str) -> str:
        """The stored document (compact JSON), checked complete against its manifest."""
        try:
            return self._read_document(cluster, region)[0]
        except BaselineRejected:
            raise
        except BaselineUnreadable:
            # A put may have replaced the version between our manifest and chunk reads: try once more.
            return self._read_document(cluster, region)[0]

    def _read_document(self, cluster: str, region: str) -> tuple[str, dict[str, StoredParameter]]:
        manifest = self._read_manifest(cluster, region, missing_ok=False)
        assert manifest is not None
        where = f"{cluster} ({region})"
        try:
            version = str(manifest["version"])
            count = int(manifest["chunks"])
            digest = str(manifest["sha256"])
            size = int(manifest["bytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineUnreadable(f"the baseline manifest for {where} is malformed: {manifest!r}") from exc
        if count < 1 or "/" in version:
            raise BaselineUnreadable(f"the baseline manifest for {where} is malformed: {manifest!r}")
        names = [self._chunk_name(cluster, region, version, i) for i in range(count)]
        values: dict[str, str] = {}
        for batch in _batches(names):
            response = self._ssm.get_parameters(Names=batch, WithDecryption=True)
            for parameter in response.get("Parameters", []):
                values[parameter["Name"]] = parameter["Value"]
        missing = [n for n in names if n not in values]
        if missing:
            raise BaselineUnreadable(
                f"the baseline for {where} is incomplete: "
                f"{len(missing)} of {count} chunks missing ({missing[0]})"
            )
        document = "".join(values[n] for n in names)
        encoded = document.encode()
        if len(encoded) != size or hashlib.sha256(encoded).hexdigest() != digest:
            raise BaselineUnreadable(
                f"the baseline for {where} does not match its manifest (size or SHA-256)"
            )
        described: dict[str, StoredParameter] = {}
        if self.trusted_key_arn is not None:
            described = self._check_trusted(cluster, region, [self.manifest_name(cluster, region), *names])
        return document, described

    def describe(self, names: builtins.list[str]) -> dict[str, StoredParameter]:
        """What SSM says of each named parameter (type, key, last writer, version); absent ones left out."""
        found: dict[str, StoredParameter] = {}
        for start in range(0, len(names), _DESCRIBE_BATCH):
            batch = names[start : start + _DESCRIBE_BATCH]
            filters = [{"Key": "Name", "Option": "Equals", "Values": batch}]
            paginator = self._ssm.get_paginator("describe_parameters")
            for page in paginator.paginate(ParameterFilters=filters, PaginationConfig={"PageSize": 50}):
                for p in page.get("Parameters", []):
                    found[p["Name"]] = StoredParameter(
                        name=p["Name"],
                        type=str(p.get("Type", "")),
                        key_id=p.get("KeyId"),
                        writer=_writer(p.get("LastModifiedUser")),
                        version=p.get("Version"),
                    )
        return found

    def _check_trusted(
        self, cluster: str, region: str, names: builtins.list[str]
    ) -> dict[str, StoredParameter]:
        assert self.trusted_key_arn is not None
        described = self.describe(names)
        missing = [n for n in names if n not in described]
        if missing:  # replaced or deleted since we read it: the reader tries again
            raise BaselineUnreadable(
                f"the baseline of {cluster} ({region}) changed while read ({missing[0]})"
            )
        found = untrusted((described[n] for n in names), self.trusted_key_arn)
        if found:
            raise BaselineRejected(cluster, region, found)
        return described

    def _read_manifest(self, cluster: str, region: str, *, missing_ok: bool) -> dict[str, Any] | None:
        name = self.manifest_name(cluster, region)
        try:
            value = self._ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                if missing_ok:
                    return None
                raise BaselineNotFound(
                    f"no baseline stored for cluster {cluster} in {region} ({name})"
                ) from exc
            raise
        try:
            manifest = json.loads(value)
        except ValueError as exc:
            if missing_ok:
                return None
            raise BaselineUnreadable(f"the baseline manifest {name} is not JSON") from exc
        if not isinstance(manifest, dict):
            if missing_ok:
                return None
            raise BaselineUnreadable(f"the baseline manifest {name} is not a JSON object")
        return manifest

    # --- listing and deleting ----------------------------------------------------------------------------
    def _names_under(self, path: str) -> Iterator[str]:
        paginator = self._ssm.get_paginator("describe_parameters")
        filters = [{"Key": "Path", "Option": "Recursive", "Values": [path]}]
        for page in paginator.paginate(ParameterFilters=filters, PaginationConfig={"PageSize": 50}):
            for parameter in page.get("Parameters", []):
                yield parameter["Name"]

    def exists(self, cluster: str, region: str) -> bool:
        """Whether a baseline is stored for the cluster (its manifest exists): one GetParameter, nothing
        read or checked beyond that (`get` does that)."""
        try:
            self._ssm.get_parameter(Name=self.manifest_name(cluster, region))
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return False
            raise
        return True

    def list(self) -> builtins.list[tuple[str, str]]:
        """(cluster, region) of every stored baseline, sorted."""
        root = baselines_root(self.prefix)
        found = set()
        for name in self._names_under(root.rstrip("/")):
            parts = name[len(root) :].split("/")
            if len(parts) == 2 and all(parts):  # a manifest, not a chunk
                region, cluster = parts
                found.add((cluster, region))
        return sorted(found)

    def retire(self, cluster: str, region: str, *, by: str, at: str) -> None:
        """Say that the cluster's baseline is about to be deleted on purpose, by whom (before `delete`)."""
        value = json.dumps({"by": by, "at": at}, separators=(",", ":"))
        self._put_parameter(self.retirement_name(cluster, region), value)

    def retired_by(self, cluster: str, region: str) -> str | None:
        """Who retired the cluster (its baseline deleted on purpose), or None when nobody did."""
        try:
            found = self._ssm.get_parameter(Name=self.retirement_name(cluster, region), WithDecryption=True)
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise
        try:
            return str(json.loads(found["Parameter"]["Value"])["by"])
        except (ValueError, KeyError, TypeError):
            return "someone (the marker cannot be read)"

    def _delete_names_if_there(self, names: builtins.list[str]) -> None:
        self._ssm.delete_parameters(Names=names)  # names that do not exist are reported, not raised

    def delete(self, cluster: str, region: str) -> None:
        """Remove the baseline: the manifest first (so no reader sees a partial one), then every chunk."""
        name = self.manifest_name(cluster, region)
        try:
            self._ssm.delete_parameter(Name=name)
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            raise BaselineNotFound(f"no baseline stored for cluster {cluster} in {region} ({name})") from exc
        self._delete_names(list(self._names_under(f"{name}/v")))
