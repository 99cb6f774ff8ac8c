"""How the CLI shows a plan and an apply on a terminal: the core's descriptions, laid out and coloured.

Pure: the caller says whether to colour. The words come from `core.describe`, shared with the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..core.describe import ADD, CHANGE, REMOVE, describe, op_of
from ..core.describe import render_plan as describe_plan
from ..core.model import Action, Plan
from ..core.outcome import Outcome

_RESET = "\033[0m"
_COLOURS = {ADD: "\033[32m", CHANGE: "\033[33m", REMOVE: "\033[31m", "bold": "\033[1m", "dim": "\033[2m"}


def _paint(text: str, style: str, colour: bool) -> str:
    return f"{_COLOURS[style]}{text}{_RESET}" if colour else text


def render_plan(plan: Plan, *, mode: str = "enforce", colour: bool = False) -> str:
    """The plan as terraform shows one (`core.describe.render_plan`), coloured on a terminal."""
    return describe_plan(plan, mode=mode, paint=lambda text, style: _paint(text, style, colour))


class _Result(Protocol):
    """What render needs of reconciler.ActionResult (kept structural so render stays import-light)."""

    @property
    def action(self) -> Action: ...
    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> str | None: ...


def render_results(
    results: Sequence[_Result], not_attempted: Sequence[Action], *, colour: bool = False
) -> str:
    """What an apply did, one line per action: `done`, `FAILED: reason` or `not attempted`."""
    lines = []
    for result in results:
        op = op_of(result.action)
        note = getattr(result, "note", None)
        if result.ok:
            status = f"done ({note})" if note else "done"
        else:
            status = _paint(f"FAILED: {result.error or 'unknown error'}", REMOVE, colour)
        lines.append(f"  {_paint(op, op, colour)} {describe(result.action)}: {status}")
    for action in not_attempted:
        op = op_of(action)
        lines.append(
            f"  {_paint(op, op, colour)} {describe(action)}: {_paint('not attempted', 'dim', colour)}"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def render_apply_summary(
    results: Sequence[_Result], not_attempted: Sequence[Action], *, colour: bool = False
) -> str:
    done = sum(1 for r in results if r.ok)
    failed = sum(1 for r in results if not r.ok)
    text = f"Apply: {done} done, {failed} failed, {len(not_attempted)} not attempted."
    return _paint(text, "bold", colour) + "\n"


def render_outcome_notes(outcome: Outcome, *, colour: bool = False) -> str:
    """Why an apply stopped, what the safety rules held back, what waits for the next run."""
    lines = []
    if outcome.error:
        lines.append(f"Apply stopped: {outcome.error}")
    for refusal in outcome.refusals:
        lines.append(_paint(f"Refused: {refusal}", REMOVE, colour))
    for warning in outcome.warnings:
        lines.append(_paint(f"Warning: {warning}", CHANGE, colour))
    if outcome.in_progress:
        lines.append(f"In progress: {outcome.in_progress}")
    if outcome.succeeded and not outcome.reached_baseline:
        lines.append("The cluster is not at its baseline yet: see above.")
    return "\n".join(lines) + ("\n" if lines else "")
