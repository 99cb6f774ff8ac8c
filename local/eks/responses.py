"""The HTTP shell: parses EKS REST-JSON requests, calls the backend, writes EKS's JSON and errors.

Bodies and query strings are checked against botocore's shapes here, so a malformed request gets the
400 real EKS gives instead of a crash. Path parameters arrive URL-encoded and are decoded here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto.core.responses import ActionResult
from moto.eks import exceptions as moto_errors
from moto.eks.responses import EKSResponse

from local.identity import resolve_caller

from . import rules
from .models import EmulatedEKSBackend
from .oracle import Creator
from .rules import RuleViolation


class ResourceLimitExceededException(moto_errors.EKSError):
    TYPE = "ResourceLimitExceededException"
    STATUS = 400


_ERRORS: dict[str, type[moto_errors.EKSError]] = {
    rules.INVALID_PARAMETER: moto_errors.InvalidParameterException,
    rules.INVALID_REQUEST: moto_errors.InvalidRequestException,
    rules.NOT_FOUND: moto_errors.ResourceNotFoundException,
    rules.IN_USE: moto_errors.ResourceInUseException,
    "ResourceLimitExceededException": ResourceLimitExceededException,
}


def eks_error(violation: RuleViolation, **context: Any) -> moto_errors.EKSError:
    return _ERRORS[violation.code](message=violation.message, **context)


_MISSING = object()


class EmulatedEKSResponse(EKSResponse):
    @property
    def eks_backend(self) -> EmulatedEKSBackend:
        from . import eks_backends

        return eks_backends[self.current_account][self.region]  # type: ignore[no-any-return]

    def get_region_from_url(self, request: Any, full_url: str) -> str:
        """The region from the host only: moto reads `.<region>.amazonaws.com` anywhere in the URL, and an IAM
        Identity Center role's ARN in the path (`role/aws-reserved/sso.amazonaws.com/...`) fooled it."""
        host = urlparse(full_url).netloc
        return str(super().get_region_from_url(request, f"https://{host}/"))

    # --- request parsing ---------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        raw = self.body
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not raw or not str(raw).strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise RuleViolation(rules.INVALID_REQUEST, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise RuleViolation(rules.INVALID_REQUEST, "The request body must be a JSON object.")
        return body

    def _path(self, name: str) -> str:
        groups = self.uri_match.groupdict() if self.uri_match else {}
        value = groups.get(name)
        if not value:
            raise rules.invalid(f"{name} is required.")
        return unquote(value)

    def _query(self, name: str) -> str | None:
        values = parse_qs(self.parsed_url.query, keep_blank_values=True).get(name)
        return values[-1] if values else None

    @staticmethod
    def _string(body: dict[str, Any], name: str, required: bool = False) -> str | None:
        value = body.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise rules.invalid(f"{name} is required.")
            return None
        if not isinstance(value, str):
            raise rules.invalid(f"{name} must be a string.")
        return value

    @staticmethod
    def _strings(body: dict[str, Any], name: str) -> list[str] | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise rules.invalid(f"{name} must be a list of strings.")
        return value

    @staticmethod
    def _tags(body: dict[str, Any]) -> dict[str, str] | None:
        value = body.get("tags")
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise rules.invalid("tags must be a map of strings to strings.")
        return value

    def _run(self, action: Any) -> tuple[str, dict[str, Any]]:
        """Run an action; a rule violation becomes the EKS error with its status."""
        try:
            return json.dumps(action()), {"status": 200, "Content-Type": "application/json"}
        except RuleViolation as violation:
            raise eks_error(violation) from None

    # --- clusters ----------------------------------------------------------------------------------
    def create_cluster(self) -> ActionResult:
        def act() -> dict[str, Any]:
            body = self._body()
            name = self._string(body, "name", required=True)
            role_arn = self._string(body, "roleArn", required=True)
            vpc = body.get("resourcesVpcConfig")
            if not isinstance(vpc, dict):
                raise rules.invalid("resourcesVpcConfig is required.")
            caller = resolve_caller(self.get_access_key())
            creator = Creator(
                rules.parse_principal_arn(caller.principal_arn),
                caller.session_issuer_id or caller.principal_id,
            )
            cluster = self.eks_backend.create_cluster(
                name=name or "",
                role_arn=role_arn or "",
                resources_vpc_config=vpc,
                version=self._string(body, "version"),
                kubernetes_network_config=body.get("kubernetesNetworkConfig"),
                logging=body.get("logging"),
                client_request_token=self._string(body, "clientRequestToken"),
                tags=self._tags(body),
                encryption_config=body.get("encryptionConfig"),
                remote_network_config=body.get("remoteNetworkConfig"),
                access_config=body.get("accessConfig"),
                creator=creator,
            )
            return {"cluster": cluster}

        try:
            return ActionResult(act())
        except RuleViolation as violation:
            raise eks_error(violation) from None

    # The UpdateClusterConfig fields the emulator runs as asynchronous updates; any other field (e.g.
    # kubernetesNetworkConfig) still goes to moto, which applies it at once.
    _UPDATE_FIELDS = ("accessConfig", "logging", "resourcesVpcConfig")

    def update_cluster_config(self) -> Any:
        body = self._body_or_error()
        name = self._path("name")
        asked = [f for f in self._UPDATE_FIELDS if f in body]
        if not asked:
            self._run(lambda: self.eks_backend.check_no_update_running(name))
            return super().update_cluster_config()
        if len(asked) > 1 or set(body) - {asked[0], "clientRequestToken", "name"}:
            raise eks_error(rules.invalid(rules.MSG_ONE_UPDATE_TYPE))
        start = {
            "accessConfig": self.eks_backend.update_access_config,
            "logging": self.eks_backend.update_logging,
            "resourcesVpcConfig": self.eks_backend.update_vpc_config,
        }[asked[0]]
        return self._run(lambda: {"update": start(name, body[asked[0]]).to_json(self._now())})

    def update_cluster_version(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            body = self._body()
            name = self._path("name")
            version = self._string(body, "version", required=True)
            return {"update": self.eks_backend.update_cluster_version(name, version).to_json(self._now())}

        return self._run(act)

    def describe_update(self) -> tuple[str, dict[str, Any]]:
        name, update_id = self._path("name"), self._path("updateId")
        return self._run(
            lambda: {"update": self.eks_backend.describe_update(name, update_id).to_json(self._now())}
        )

    def list_updates(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            name = self._path("name")
            if self._query("nodegroupName") or self._query("addonName") or self._query("capabilityName"):
                return {"updateIds": []}  # node groups and add-ons are moto's, which keeps no updates
            ids, token = self.eks_backend.list_updates(
                name, self._query("maxResults"), self._query("nextToken")
            )
            return {"updateIds": ids, **({"nextToken": token} if token else {})}

        return self._run(act)

    # --- access entries ----------------------------------------------------------------------------
    def create_access_entry(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            body = self._body()
            name = self._path("name")
            entry = self.eks_backend.create_access_entry(
                cluster_name=name,
                principal_arn=self._string(body, "principalArn", required=True),
                kubernetes_groups=self._strings(body, "kubernetesGroups"),
                tags=self._tags(body),
                username=self._string(body, "username"),
                entry_type=self._string(body, "type"),
            )
            return {"accessEntry": entry.to_json(name)}

        return self._run(act)

    def describe_access_entry(self) -> tuple[str, dict[str, Any]]:
        name, principal = self._path("name"), self._path("principalArn")
        return self._run(
            lambda: {"accessEntry": self.eks_backend.describe_access_entry(name, principal).to_json(name)}
        )

    def update_access_entry(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            body = self._body()
            name = self._path("name")
            entry = self.eks_backend.update_access_entry(
                name,
                self._path("principalArn"),
                kubernetes_groups=self._strings(body, "kubernetesGroups"),
                username=self._string(body, "username"),
            )
            return {"accessEntry": entry.to_json(name)}

        return self._run(act)

    def delete_access_entry(self) -> tuple[str, dict[str, Any]]:
        name, principal = self._path("name"), self._path("principalArn")
        return self._run(lambda: self.eks_backend.delete_access_entry(name, principal) or {})

    def list_access_entries(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            arns, token = self.eks_backend.list_access_entries(
                self._path("name"),
                self._query("associatedPolicyArn"),
                self._query("maxResults"),
                self._query("nextToken"),
            )
            return {"accessEntries": arns, **({"nextToken": token} if token else {})}

        return self._run(act)

    # --- access policies ---------------------------------------------------------------------------
    def associate_access_policy(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            body = self._body()
            name, principal = self._path("name"), self._path("principalArn")
            policy_arn = self._string(body, "policyArn", required=True)
            if "accessScope" not in body:
                raise rules.invalid("accessScope is required.")
            entry = self.eks_backend.associate_access_policy(name, principal, policy_arn, body["accessScope"])
            return {
                "clusterName": name,
                "principalArn": entry.principal.arn,
                "associatedAccessPolicy": entry.policies[str(policy_arn)].to_json(),
            }

        return self._run(act)

    def disassociate_access_policy(self) -> tuple[str, dict[str, Any]]:
        name, principal, policy = self._path("name"), self._path("principalArn"), self._path("policyArn")
        return self._run(lambda: self.eks_backend.disassociate_access_policy(name, principal, policy) or {})

    def list_associated_access_policies(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            name, principal = self._path("name"), self._path("principalArn")
            policies, token = self.eks_backend.list_associated_access_policies(
                name, principal, self._query("maxResults"), self._query("nextToken")
            )
            return {
                "clusterName": name,
                "principalArn": principal,
                "associatedAccessPolicies": [p.to_json() for p in policies],
                **({"nextToken": token} if token else {}),
            }

        return self._run(act)

    def list_access_policies(self) -> tuple[str, dict[str, Any]]:
        def act() -> dict[str, Any]:
            by_name = self.eks_backend.access_policies()
            names, token = rules.paginate(by_name, self._query("maxResults"), self._query("nextToken"))
            return {
                "accessPolicies": [{"name": n, "arn": by_name[n]} for n in names],
                **({"nextToken": token} if token else {}),
            }

        return self._run(act)

    # --- helpers -----------------------------------------------------------------------------------
    def _body_or_error(self) -> dict[str, Any]:
        try:
            return self._body()
        except RuleViolation as violation:
            raise eks_error(violation) from None

    def _now(self) -> float:
        return self.eks_backend.clock()
