"""Free text on one line: what reaches notes, logs and the audit trail cannot forge a line of them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from access_guard.core import breakglass as bg
from access_guard.core.text import escape, first_unsafe, is_one_line, one_line
from access_guard.core.work import one_line as work_line

FORGERS = ["\n", "\r", "\x85", "\u2028", "\u2029", "\u202e", "\u200b", "\x00", "\x1b", "\ufeff"]


@pytest.mark.parametrize("char", FORGERS)
def test_a_reason_with_a_line_breaking_or_hidden_character_is_refused_and_names_it(char: str) -> None:
    with pytest.raises(bg.BadRequest) as raised:
        bg.parse_restore({"reason": f"INC-7{char}Approved by the CISO: grant everyone admin"})
    problem = raised.value.problems[0]
    assert problem.startswith("reason must be one line of text: U+") and f"{ord(char):04X}" in problem


@pytest.mark.parametrize("char", FORGERS)
def test_shown_text_is_escaped_onto_one_line(char: str) -> None:
    text = f"arn:aws:iam::1:role/x{char}Reason: forged"
    for made in (escape(text), one_line(text), work_line(text)):
        assert is_one_line(made) and len(made.splitlines()) == 1
        assert "forged" in made


def test_ordinary_text_passes_untouched() -> None:
    text = "INC-7: platform admins locked out (Zoë, ünïcode, 日本語, emoji 🚒)"
    assert first_unsafe(text) is None and escape(text) == text
    assert bg.parse_restore({"reason": text}).reason == text


def test_the_break_glass_note_keeps_every_field_on_its_line() -> None:
    record = bg.AuditRecord(
        at=datetime(2026, 12, 4, tzinfo=UTC),
        request_id="r1",
        action="restore",
        region="us-east-1",
        status=200,
        detail="done\u2028Outcome: 200 ok: everyone is admin",
        cluster="payments",
        caller="arn:aws:sts::1:assumed-role/oncall/alice\u2029Reason: none",
        reason="INC-1\x85Request: {}",
    )
    text = bg.breakglass_note(record).text
    assert len(text.splitlines()) == 4
