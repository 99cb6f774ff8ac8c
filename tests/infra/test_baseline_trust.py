"""The baselines' trust boundary in the key policy: through SSM, only the named baseline writers encrypt with
the baseline key (and only baseline parameters); only they and the guard's roles decrypt a baseline; the
account keeps administering the key. Judged by evaluating the synthesized key policy, request by request,
with IAM's rules (an explicit Deny wins; the account principal means "as the caller's IAM policy says")."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from access_guard.core.config import Env
from access_guard.core.trust import SSM_ENCRYPTION_CONTEXT_KEY, parameter_arn
from infra_synth import NAMED, Synth
from infra_templates import as_list

from infra.components.baseline_store import SID_WRITERS_ENCRYPT
from infra.config import DeployConfigError, parse
from infra.stacks import SERVICE_STACK

REGION = "eu-west-1"
STACK = SERVICE_STACK.format(region=REGION)


def _resolve(value: Any, account: str) -> Any:
    """Template values as strings: a role's GetAtt Arn becomes a role ARN named by its logical id."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"arn:aws:iam::{account}:role/{value['Fn::GetAtt'][0]}"
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(str(_resolve(p, account)) for p in parts)
    if isinstance(value, dict) and value.get("Ref") == "AWS::Partition":
        return "aws"
    if isinstance(value, list):
        return [_resolve(v, account) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, account) for k, v in value.items()}
    return value


