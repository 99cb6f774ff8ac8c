"""The product under the strict local world (issue 14's numbered differences), each judged by the oracle.

`Pipeline.create(strict=True)` takes AWS's pace from the CDK's own settings (core.deployment): a failed work
item returns after its queue's visibility timeout, batches run at once (a FIFO source one per message
group); the emulator's settings add Parameter Store throttling and eventual consistency.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from access_guard.adapters.eks_writer import EksWriter
from access_guard.core import deployment
from access_guard.handlers import intake as intake_handler
from access_guard.handlers import wiring

from local.runner import Pipeline

from .scenario import ADMIN, REGION, VIEW, entry, role
from .test_pipeline import CLUSTER, make_cluster, person, push


@pytest.fixture
def strict(aws: Any, endpoint: str) -> Iterator[Pipeline]:
    aws.set_eks_settings(mode_update_seconds=0.05)
    made = Pipeline.create(endpoint, region=REGION, strict=True)
    wiring.reset()
    intake_handler.reset()
    yield made
    made.stop()
    wiring.reset()
    intake_handler.reset()


@pytest.fixture
def managed(strict: Pipeline, aws: Any) -> dict[str, Any]:
    platform, oncall = role("platform", "/platform/"), role("oncall")
    make_cluster(person("alice"))
    push(strict, entry(platform, (ADMIN, None)), entry(oncall, (VIEW, ["payments"])), prune=True)
    strict.drain()
    return {"platform": platform, "oncall": oncall, "bob": person("bob")}


def principals(aws: Any) -> set[str]:
    return {p["principalArn"] for p in aws.access(CLUSTER)["principals"]}


def test_1_a_failed_work_item_returns_only_after_the_work_queues_visibility_timeout(
    managed: dict[str, Any], strict: Pipeline, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a remediation that dies before its first write, once
    write = EksWriter.write
    crashed: list[bool] = []

    def crash_once(self: EksWriter, cluster: str, action: Any) -> Any:
        if not crashed:
            crashed.append(True)
            raise RuntimeError("the Lambda died here")
        return write(self, cluster, action)

    monkeypatch.setattr(EksWriter, "write", crash_once)
    managed["bob"].client("eks").delete_access_entry(clusterName=CLUSTER, principalArn=managed["oncall"])
    strict.drain()
    assert crashed and managed["oncall"] not in principals(aws)
    # When nothing else happens, the item waits out the visibility timeout (as in AWS: 18 minutes)
    strict.drain()
    assert managed["oncall"] not in principals(aws)
    aws.advance_clock(deployment.WORK_VISIBILITY_TIMEOUT_SECONDS - 5)
    strict.drain()
    assert managed["oncall"] not in principals(aws)
    # Then it comes back once the timeout has passed, and the entry is repaired
    aws.advance_clock(10)
    strict.drain()
    assert managed["oncall"] in principals(aws)
    assert strict.dead_letters() == {"intake-dlq": 0, "work-dlq": 0}
