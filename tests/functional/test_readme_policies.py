"""The README's IAM policies for an operator and an on-call engineer allow every AWS call the CLI makes:
each command is run against the local AWS while botocore's calls are recorded."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from access_guard.adapters.clients import clear_cache
from access_guard.cli.main import main

from .scenario import ADMIN, REGION, VIEW, baseline_doc, create_cluster, entry, role

README = Path(__file__).resolve().parents[2] / "README.md"


def policy(marker: str) -> list[dict[str, Any]]:
    text = README.read_text()
    block = re.search(rf"<!-- {marker} -->\s*```json\n(.*?)```", text, re.S)
    assert block, f"no {marker} block in the README"
    return list(json.loads(block.group(1))["Statement"])


def allowed(statements: list[dict[str, Any]], action: str) -> bool:
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if s["Effect"] == "Allow" and any(fnmatchcase(action.lower(), a.lower()) for a in actions):
            return True
    return False


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    made: set[str] = set()
    original = botocore.client.BaseClient._make_api_call

    def record(self: Any, operation: str, params: Any) -> Any:
        made.add(f"{self.meta.service_model.endpoint_prefix}:{operation}")
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    clear_cache()
    return made


def test_the_operator_policy_allows_every_call_of_the_operators_commands(aws: Any, tmp_path, calls) -> None:
    create_cluster("payments", mode="API", bootstrap=False)
    admins, viewer = role("admins"), role("viewer")
    path = tmp_path / "payments.json"
    doc = baseline_doc("payments", [entry(admins, (ADMIN, None)), entry(viewer, (VIEW, None))], auth="API")
    path.write_text(json.dumps(doc))
    calls.clear()  # the CLI's calls from here, not the set-up's
    cli = ["--region", REGION]
    for args in (
        ["validate", str(path)],
        ["baseline", "push", str(path)],
        ["baseline", "show", "--cluster", "payments"],
        ["baseline", "capture", "--cluster", "payments", "-o", str(tmp_path / "captured.yaml")],
        ["plan", "--cluster", "payments"],
        ["apply", "--cluster", "payments", "--yes"],
        ["baseline", "delete", "--cluster", "payments", "--yes"],
    ):
        assert main([*cli, *args]) in (0, 2), args
    statements = policy("operator-policy")
    made = {c for c in calls if not c.startswith("execute-api")}
    assert made, "no call recorded"
    assert sorted(c for c in made if not allowed(statements, c)) == []


def test_the_oncall_policy_allows_finding_the_api(aws: Any, calls) -> None:
    assert main(["--region", REGION, "breakglass", "clusters"]) == 1  # no stack: the CLI looked for it
    statements = policy("oncall-policy")
    assert calls == {"cloudformation:DescribeStacks"}
    assert all(allowed(statements, c) for c in calls)
    assert allowed(statements, "execute-api:Invoke")