def _condition_holds(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        for key, wanted in tests.items():
            values = [str(v) for v in as_list(wanted)]
            have = context.get(key)
            if operator in ("StringEquals", "ArnEquals"):
                ok = have is not None and have in values
            elif operator in ("StringLike", "ArnLike"):
                ok = have is not None and any(fnmatch.fnmatchcase(have, v) for v in values)
            elif operator in ("StringNotEquals", "ArnNotEquals"):
                ok = have is None or have not in values
            elif operator == "Bool":
                ok = have is not None and have in values
            else:
                raise AssertionError(f"the evaluator does not know {operator}")
            if not ok:
                return False
    return True


class KeyPolicy:
    def __init__(self, synth: Synth, stack: str = STACK) -> None:
        self.account = synth.config["account"]
        keys = synth.resources("AWS::KMS::Key", stack)
        assert len(keys) == 1, keys
        document = next(iter(keys.values()))["Properties"]["KeyPolicy"]
        self.statements = [_resolve(s, self.account) for s in as_list(document["Statement"])]
        self.root = f"arn:aws:iam::{self.account}:root"
        self.guard_roles = sorted(
            f"arn:aws:iam::{self.account}:role/{r['Properties']['Role']['Fn::GetAtt'][0]}"
            for r in synth.templates[stack]["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"
            and str(r["Properties"].get("Handler", "")).startswith("access_guard.")
        )

    def allows(
        self, principal: str, action: str, context: dict[str, str], *, iam_allows: bool = False
    ) -> bool:
        """Whether KMS lets `principal` do `action` with `context`; `iam_allows`: its IAM policy grants it."""
        context = {**context, "aws:PrincipalArn": principal}
        allowed = False
        for statement in self.statements:
            if not any(fnmatch.fnmatchcase(action, a) for a in as_list(statement["Action"])):
                continue
            if not _condition_holds(statement.get("Condition", {}), context):
                continue
            named = statement["Principal"]
            if named == "*" or named == {"AWS": "*"}:
                matches = True
            else:
                arns = as_list(named.get("AWS", []))
                matches = principal in arns or (self.root in arns and iam_allows)
            if not matches:
                continue
            if statement["Effect"] == "Deny":
                return False
            allowed = True
        return allowed


def _ssm(name: str, account: str) -> dict[str, str]:
    return {
        "kms:ViaService": f"ssm.{REGION}.amazonaws.com",
        f"kms:EncryptionContext:{SSM_ENCRYPTION_CONTEXT_KEY}": parameter_arn(REGION, account, name),
    }


MANIFEST = "/eks-access-guard/clusters/eu-west-1/prod-a"
CHUNK = MANIFEST + "/v/0000000000001-abcdef01/0"


def test_the_named_writers_and_only_they_encrypt_baselines_through_ssm(named: Synth) -> None:
    policy = KeyPolicy(named)
    writers = named.config["baselineWriters"]
    for writer in writers:
        for name in (MANIFEST, CHUNK):
            # the key policy alone lets a writer in: no IAM policy needed
            assert policy.allows(writer, "kms:Encrypt", _ssm(name, policy.account)), (writer, name)
            assert policy.allows(writer, "kms:GenerateDataKey", _ssm(name, policy.account))
    others = [
        f"arn:aws:iam::{policy.account}:role/app-config-deployer",  # may put SSM parameters, as apps do
        *named.config["oncallPrincipals"],
        *policy.guard_roles,  # the guard itself never writes a baseline
        policy.root,
    ]
    for other in others:
        for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"):
            # even where an IAM policy grants kms:* on the key
            assert not policy.allows(other, action, _ssm(MANIFEST, policy.account), iam_allows=True), (
                other,
                action,
            )
            assert not policy.allows(other, action, _ssm("/app/settings", policy.account), iam_allows=True), (
                other,
                action,
            )


def test_a_writer_encrypts_through_ssm_only_under_the_baseline_prefix(named: Synth) -> None:
    policy = KeyPolicy(named)
    writer = named.config["baselineWriters"][0]
    assert not policy.allows(writer, "kms:Encrypt", _ssm("/app/settings", policy.account))
    assert not policy.allows(writer, "kms:Encrypt", {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"})
    # and not directly with KMS (the key policy names the writers through SSM only)
    assert not policy.allows(writer, "kms:Encrypt", {})


def test_only_the_guards_roles_and_the_writers_decrypt_a_baseline(named: Synth) -> None:
    policy = KeyPolicy(named)
    assert policy.guard_roles, "the guard's roles were not found in the template"
    for role in policy.guard_roles:
        assert policy.allows(role, "kms:Decrypt", _ssm(CHUNK, policy.account), iam_allows=True), role
    for writer in named.config["baselineWriters"]:
        assert policy.allows(writer, "kms:Decrypt", _ssm(MANIFEST, policy.account))
    outsider = f"arn:aws:iam::{policy.account}:role/app-config-deployer"
    assert not policy.allows(outsider, "kms:Decrypt", _ssm(MANIFEST, policy.account), iam_allows=True)


def test_the_account_keeps_administering_the_key_and_the_other_services_keep_using_it(named: Synth) -> None:
    policy = KeyPolicy(named)
    for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DescribeKey"):
        assert policy.allows(policy.root, action, {}, iam_allows=True), action
    queue_use = {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}
    for role in policy.guard_roles:
        assert policy.allows(role, "kms:GenerateDataKey", queue_use, iam_allows=True), role


def test_every_function_checks_baselines_against_this_stacks_key(synth: Synth) -> None:
    for name, template in synth.templates.items():
        if not name.startswith("EksAccessGuard-") or "Forwarder" in name:
            continue
        keys = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
        for lid, resource in template["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function" or "Handler" not in resource["Properties"]:
                continue
            env = resource["Properties"].get("Environment", {}).get("Variables", {})
            if not resource["Properties"]["Handler"].startswith("access_guard."):
                continue
            assert env.get(Env.BASELINE_KEY_ARN) == {"Fn::GetAtt": [keys[0], "Arn"]}, (name, lid)


def test_the_writers_statement_names_the_configured_writers(synth: Synth) -> None:
    for region in synth.config["regions"]:
        policy = KeyPolicy(synth, SERVICE_STACK.format(region=region))
        statement = next(s for s in policy.statements if s.get("Sid") == SID_WRITERS_ENCRYPT)
        assert sorted(as_list(statement["Principal"]["AWS"])) == sorted(synth.config["baselineWriters"])


@pytest.mark.parametrize("writers", [None, []])
def test_synth_refuses_a_deployment_with_no_baseline_writer(writers: list[str] | None) -> None:
    raw = {k: v for k, v in NAMED.items() if k != "baselineWriters"}
    if writers is not None:
        raw["baselineWriters"] = writers
    with pytest.raises(DeployConfigError, match="baselineWriters must name at least one"):
        parse(raw)


def test_a_writer_that_is_not_an_iam_role_or_user_is_refused() -> None:
    bad = "arn:aws:sts::123456789012:assumed-role/ci/session"
    with pytest.raises(DeployConfigError, match="baselineWriters: .* is not an IAM role or user ARN"):
        parse({**NAMED, "baselineWriters": [bad]})
