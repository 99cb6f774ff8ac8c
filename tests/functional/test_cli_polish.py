# ruff: noqa: F811 - `drifted` is a fixture, imported and then asked for by name
"""The CLI's small print: a replay says the cluster's real mode and refuses a file that is no event, an
error says its cause once."""

from __future__ import annotations

from typing import Any

from .test_replay import CLUSTER, drifted, run, write  # noqa: F401 - drifted: a fixture


def test_a_dry_run_replay_labels_the_clusters_own_mode(drifted, tmp_path, capsys):
    code, out, _ = run(capsys, "replay", write(tmp_path, drifted["record"]), "--dry-run")
    assert code == 0
    assert f"Cluster {CLUSTER} in us-east-1 (mode: enforce)" in out and "(mode: detect)" not in out


def test_a_replay_of_something_that_is_no_event_is_an_error(aws: Any, tmp_path, capsys):
    code, out, err = run(capsys, "replay", write(tmp_path, {}))
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and "is not an event the guard reads (malformed:" in err


def test_a_missing_baseline_is_said_once(aws: Any, capsys):
    code, _, err = run(capsys, "plan", "--cluster", "nothing-here")
    assert code == 1
    assert err.count("no baseline stored") == 1, err
