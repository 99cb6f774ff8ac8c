"""With POWERTOOLS_METRICS_DISABLED (local runs, `make bench`), the handlers print no metric line, even after
hundreds of invocations (Powertools prints a metric that reaches 100 values whatever the setting)."""

from __future__ import annotations

import pytest
from access_guard.handlers import wiring
from aws_lambda_powertools import Metrics


def test_no_metric_line_when_metrics_are_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics = Metrics(namespace="EksAccessGuard", service="eks-access-guard")
    metrics.clear_metrics()
    add = wiring.powertools_metric(metrics)
    for _ in range(250):
        add("ActionsApplied", 1, "Count")
    assert '"_aws"' not in capsys.readouterr().out
    metrics.clear_metrics()
